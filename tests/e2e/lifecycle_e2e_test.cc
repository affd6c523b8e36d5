// Lifecycle correctness on the real control plane: nothing leaked, nothing
// flapping, secrets kept secret (docs/reliability.md, "Lifecycle").
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/v1alpha1/resources.h"
#include "e2e/environments.h"
#include "e2e/harness.h"
#include "e2e/operator_process.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"

namespace e2e {
namespace {

using namespace kube::resources;

constexpr absl::Duration kSettle = absl::Seconds(90);

std::string ReadyReason(const kube::Object& env) {
  const auto* conds = env ? env.Find({"status", "conditions"}) : nullptr;
  if (!conds || !conds->IsArray()) return "";
  for (const auto& c : conds->GetArray())
    if (kube::StrOf(kube::Member(c, "type")) == "Ready")
      return absl::StrCat(kube::StrOf(kube::Member(c, "reason")), ": ",
                          kube::StrOf(kube::Member(c, "message")));
  return "";
}

// Gone, or going (the namespace controller finishes it).
bool NamespaceGoneOrGoing(const std::string& name) {
  auto ns = Admin().Get(kNamespaces, "", name);
  return kube::apierrors::IsNotFound(ns.status()) || (ns.ok() && ns->Deleting());
}

std::string Hierarchy(absl::string_view team, absl::string_view project, absl::string_view env) {
  return absl::StrCat(R"({"catalyst.dev/team":")", team, R"(","catalyst.dev/project":")", project,
                      R"(","catalyst.dev/environment":")", env, R"("})");
}

void CreateWithLabels(const std::string& ns, const std::string& name, const std::string& labels,
                      absl::string_view sha = "a1b2c3d") {
  auto s = Admin().Create(
      v1alpha1::kEnvironments, ns,
      absl::StrCat(R"({"apiVersion":"catalyst.catalyst.dev/v1alpha1","kind":"Environment",)",
                   R"("metadata":{"name":")", name, R"(","labels":)", labels, R"(},"spec":)",
                   DevSpec(sha), "}"));
  ASSERT_TRUE(s.ok()) << s.status();
}

class LifecycleE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { StartSuiteOperator(&op_, "lifecycle", 28200); }
  static void TearDownTestSuite() { StopSuiteOperator(&op_); }
  static inline std::unique_ptr<OperatorProcess> op_;
};

// Deleted right after it was created, before its namespace reached the
// operator's cache: the namespace is still deleted (the operator asks the API
// server instead of trusting the cache's "not there").
TEST_F(LifecycleE2E, CreateThenDeleteLeaksNoNamespace) {
  TestNamespace ns("lc-quick");
  constexpr int kCount = 8;
  for (int i = 0; i < kCount; ++i) CreateEnv(ns.name(), absl::StrCat("q", i), "a1b2c3d");
  // As soon as the operator has made (at least) the namespace, delete.
  for (int i = 0; i < kCount; ++i) {
    const std::string target = absl::StrCat(ns.name(), "-q", i);
    EXPECT_TRUE(WaitFor(kSettle, [&] { return Admin().Get(kNamespaces, "", target).ok(); }));
    ASSERT_TRUE(Admin().Delete(v1alpha1::kEnvironments, ns.name(), absl::StrCat("q", i)).ok());
  }
  for (int i = 0; i < kCount; ++i) {
    EXPECT_TRUE(
        WaitFor(kSettle, [&] { return Phase(ns.name(), absl::StrCat("q", i)) == "<gone>"; }));
    EXPECT_TRUE(NamespaceGoneOrGoing(absl::StrCat(ns.name(), "-q", i))) << i;
  }
}

// Ownership decides: a renamed hierarchy label moves the Environment to its
// new namespace and deletes the old one; a spec that no longer parses still
// deletes everything on deletion.
TEST_F(LifecycleE2E, AMovedEnvironmentLeavesNoNamespaceBehind) {
  TestNamespace ns("lc-move");
  const std::string team = ns.name();
  CreateWithLabels(ns.name(), "mover", Hierarchy(team, "p", "one"));
  EXPECT_TRUE(WaitFor(kSettle, [&] { return ReadyAt(ns.name(), "mover", "a1b2c3d"); }));
  const std::string first = absl::StrCat(team, "-p-one"), second = absl::StrCat(team, "-p-two");
  ASSERT_TRUE(Admin()
                  .Patch(v1alpha1::kEnvironments, ns.name(), "mover", kube::PatchType::kMerge,
                         R"({"metadata":{"labels":{"catalyst.dev/environment":"two"}}})")
                  .ok());
  EXPECT_TRUE(WaitFor(kSettle, [&] {
    kube::Object e = GetEnv(ns.name(), "mover");
    return e.Str({"status", "namespace"}) == second && e.Str({"status", "phase"}) == "Ready";
  })) << GetEnv(ns.name(), "mover").Serialize();
  EXPECT_TRUE(WaitFor(kSettle, [&] { return NamespaceGoneOrGoing(first); })) << first;

  // A branch git refuses: the spec no longer parses (Failed), and deletion
  // still removes what the Environment owns.
  ASSERT_TRUE(Admin()
                  .Patch(v1alpha1::kEnvironments, ns.name(), "mover", kube::PatchType::kMerge,
                         R"({"spec":{"sources":[{"name":"web","repositoryUrl":"https://x/y",)"
                         R"("branch":"-bad"}]}})")
                  .ok());
  EXPECT_TRUE(WaitFor(kSettle, [&] { return Phase(ns.name(), "mover") == "Failed"; }));
  ASSERT_TRUE(Admin().Delete(v1alpha1::kEnvironments, ns.name(), "mover").ok());
  EXPECT_TRUE(WaitFor(kSettle, [&] { return Phase(ns.name(), "mover") == "<gone>"; }));
  EXPECT_TRUE(NamespaceGoneOrGoing(second));
}

// Deleted and created again under the same name while the old namespace is
// still terminating: Pending (NamespaceTerminating), never Failed, then Ready.
TEST_F(LifecycleE2E, SameNameRecreateWaitsForTheOldNamespace) {
  TestNamespace ns("lc-again");
  CreateEnv(ns.name(), "again", "a1b2c3d");
  EXPECT_TRUE(WaitFor(kSettle, [&] { return ReadyAt(ns.name(), "again", "a1b2c3d"); }));
  ASSERT_TRUE(Admin().Delete(v1alpha1::kEnvironments, ns.name(), "again").ok());
  EXPECT_TRUE(WaitFor(kSettle, [&] { return Phase(ns.name(), "again") == "<gone>"; }));
  const std::string target = ns.name() + "-again";
  const bool terminating = Admin().Get(kNamespaces, "", target).ok();
  CreateEnv(ns.name(), "again", "b2c3d4e");
  std::vector<std::string> phases;
  EXPECT_TRUE(WaitFor(kSettle, [&] {
    const std::string p = Phase(ns.name(), "again");
    if (phases.empty() || phases.back() != p) phases.push_back(p);
    return ReadyAt(ns.name(), "again", "b2c3d4e");
  }));
  for (const std::string& p : phases) EXPECT_NE(p, "Failed") << absl::StrJoin(phases, " -> ");
  if (terminating) {
    EXPECT_NE(std::find(phases.begin(), phases.end(), "Pending"), phases.end())
        << absl::StrJoin(phases, " -> ");
  }
  RecordProperty("old_namespace_still_terminating", terminating ? "yes" : "no");
}

// A crash-looping web container: Failed, and it stays Failed through the
// back-off cycles (no Deploying -> Failed -> Deploying, no Event each time).
TEST_F(LifecycleE2E, ACrashLoopDoesNotFlap) {
  TestNamespace ns("lc-crash");
  const std::string target = ns.name() + "-crash";
  ASSERT_TRUE(SetSimulatorFault(target, "web=crashloop").ok());
  CreateEnv(ns.name(), "crash", "a1b2c3d");
  EXPECT_TRUE(WaitFor(kSettle, [&] { return Phase(ns.name(), "crash") == "Failed"; }));
  EXPECT_TRUE(absl::StartsWith(ReadyReason(GetEnv(ns.name(), "crash")), "CrashLoopBackOff"))
      << ReadyReason(GetEnv(ns.name(), "crash"));
  const std::string rv(GetEnv(ns.name(), "crash").ResourceVersion());
  // Three back-off cycles of the simulator (5 s each): the phase holds and
  // the Environment is not written again.
  std::set<std::string> seen;
  const absl::Time until = absl::Now() + absl::Seconds(16);
  WaitFor(absl::Seconds(20), [&] {
    seen.insert(Phase(ns.name(), "crash"));
    return absl::Now() >= until;
  });
  EXPECT_EQ(seen, (std::set<std::string>{"Failed"}));
  EXPECT_EQ(GetEnv(ns.name(), "crash").ResourceVersion(), rv) << "written again while failing";
  ASSERT_TRUE(SetSimulatorFault(target, "").ok());
  EXPECT_TRUE(WaitFor(kSettle, [&] { return Phase(ns.name(), "crash") == "Ready"; }));
}

// Pods the namespace's quota refuses: named at once (FailedCreate from the
// ReplicaSet), not at the failure deadline.
TEST_F(LifecycleE2E, AQuotaRefusalIsNamedAtOnce) {
  TestNamespace ns("lc-quota");
  const std::string target = ns.name() + "-tight";
  // Hold postgres back until a second, tighter quota is in place.
  ASSERT_TRUE(SetSimulatorFault(target, "postgres=unready").ok());
  CreateEnv(ns.name(), "tight", "a1b2c3d");
  EXPECT_TRUE(WaitFor(kSettle, [&] { return Admin().Get(kDeployments, target, "postgres").ok(); }));
  ASSERT_TRUE(Admin()
                  .Create(kResourceQuotas, target,
                          R"({"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"tight"},
                              "spec":{"hard":{"limits.memory":"1Gi"}}})")
                  .ok());
  ASSERT_TRUE(SetSimulatorFault(target, "").ok());
  const absl::Time start = absl::Now();
  EXPECT_TRUE(WaitFor(kSettle, [&] {
    return Phase(ns.name(), "tight") == "Failed" &&
           absl::StartsWith(ReadyReason(GetEnv(ns.name(), "tight")), "FailedCreate");
  })) << ReadyReason(GetEnv(ns.name(), "tight"));
  EXPECT_TRUE(absl::StrContains(ReadyReason(GetEnv(ns.name(), "tight")), "exceeded quota"));
  RecordProperty("failed_after_seconds", absl::StrCat(absl::ToInt64Seconds(absl::Now() - start)));
}

// The operator's own writes to one object, from the API server's audit log.
int OperatorWrites(const std::string& log, const std::string& ns, const std::string& name) {
  const size_t at = log.find("\"identity\":\"");
  if (at == std::string::npos) return -1;
  const std::string identity = log.substr(at + 12, log.find('"', at + 12) - at - 12);
  std::ifstream audit(ClusterDir() + "/audit.log");
  int writes = 0;
  for (std::string line; std::getline(audit, line);)
    writes += absl::StrContains(line, "(" + identity + ")") &&
              absl::StrContains(line, R"("verb":"patch")") &&
              absl::StrContains(
                  line, absl::StrCat(R"("namespace":")", ns, R"(","name":")", name, R"(")"));
  return writes;
}

// Another field manager's entry (kubectl set env) is not drift: no re-apply
// every resync (the list is compared by key), and the Environment settles
// Ready again once the rollout kubectl started is done.
TEST_F(LifecycleE2E, AnotherManagersEnvEntryIsLeftAlone) {
  TestNamespace ns("lc-foreign");
  CreateEnv(ns.name(), "foreign", "a1b2c3d");
  EXPECT_TRUE(WaitFor(kSettle, [&] { return ReadyAt(ns.name(), "foreign", "a1b2c3d"); }));
  const std::string target = ns.name() + "-foreign";
  ASSERT_TRUE(Kubectl({"set", "env", "deployment/web", "-n", target, "FOREIGN=1"}).ok());
  // kubectl's change rolls the pod (Recreate); then it is Ready again.
  EXPECT_TRUE(WaitFor(kSettle, [&] {
    auto web = Admin().Get(kDeployments, target, "web");
    return web.ok() && web->Int({"status", "observedGeneration"}) == web->Generation() &&
           web->Int({"status", "readyReplicas"}) == 1 && ReadyAt(ns.name(), "foreign", "a1b2c3d");
  }));
  // The operator may see the rollout after the test does (Deploying, then
  // Ready again): wait until the Environment is left unwritten for a whole
  // resync period before measuring.
  std::string rv(GetEnv(ns.name(), "foreign").ResourceVersion());
  absl::Time since = absl::Now();
  EXPECT_TRUE(WaitFor(
      kSettle,
      [&] {
        const std::string now(GetEnv(ns.name(), "foreign").ResourceVersion());
        if (now != rv) rv = now, since = absl::Now();
        return absl::Now() - since > absl::Seconds(6) && Phase(ns.name(), "foreign") == "Ready";
      },
      absl::Milliseconds(200)));
  const int before = OperatorWrites(op_->Log(), target, "web");
  ASSERT_GE(before, 1) << "needs the audit log";
  // Two resync periods (5 s each), a pass over it in each.
  const double reconciles = op_->SumMetric("controller_runtime_reconcile_total");
  EXPECT_TRUE(WaitFor(absl::Seconds(30), [&] {
    return op_->SumMetric("controller_runtime_reconcile_total") >= reconciles + 2;
  }));
  const absl::Time until = absl::Now() + absl::Seconds(11);
  WaitFor(
      absl::Seconds(15), [&] { return absl::Now() >= until; }, absl::Seconds(1));
  EXPECT_EQ(OperatorWrites(op_->Log(), target, "web"), before)
      << "re-applied while only another manager's entry differs";
  EXPECT_EQ(GetEnv(ns.name(), "foreign").ResourceVersion(), rv);
  EXPECT_EQ(Phase(ns.name(), "foreign"), "Ready");
  auto web = Admin().Get(kDeployments, target, "web");
  ASSERT_TRUE(web.ok());
  EXPECT_TRUE(absl::StrContains(web->Serialize(), R"({"name":"FOREIGN","value":"1"})"));
}

// The postgres password: generated, kept in a Secret, referenced — never in
// a Deployment, the Environment, an Event or the operator's log.
TEST_F(LifecycleE2E, TheDatabasePasswordStaysInItsSecret) {
  TestNamespace ns("lc-secret");
  CreateEnv(ns.name(), "vault", "a1b2c3d");
  EXPECT_TRUE(WaitFor(kSettle, [&] { return ReadyAt(ns.name(), "vault", "a1b2c3d"); }));
  const std::string target = ns.name() + "-vault";
  auto secret = Admin().Get(kSecrets, target, "postgres-credentials");
  ASSERT_TRUE(secret.ok()) << secret.status();
  const std::string encoded(secret->Str({"data", "password"}));
  std::string password;
  ASSERT_TRUE(absl::Base64Unescape(encoded, &password));
  EXPECT_EQ(password.size(), 32u);
  std::vector<std::string> places;
  auto add_all = [&](const kube::Resource& res, const std::string& in) {
    auto list = Admin().List(res, in, {});
    ASSERT_TRUE(list.ok()) << list.status();
    for (const auto& o : list->items) places.push_back(o.Serialize());
  };
  add_all(kDeployments, target);
  add_all(kServices, target);
  add_all(kEvents, ns.name());
  places.push_back(GetEnv(ns.name(), "vault").Serialize());
  places.push_back(op_->Log());
  for (const std::string& text : places) {
    EXPECT_FALSE(absl::StrContains(text, password)) << text.substr(0, 300);
    EXPECT_FALSE(absl::StrContains(text, encoded));
  }
  auto web = Admin().Get(kDeployments, target, "web");
  ASSERT_TRUE(web.ok());
  EXPECT_TRUE(absl::StrContains(web->Serialize(), "postgres://app:$(DB_PASSWORD)@postgres."));
  // The password stays when the operator plans again (a new commit).
  SetSha(ns.name(), "vault", "b2c3d4e");
  EXPECT_TRUE(WaitFor(kSettle, [&] { return ReadyAt(ns.name(), "vault", "b2c3d4e"); }));
  EXPECT_EQ(Admin().Get(kSecrets, target, "postgres-credentials")->Str({"data", "password"}),
            encoded);
}

}  // namespace
}  // namespace e2e
