// The API server fails under a running operator:
// it is killed and comes back, another writer races the operator's writes on
// the same Environment, and the CRD is missing when the operator starts.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "api/v1alpha1/resources.h"
#include "e2e/environments.h"
#include "e2e/harness.h"
#include "e2e/operator_process.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"
#include "rapidjson/document.h"
#include "rapidjson/writer.h"

namespace e2e {
namespace {

using namespace kube::resources;

const std::string kCtl = SOURCE_ROOT "/scripts/cluster-ctl.sh";

bool IsReady(const OperatorProcess& op) { return op.Get("/readyz") == "ok\n 200"; }

// The log lines (JSON objects, one per line) that contain every needle.
std::vector<std::string> LogLines(const std::string& log,
                                  std::initializer_list<absl::string_view> needles) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    bool all = !line.empty();
    for (absl::string_view n : needles) all = all && absl::StrContains(line, n);
    if (all) out.emplace_back(line);
  }
  return out;
}

class ApiFaultE2E : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(Kubectl({"apply", "-f", SOURCE_ROOT "/crds/"}).ok()); }
};

// Fault 1: kube-apiserver SIGKILLed mid-watch, restarted 10 s later.
TEST_F(ApiFaultE2E, ApiServerKilledAndRestartedTenSecondsLaterIsRidOut) {
  TestNamespace ns("apikill");
  OperatorProcess op("apikill", 28160);
  op.Start();
  ASSERT_TRUE(StartScenario(ns.name(), absl::Seconds(120)));
  ASSERT_TRUE(WaitFor(absl::Seconds(30), [&] { return IsReady(op); })) << op.Get("/readyz");

  const absl::Time killed = absl::Now();
  ASSERT_EQ(std::system((kCtl + " kill kube-apiserver").c_str()), 0);
  // Unready once no watch has been up for the informers' stale_after (10 s).
  EXPECT_TRUE(WaitFor(absl::Seconds(40), [&] {
    return absl::StartsWith(op.Get("/readyz"), "a watch is stale\n 503");
  })) << op.Get("/readyz");
  const absl::Duration unready_after = absl::Now() - killed;
  // The fault's schedule, not a synchronisation: down for at least 10 s.
  WaitFor(absl::Seconds(15), [&] { return absl::Now() - killed >= absl::Seconds(10); });
  ASSERT_EQ(std::system((kCtl + " start kube-apiserver").c_str()), 0);
  ASSERT_TRUE(WaitFor(absl::Seconds(90), [] {
    auto ready = Kubectl({"get", "--raw", "/readyz"});
    return ready.ok() && absl::StripAsciiWhitespace(*ready) == "ok";
  })) << "the API server did not come back";

  // Every change made after the restart is reconciled.
  ChangeScenario(ns.name());
  EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] { return IsReady(op); })) << op.Get("/readyz");
  const absl::Time changed = absl::Now();
  EXPECT_TRUE(WaitFor(absl::Seconds(120), [&] { return ScenarioConverged(ns.name()); }));
  RecordProperty("changes_reconciled_seconds",
                 absl::StrCat(absl::ToInt64Seconds(absl::Now() - changed)));
  // It backed off (and said so) rather than crash or spin.
  EXPECT_EQ(op.Wait(absl::ZeroDuration()), -1) << "the operator exited";
  EXPECT_FALSE(LogLines(op.Log(), {"retrying after backoff", R"("level":"warn")"}).empty());
  ExpectCleanShutdown(op);
  RecordProperty("unready_after_ms", absl::StrCat(absl::ToInt64Milliseconds(unready_after)));
  EXPECT_TRUE(WaitForControllers(absl::Seconds(120)));
}

// Fault 4: another writer (kubectl edit, the platform) replaces the
// Environment again and again while the operator reconciles it.
TEST_F(ApiFaultE2E, ExternalEditsDuringReconcilesLoseNoStatusAndSpamNoConflicts) {
  TestNamespace ns("race");
  OperatorProcess op("race", 28170);
  op.Start();
  CreateEnv(ns.name(), "env", "1000000");
  // Read-modify-write PUTs guarded by resourceVersion, as kubectl edit does:
  // an annotation each round, a new commit every 8th. The editor's own 409s
  // (the operator wrote in between) are retried like kubectl would.
  int editor_conflicts = 0;
  std::string sha = "1000000";
  for (int round = 1; round <= 40; ++round) {
    if (round % 8 == 0) sha = absl::StrCat(1000000 + round);
    for (int attempt = 0;; ++attempt) {
      ASSERT_LT(attempt, 50) << "round " << round;
      auto cur = Admin().Get(v1alpha1::kEnvironments, ns.name(), "env");
      ASSERT_TRUE(cur.ok()) << cur.status();
      rapidjson::Document doc;
      doc.Parse(cur->Serialize().c_str());
      auto& a = doc.GetAllocator();
      rapidjson::Value& meta = doc["metadata"];
      if (!meta.HasMember("annotations"))
        meta.AddMember("annotations", rapidjson::Value(rapidjson::kObjectType), a);
      const std::string key = absl::StrCat("e2e.catalyst.dev/edit-", round);
      meta["annotations"].AddMember(rapidjson::Value(key.c_str(), a), rapidjson::Value("yes"), a);
      doc["spec"]["sources"][0]["commitSha"].SetString(sha.c_str(), a);
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w(buf);
      doc.Accept(w);
      auto put = Admin().Update(v1alpha1::kEnvironments, ns.name(), "env", buf.GetString());
      if (put.ok()) break;
      ASSERT_TRUE(kube::apierrors::IsConflict(put.status())) << put.status();
      ++editor_conflicts;
    }
  }
  // The status ends describing the last spec, Ready; nothing of the editor's is lost.
  EXPECT_TRUE(WaitFor(absl::Seconds(120), [&] { return ReadyAt(ns.name(), "env", sha); }));
  auto env = Admin().Get(v1alpha1::kEnvironments, ns.name(), "env");
  ASSERT_TRUE(env.ok()) << env.status();
  for (int round = 1; round <= 40; ++round)
    EXPECT_EQ(env->Annotation(absl::StrCat("e2e.catalyst.dev/edit-", round)), "yes") << round;
  const rapidjson::Value* conds = env->Find({"status", "conditions"});
  ASSERT_TRUE(conds && conds->IsArray());
  std::set<std::string> types;
  for (const auto& c : conds->GetArray()) {
    // The seed-era spec names a Project "p" that does not exist and carries
    // its own repository: it goes ahead, saying so (docs/contract.md).
    const bool project = kube::StrOf(kube::Member(c, "type")) == "ProjectResolved";
    EXPECT_EQ(std::string(kube::StrOf(kube::Member(c, "status"))), project ? "False" : "True")
        << env->Serialize();
    EXPECT_EQ(kube::Member(c, "observedGeneration")->GetInt64(), env->Generation());
    types.emplace(kube::StrOf(kube::Member(c, "type")));
  }
  EXPECT_EQ(types, (std::set<std::string>{"ProjectResolved", "NamespaceReady", "PostgresReady",
                                          "WebReady", "Ready"}));
  // 409s are routine: retried at debug level, never a warning or an error.
  const std::string log = op.Log();
  for (absl::string_view level : {R"("level":"warn")", R"("level":"error")"}) {
    EXPECT_TRUE(LogLines(log, {level, "onflict"}).empty()) << log;
    EXPECT_TRUE(LogLines(log, {level, "409"}).empty()) << log;
  }
  ExpectCleanShutdown(op);
  RecordProperty("editor_conflicts", editor_conflicts);
}

// A kube-apiserver of the test's own on the shared etcd under a fresh key
// prefix: an empty cluster without the CRD, while the shared one keeps it for
// the other tests. Same flags as the shared one (scripts/cluster-ctl.sh keeps
// them), another port, its own audit log.
class PrivateApiServer {
 public:
  PrivateApiServer() {
    std::ifstream cmd(ClusterDir() + "/kube-apiserver.cmd");
    std::stringstream all;
    all << cmd.rdbuf();
    for (absl::string_view arg : absl::StrSplit(all.str(), '\0', absl::SkipEmpty()))
      args_.emplace_back(arg);
    // The shared server's port, from the admin kubeconfig; ours is 50 above.
    std::ifstream kc(KubeconfigPath());
    std::stringstream kcs;
    kcs << kc.rdbuf();
    std::smatch m;
    const std::string text = kcs.str();
    if (!std::regex_search(text, m, std::regex(R"(server: https://127\.0\.0\.1:(\d+))"))) return;
    port_ = std::stoi(m[1]) + 50;
    const std::string dir = ClusterDir();
    const std::string prefix = absl::StrCat("/e2e-nocrd-", absl::Uniform<uint32_t>(absl::BitGen()));
    args_.push_back(absl::StrCat("--secure-port=", port_));
    args_.push_back("--etcd-prefix=" + prefix);
    args_.push_back("--audit-log-path=" + dir + "/audit-nocrd.log");
    kubeconfig_ = dir + "/kubeconfig-nocrd";
    std::ofstream(kubeconfig_) << std::regex_replace(
        text, std::regex(R"(server: https://127\.0\.0\.1:\d+)"),
        absl::StrCat("server: https://127.0.0.1:", port_));
    log_ = dir + "/kube-apiserver-nocrd.log";
    // Everything the child needs is made before fork (only async-signal-safe calls after it).
    std::vector<char*> argv;
    for (auto& a : args_) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      setsid();
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fd);
  }
  ~PrivateApiServer() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  bool Started() const { return pid_ > 0 && port_ > 0; }
  const std::string& kubeconfig() const { return kubeconfig_; }
  absl::StatusOr<std::string> Kubectl(const std::string& args) const {
    std::string out;
    const int rc = RunCommand(absl::StrCat("kubectl --kubeconfig ", kubeconfig_, " ", args), &out);
    if (rc != 0) return absl::UnknownError(out);
    return out;
  }
  std::string Log() const {
    std::ifstream f(log_);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }

 private:
  std::vector<std::string> args_;
  std::string kubeconfig_, log_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// Fault 8: the CRD is missing at start. The operator must name it at error
// level, stay unready and keep retrying; once the CRD is applied it gets on
// with the work.
TEST_F(ApiFaultE2E, MissingCrdAtStartIsReportedByNameAndPickedUpOnceInstalled) {
  PrivateApiServer server;
  ASSERT_TRUE(server.Started());
  ASSERT_TRUE(WaitFor(absl::Seconds(60), [&] {
    auto r = server.Kubectl("get --raw /readyz");
    return r.ok() && absl::StripAsciiWhitespace(*r) == "ok";
  })) << server.Log().substr(0, 4000);

  OperatorProcess op("nocrd", 28180, {}, server.kubeconfig());
  op.Start();
  EXPECT_TRUE(WaitFor(absl::Seconds(30), [&] {
    return !LogLines(op.Log(),
                     {R"("level":"error")", "does not serve environments.catalyst.catalyst.dev",
                      "is its CustomResourceDefinition installed?"})
                .empty();
  })) << op.Log();
  // Unready (once the probe port answers: " 000" is no answer), alive.
  std::string readyz;
  EXPECT_TRUE(WaitFor(absl::Seconds(10), [&] {
    readyz = op.Get("/readyz");
    return !absl::StartsWith(readyz, " 000");
  }));
  EXPECT_TRUE(absl::StartsWith(readyz, "caches not synced\n 503")) << readyz;
  EXPECT_EQ(op.Get("/healthz"), "ok\n 200");

  ASSERT_TRUE(server.Kubectl("apply -f " SOURCE_ROOT "/crds/").ok());
  // The reflector's backoff is capped at 30 s.
  EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] { return IsReady(op); })) << op.Get("/readyz");
  ASSERT_TRUE(server.Kubectl("create namespace team").ok());
  ASSERT_TRUE(server
                  .Kubectl("-n team create -f - <<'EOF'\n"
                           "apiVersion: catalyst.catalyst.dev/v1alpha1\n"
                           "kind: Environment\n"
                           "metadata: {name: late}\n"
                           "spec: {type: deployment, config: {image: app}}\n"
                           "EOF")
                  .ok());
  // No controller-manager behind this server, so Deployments never get
  // ready: the Environment's namespace and a phase are the proof of work.
  EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] {
    auto phase = server.Kubectl("-n team get environment late -o jsonpath={.status.phase}");
    auto target = server.Kubectl("get namespace team-late -o name");
    return phase.ok() && !phase->empty() && target.ok();
  })) << op.Log();
  ExpectCleanShutdown(op);
}

namespace write_once {

// The operator's writes (create, update, patch, delete) in the API server's
// audit log at or after `since`, from the User-Agent holding `identity`, to
// what the test owns (namespaces and objects whose namespace or name starts
// with `prefix`; the shared operator also finalizes other tests' leftovers):
// "<verb> <resource>[/<subresource>] <namespace>/<name>".
std::vector<std::string> Writes(const std::string& identity, absl::Time since,
                                const std::string& prefix) {
  std::vector<std::string> out;
  std::ifstream audit(ClusterDir() + "/audit.log");
  for (std::string line; std::getline(audit, line);) {
    if (!absl::StrContains(line, identity)) continue;
    auto ev = kube::Object::Parse(line);
    if (!ev.ok()) continue;
    absl::Time at;
    if (!absl::ParseTime(absl::RFC3339_full, ev->Str({"requestReceivedTimestamp"}), &at, nullptr) ||
        at < since)
      continue;
    const absl::string_view verb = ev->Str({"verb"});
    if (verb != "create" && verb != "update" && verb != "patch" && verb != "delete") continue;
    if (!absl::StartsWith(ev->Str({"objectRef", "namespace"}), prefix) &&
        !absl::StartsWith(ev->Str({"objectRef", "name"}), prefix))
      continue;
    const absl::string_view sub = ev->Str({"objectRef", "subresource"});
    out.push_back(absl::StrCat(
        verb, " ", ev->Str({"objectRef", "resource"}), sub.empty() ? "" : "/", sub, " ",
        ev->Str({"objectRef", "namespace"}), "/", ev->Str({"objectRef", "name"})));
  }
  return out;
}

// The identity the operator's last start logged (its User-Agent carries it).
std::string Identity(const OperatorProcess& op) {
  const std::string log = op.Log();
  const size_t at = log.rfind("\"identity\":\"");
  if (at == std::string::npos) return "";
  return log.substr(at + 12, log.find('"', at + 12) - at - 12);
}

// Events of reason `reason` on Environment ns/name.
int Events(const std::string& ns, const std::string& name, const std::string& reason) {
  auto list = Admin().List(kEvents, ns, {.field_selector = "involvedObject.name=" + name});
  int n = 0;
  if (list.ok())
    for (const kube::Object& e : list->items)
      if (e.Str({"reason"}) == reason) ++n;
  return n;
}

}  // namespace write_once

// docs/reliability.md, "Write once": the sequence the seeded soak found —
// spec edits to two Ready Environments, the operator SIGKILLed and restarted
// twice, then the API server SIGKILLed ~2.5 s later and restarted (its watch
// cache starts anew: the resumed watches relist, seconds after the writes
// they should have delivered). Each Environment announces Ready once for its
// new spec, and once everything is settled the operator writes nothing.
TEST_F(ApiFaultE2E, AfterAWatchBreakEachTransitionIsWrittenOnceAndASettledOperatorWritesNothing) {
  using namespace write_once;
  TestNamespace ns("writeonce");
  OperatorProcess op("writeonce", 28170);
  op.Start();
  ASSERT_TRUE(StartScenario(ns.name(), absl::Seconds(120)));
  SetSha(ns.name(), "keep", "ddddddd");
  SetSha(ns.name(), "gone", "ddddddd");
  for (int i = 0; i < 2; ++i) {
    op.Signal(SIGKILL);
    op.Wait(absl::Seconds(10));
    op.Start();
    ASSERT_TRUE(WaitFor(absl::Seconds(30), [&] { return IsReady(op); })) << op.Get("/readyz");
  }
  // The fault's schedule, not a synchronisation: the API server dies ~2.5 s later.
  const absl::Time restarted = absl::Now();
  WaitFor(absl::Seconds(5), [&] { return absl::Now() - restarted >= absl::Milliseconds(2500); });
  ASSERT_EQ(std::system((kCtl + " kill kube-apiserver").c_str()), 0);
  // Back as soon as its port is free again (a killed server's socket can linger).
  ASSERT_TRUE(WaitFor(absl::Seconds(30), [] {
    return !Kubectl({"get", "--raw", "/readyz"}).ok();
  }));
  ASSERT_TRUE(WaitFor(absl::Seconds(90), [] {
    if (std::system((kCtl + " start kube-apiserver >/dev/null 2>&1").c_str()) != 0) return false;
    return WaitFor(absl::Seconds(20), [] {
      auto ready = Kubectl({"get", "--raw", "/readyz"});
      return ready.ok() && absl::StripAsciiWhitespace(*ready) == "ok";
    });
  })) << "the API server did not come back";
  ASSERT_TRUE(WaitFor(absl::Seconds(120), [&] {
    return ReadyAt(ns.name(), "keep", "ddddddd") && ReadyAt(ns.name(), "gone", "ddddddd");
  }));
  EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] { return IsReady(op); })) << op.Get("/readyz");
  // Settled: every informer caught up (a relist after the restart included).
  const std::string identity = Identity(op);
  ASSERT_FALSE(identity.empty());
  const absl::Time settled = absl::Now();
  // Three resyncs (5 s) and the relist's aftermath: nothing to write.
  WaitFor(absl::Seconds(20), [&] { return absl::Now() - settled >= absl::Seconds(15); });
  const std::vector<std::string> writes = Writes(identity, settled, ns.name());
  EXPECT_TRUE(writes.empty()) << absl::StrJoin(writes, "\n");
  // Ready said once per Environment for the new spec (a kill between the
  // status write and the Event may leave it unsaid; never said twice). The
  // first Ready (the original spec) is the other one.
  for (const char* name : {"keep", "gone"}) EXPECT_LE(Events(ns.name(), name, "Ready"), 2) << name;
  ExpectCleanShutdown(op);
  EXPECT_TRUE(WaitForControllers(absl::Seconds(120)));
}

}  // namespace
}  // namespace e2e
