// The Catalyst web app's two endpoints end to end (docs/contract.md, "Private
// repositories and the team's secrets"), against tests/webapp/standin.py, which
// implements them as the web app does (TokenReview against this control plane,
// namespace labels -> Project -> installation id, status codes, content types)
// and serves a private git repository that takes only its own tokens.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/v1alpha1/resources.h"
#include "e2e/catalyst_client.h"
#include "e2e/environments.h"
#include "e2e/harness.h"
#include "e2e/operator_process.h"
#include "e2e/webapp_standin.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"

namespace e2e {
namespace {

using namespace kube::resources;
namespace fs = std::filesystem;
using Secrets = std::map<std::string, std::map<std::string, std::string>>;

constexpr absl::Duration kReady = absl::Seconds(180);

// Runs argv with exactly env; its exit code and what it printed (stdout and stderr).
int Exec(const std::vector<std::string>& argv, const std::vector<std::string>& env,
         std::string* out) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    std::vector<char*> a, e;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    for (const auto& s : env) e.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    e.push_back(nullptr);
    execve(a[0], a.data(), e.data());
    _exit(127);
  }
  close(fds[1]);
  char buf[4096];
  ssize_t n;
  out->clear();
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out->append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class WebAppE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/e2e-webapp.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // A private repository: only the stand-in's tokens read it.
    std::string out;
    const std::string git = "git -c user.email=t@t -c user.name=t -c init.defaultBranch=main";
    ASSERT_EQ(RunCommand(absl::StrCat("set -e; mkdir -p ", dir_, "/git ", dir_, "/work; cd ", dir_,
                                      "/work; ", git, " init -q; echo private > README; ", git,
                                      " add README; ", git, " commit -qm one; ", git,
                                      " clone -q --bare . ", dir_, "/git/app.git 2>&1"),
                         &out),
              0)
        << out;
    SetSecrets({});
    StartWebApp(0);
    StartSuiteOperator(&op_, "webapp", 28280,
                       {absl::StrCat("--web-url=http://127.0.0.1:", port_), "--secrets-refresh=3s",
                        // The stand-in serves git too, on its own port: the platform allows it.
                        absl::StrCat("--git-ports=443,", port_)});
  }
  static void TearDownTestSuite() {
    const std::string log = StopSuiteOperator(&op_);
    for (const std::string& value : written_)
      EXPECT_FALSE(absl::StrContains(log, value)) << "a secret value in the operator's log";
    StopWebApp();
    fs::remove_all(dir_);
  }

  // The stand-in on port (0: any); port_ is where it listens.
  static void StartWebApp(int port) {
    const absl::Status s =
        webapp_.Start(port, {"--git-root", dir_ + "/git", "--secrets-file", dir_ + "/secrets.json"},
                      dir_ + "/webapp.log");
    ASSERT_TRUE(s.ok()) << s;
    port_ = webapp_.port();
  }
  static void StopWebApp() { webapp_.Stop(); }

  // What the web app answers from now on (its file is read on every request).
  static void SetSecrets(const Secrets& all) {
    std::string json = "{";
    for (const auto& [id, kv] : all) {
      absl::StrAppend(&json, json.size() > 1 ? "," : "", "\"", id, "\":{");
      bool first = true;
      for (const auto& [k, v] : kv) {
        absl::StrAppend(&json, first ? "" : ",", "\"", k, "\":\"", v, "\"");
        first = false;
        written_.push_back(v);
      }
      json += "}";
    }
    json += "}";
    std::ofstream(dir_ + "/secrets.json.tmp") << json;
    fs::rename(dir_ + "/secrets.json.tmp", dir_ + "/secrets.json");
  }

  // The target namespace, once the operator has reported it.
  static std::string TargetNs(const testing_support::EnvironmentFields& e) {
    return TargetNamespace(e.ns, e.name);
  }
  static bool Ready(const testing_support::EnvironmentFields& e) {
    return Phase(e.ns, e.name) == "Ready";
  }
  // Secret catalyst-secrets, decoded; empty if absent.
  static std::map<std::string, std::string> TeamSecret(const std::string& ns) {
    std::map<std::string, std::string> out;
    auto s = Admin().Get(kSecrets, ns, "catalyst-secrets");
    if (!s.ok()) return out;
    if (const auto* data = s->Find({"data"}); data && data->IsObject())
      for (const auto& m : data->GetObject()) {
        std::string v;
        absl::Base64Unescape(kube::StrOf(&m.value), &v);
        out[std::string(kube::StrOf(&m.name))] = v;
      }
    return out;
  }

  static inline std::string dir_;
  static inline int port_ = 0;
  static inline WebAppStandin webapp_;
  static inline std::unique_ptr<OperatorProcess> op_;
  static inline std::vector<std::string> written_;
};

TEST_F(WebAppE2E, TheTeamsSecretsFollowTheWebAppAndGoWithTheAnnotation) {
  Team t("wa-" + Random());
  SyncProject(t.Project());
  const auto e = t.Environment("dev-secrets");
  const std::string id = "env-" + Random(), r = Random();
  SetSecrets(
      {{id, {{"API_KEY", "s3cr3t-one-" + r}, {"DATABASE_URL", "postgres://u:pw-" + r + "@db/x"}}}});
  CreateEnvironment(e, id);
  ASSERT_TRUE(WaitFor(kReady, [&] { return Ready(e); })) << GetEnv(e.ns, e.name).Serialize();
  const std::string ns = TargetNs(e);
  ASSERT_TRUE(WaitFor(absl::Seconds(30), [&] {
    return TeamSecret(ns) ==
           std::map<std::string, std::string>{{"API_KEY", "s3cr3t-one-" + r},
                                              {"DATABASE_URL", "postgres://u:pw-" + r + "@db/x"}};
  }));
  EXPECT_TRUE(WaitFor(absl::Seconds(30), [&] {
    return absl::StartsWith(Condition(GetEnv(e.ns, e.name), "SecretsSynced"), "True/Synced/");
  })) << Condition(GetEnv(e.ns, e.name), "SecretsSynced");
  auto web = [&] { return Admin().Get(kDeployments, ns, "web"); };
  auto hash = [&] {
    auto d = web();
    return d.ok() ? std::string(d->Str({"spec", "template", "metadata", "annotations",
                                        "catalyst.dev/secrets-hash"}))
                  : "";
  };
  std::string first;
  ASSERT_TRUE(WaitFor(absl::Seconds(30), [&] { return !(first = hash()).empty(); }));
  EXPECT_TRUE(absl::StrContains(
      web()->Serialize(),
      R"("envFrom":[{"secretRef":{"name":"catalyst-secrets","optional":true}}])"));
  const int64_t generation = web()->Generation();

  // A changed value and a removed key: the Secret follows, the pods roll once.
  SetSecrets({{id, {{"API_KEY", "s3cr3t-two-" + r}}}});
  ASSERT_TRUE(WaitFor(absl::Seconds(30), [&] {
    return TeamSecret(ns) == std::map<std::string, std::string>{{"API_KEY", "s3cr3t-two-" + r}};
  })) << absl::StrJoin(TeamSecret(ns), ",", absl::PairFormatter("="));
  ASSERT_TRUE(WaitFor(absl::Seconds(30), [&] { return hash() != first; }));
  const double fetches = op_->SumMetric("kube_operator_secrets_fetches_total");
  ASSERT_TRUE(WaitFor(absl::Seconds(30), [&] {
    return op_->SumMetric("kube_operator_secrets_fetches_total") >= fetches + 3;
  }));
  EXPECT_EQ(web()->Generation(), generation + 1) << "one rollout per change";

  // The annotation goes: so do the Secret and the pods' reference to it.
  ASSERT_TRUE(Admin()
                  .Patch(v1alpha1::kEnvironments, e.ns, e.name, kube::PatchType::kMerge,
                         R"({"metadata":{"annotations":{"catalyst.dev/environment-id":null}}})")
                  .ok());
  EXPECT_TRUE(WaitFor(absl::Seconds(30), [&] {
    return kube::apierrors::IsNotFound(Admin().Get(kSecrets, ns, "catalyst-secrets").status());
  }));
  EXPECT_TRUE(WaitFor(absl::Seconds(30),
                      [&] { return !absl::StrContains(web()->Serialize(), "envFrom"); }));

  // No value in the Environment, its Events or any pod template.
  std::string events;
  RunCommand("kubectl --kubeconfig " + KubeconfigPath() + " get events -A -o json", &events);
  for (const std::string& where : {GetEnv(e.ns, e.name).Serialize(), web()->Serialize(), events})
    for (const std::string& v : {"s3cr3t-one-" + r, "s3cr3t-two-" + r, "pw-" + r})
      EXPECT_FALSE(absl::StrContains(where, v)) << v;
}

// The web app down: SecretsSynced says so, the Environment stays Ready and keeps
// its Secret, others are built as fast as with the web app up (measured, printed),
// and once it is back the secrets are synced again within a refresh.
TEST_F(WebAppE2E, AWebAppThatIsDownDelaysNothingAndIsCaughtUpWith) {
  Team t("wa-down-" + Random());
  SyncProject(t.Project());
  const auto e = t.Environment("dev-down");
  const std::string id = "env-" + Random(), r = Random();
  SetSecrets({{id, {{"K", "v-" + r}}}});
  CreateEnvironment(e, id);
  ASSERT_TRUE(WaitFor(kReady, [&] { return Ready(e); }));
  const std::string ns = TargetNs(e);
  ASSERT_TRUE(WaitFor(absl::Seconds(30), [&] { return TeamSecret(ns).size() == 1; }));

  // A batch of Environments (each with an id the web app must be asked about).
  auto batch = [&](const std::string& prefix, int n) {
    const absl::Time t0 = absl::Now();
    std::vector<testing_support::EnvironmentFields> envs;
    for (int i = 0; i < n; ++i) {
      envs.push_back(t.Environment(absl::StrCat(prefix, "-", i)));
      CreateEnvironment(envs.back(), "env-" + Random());
    }
    EXPECT_TRUE(WaitFor(absl::Seconds(600), [&] {
      return std::all_of(envs.begin(), envs.end(), [](const auto& x) { return Ready(x); });
    }));
    return absl::Now() - t0;
  };
  constexpr int kBatch = 25;
  const absl::Duration up = batch("dev-up", kBatch);

  const int port = port_;
  StopWebApp();
  EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] {
    return absl::StartsWith(Condition(GetEnv(e.ns, e.name), "SecretsSynced"),
                            "False/WebAppUnreachable/");
  })) << Condition(GetEnv(e.ns, e.name), "SecretsSynced");
  const absl::Duration down = batch("dev-dn", kBatch);
  std::printf(
      "[ figures  ] %d Environments Ready in %.1f s with the web app up, %.1f s with it down\n",
      kBatch, absl::ToDoubleSeconds(up), absl::ToDoubleSeconds(down));
  EXPECT_EQ(Phase(e.ns, e.name), "Ready");
  EXPECT_EQ(TeamSecret(ns), (std::map<std::string, std::string>{{"K", "v-" + r}}))
      << "the last good Secret stays";

  StartWebApp(port);
  EXPECT_TRUE(WaitFor(absl::Seconds(30), [&] {
    return absl::StartsWith(Condition(GetEnv(e.ns, e.name), "SecretsSynced"), "True/");
  })) << Condition(GetEnv(e.ns, e.name), "SecretsSynced");
}

// git-clone of a private repository, as the init container runs it: its own
// command and environment from the web Deployment the operator made, with a
// projected-style token of the environment namespace's ServiceAccount minted
// by the TokenRequest API.
TEST_F(WebAppE2E, APrivateRepositoryClonesWithTheWebAppsToken) {
  Team t("wa-git-" + Random());
  SyncProject(t.Project(absl::StrCat("http://127.0.0.1:", port_, "/git/app.git")));
  const auto e = t.Environment("dev-clone");
  CreateEnvironment(e, "env-" + Random());
  const std::string ns = TargetNs(e);
  ASSERT_FALSE(ns.empty());
  absl::StatusOr<kube::Object> web;
  ASSERT_TRUE(WaitFor(absl::Seconds(120),
                      [&] { return (web = Admin().Get(kDeployments, ns, "web")).ok(); }));
  // The namespace carries what the web app's check reads.
  auto namespace_object = Admin().Get(kNamespaces, "", ns);
  ASSERT_TRUE(namespace_object.ok());
  EXPECT_EQ(namespace_object->Label("catalyst.dev/team"), t.team_ns.name());
  EXPECT_EQ(namespace_object->Label("catalyst.dev/project"), t.ProjectName());

  const auto* inits = web->Find({"spec", "template", "spec", "initContainers"});
  ASSERT_TRUE(inits && inits->IsArray());
  std::vector<std::string> argv, env;
  for (const auto& c : inits->GetArray()) {
    if (kube::StrOf(kube::Member(c, "name")) != "git-clone") continue;
    for (const auto& a : kube::Member(c, "command")->GetArray()) argv.emplace_back(kube::StrOf(&a));
    for (const auto& v : kube::Member(c, "env")->GetArray())
      env.push_back(absl::StrCat(kube::StrOf(kube::Member(v, "name")), "=",
                                 kube::StrOf(kube::Member(v, "value"))));
    const std::string mounts = kube::Object::Copy(*kube::Member(c, "volumeMounts")).Serialize();
    EXPECT_TRUE(absl::StrContains(mounts, R"("mountPath":"/var/run/secrets/catalyst/git")"));
  }
  ASSERT_EQ(argv.size(), 8u) << "sh -c <script> git-clone <url> <branch> <sha> <dest>";
  const std::string spec = web->Serialize();
  EXPECT_TRUE(absl::StrContains(
      spec,
      R"("projected":{"sources":[{"serviceAccountToken":{"expirationSeconds":600,"path":"token"}})"));
  EXPECT_TRUE(absl::StrContains(spec, R"("automountServiceAccountToken":false)"));
  // Only git-clone mounts the token.
  const std::string mount = R"("mountPath":"/var/run/secrets/catalyst/git")";
  EXPECT_EQ(spec.find(mount), spec.rfind(mount));

  const std::string token = ServiceAccountToken(ns, "default", absl::Minutes(10));
  ASSERT_FALSE(token.empty());
  const std::string token_file = dir_ + "/token-" + ns;
  std::ofstream(token_file) << token;
  argv[0] = "/bin/sh";
  auto run = [&](const std::string& dest, const std::vector<std::string>& overrides,
                 std::string* out) {
    std::vector<std::string> a = argv, envp = {"PATH=/usr/bin:/bin", "HOME=" + dir_};
    a[7] = dest;
    for (const std::string& v : env)
      if (!absl::StartsWith(v, "CATALYST_TOKEN_FILE=")) envp.push_back(v);
    envp.push_back("CATALYST_TOKEN_FILE=" + token_file);
    for (const std::string& o : overrides) envp.push_back(o);  // a later one wins
    const int rc = Exec(a, envp, out);
    EXPECT_FALSE(absl::StrContains(*out, token)) << "the ServiceAccount token in the output";
    EXPECT_FALSE(absl::StrContains(*out, "password=")) << *out;
    return rc;
  };
  std::string out;
  ASSERT_EQ(run(dir_ + "/clone-ok", {}, &out), 0) << out;
  EXPECT_TRUE(fs::exists(dir_ + "/clone-ok/README"));

  // Without the helper's token the repository is closed.
  std::string anonymous;
  EXPECT_NE(RunCommand(absl::StrCat("GIT_TERMINAL_PROMPT=0 git clone -q http://127.0.0.1:", port_,
                                    "/git/app.git ", dir_, "/clone-anon 2>&1"),
                       &anonymous),
            0);

  // Each refusal names the step and the cause.
  EXPECT_NE(run(dir_ + "/clone-403", {"CATALYST_INSTALLATION_ID=999"}, &out), 0);
  EXPECT_TRUE(absl::StrContains(out, "git-clone: git token for installation 999:")) << out;
  EXPECT_TRUE(absl::StrContains(out, "HTTP 403")) << out;
  EXPECT_NE(run(dir_ + "/clone-pat", {"CATALYST_INSTALLATION_ID=pat"}, &out), 0);
  EXPECT_TRUE(absl::StrContains(out, "HTTP 403") || absl::StrContains(out, "HTTP 404")) << out;
  EXPECT_NE(run(dir_ + "/clone-down", {"CATALYST_WEB_URL=http://127.0.0.1:9"}, &out), 0);
  EXPECT_TRUE(absl::StrContains(out, "is unreachable")) << out;
}

}  // namespace
}  // namespace e2e
