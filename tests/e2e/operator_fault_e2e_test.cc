// The operator process itself fails: SIGKILLed
// while Environments change, and SIGKILLed at random points of its
// reconciles 20 times in a row. Each time the cluster must converge to
// exactly the desired objects: no duplicates, no orphans, nothing lost.
#include <signal.h>
#include <sys/wait.h>

#include <set>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/v1alpha1/resources.h"
#include "e2e/environments.h"
#include "e2e/harness.h"
#include "e2e/operator_process.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"

namespace e2e {
namespace {

using namespace kube::resources;

// Exactly the objects an Environment owns in its namespace, each once.
void ExpectExactlyTheDesiredObjects(const std::string& target) {
  auto names = [&](const kube::Resource& r) {
    std::set<std::string> out;
    auto list = Admin().List(r, target, {});
    EXPECT_TRUE(list.ok()) << list.status();
    if (list.ok())
      for (const auto& o : list->items) out.emplace(o.Name());
    return out;
  };
  EXPECT_EQ(names(kDeployments), (std::set<std::string>{"postgres", "web"})) << target;
  EXPECT_EQ(names(kServices), (std::set<std::string>{"postgres", "web"})) << target;
  EXPECT_EQ(names(kNetworkPolicies).size(), 2u) << target;
  EXPECT_EQ(names(kResourceQuotas).size(), 1u) << target;
  EXPECT_EQ(names(kIngresses).size(), 1u) << target;
}

// No namespace managed for an Environment of test namespace ns outlives it.
std::set<std::string> ManagedNamespacesOf(const std::string& ns) {
  std::set<std::string> out;
  auto list = Admin().List(kNamespaces, "",
                           {.label_selector = "app.kubernetes.io/managed-by=kube-operator"});
  EXPECT_TRUE(list.ok()) << list.status();
  if (list.ok())
    for (const auto& n : list->items)
      if (absl::StartsWith(n.Name(), ns + "-") && !n.Deleting()) out.emplace(n.Name());
  return out;
}

TEST(OperatorFaultE2E, ChangesMadeWhileTheOperatorIsDownAreAllReconciled) {
  TestNamespace ns("opdown");
  OperatorProcess op("opdown", 28110);
  op.Start();
  ASSERT_TRUE(StartScenario(ns.name(), absl::Seconds(90)));
  op.Signal(SIGKILL);
  ASSERT_NE(op.Wait(absl::Seconds(10)), -1);
  // While it is down: a create, an edit, a delete.
  ChangeScenario(ns.name());
  op.Start();
  EXPECT_TRUE(WaitFor(absl::Seconds(90), [&] { return ScenarioConverged(ns.name()); }));
  EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] {
    return ManagedNamespacesOf(ns.name()) ==
           std::set<std::string>{ns.name() + "-keep", ns.name() + "-new"};
  }));
  ExpectExactlyTheDesiredObjects(ns.name() + "-keep");
  ExpectExactlyTheDesiredObjects(ns.name() + "-new");
  ExpectCleanShutdown(op);
}

TEST(OperatorFaultE2E, TwentySigkillsAtRandomPointsOfReconcilesLoseNothing) {
  TestNamespace ns("opkill");
  const std::vector<std::string> envs = {"e0", "e1", "e2"};
  for (const auto& e : envs) CreateEnv(ns.name(), e, "1000000");
  absl::BitGen gen;
  OperatorProcess op("opkill", 28120);
  std::vector<std::string> sha(envs.size(), "1000000");
  for (int round = 1; round <= 20; ++round) {
    // Every round changes a spec, so the restarted operator has work in flight.
    const size_t i = round % envs.size();
    sha[i] = absl::StrCat(round + 1000000);
    SetSha(ns.name(), envs[i], sha[i]);
    op.Start();
    // The kill point: after a random number of reconciles (0..6) have finished.
    const double target = absl::Uniform<int>(gen, 0, 7);
    WaitFor(
        absl::Seconds(15),
        [&] { return op.SumMetric("controller_runtime_reconcile_total") >= target; },
        absl::Milliseconds(absl::Uniform<int>(gen, 5, 50)));
    op.Signal(SIGKILL);
    ASSERT_NE(op.Wait(absl::Seconds(10)), -1) << "round " << round;
  }
  op.Start();
  EXPECT_TRUE(WaitFor(absl::Seconds(120), [&] {
    for (size_t i = 0; i < envs.size(); ++i)
      if (!ReadyAt(ns.name(), envs[i], sha[i])) return false;
    return true;
  }));
  for (const auto& e : envs) ExpectExactlyTheDesiredObjects(ns.name() + "-" + e);
  EXPECT_EQ(ManagedNamespacesOf(ns.name()).size(), envs.size());
  // And they still go away cleanly.
  for (const auto& e : envs)
    ASSERT_TRUE(Admin().Delete(v1alpha1::kEnvironments, ns.name(), e).ok());
  EXPECT_TRUE(WaitFor(absl::Seconds(90), [&] {
    auto list = Admin().List(v1alpha1::kEnvironments, ns.name(), {});
    return list.ok() && list->items.empty() && ManagedNamespacesOf(ns.name()).empty();
  }));
  ExpectCleanShutdown(op);
}

// No RBAC at all. The operator must say loudly what it
// cannot read, stay unready, and keep retrying (not idle silently, not crash).
TEST(OperatorFaultE2E, MissingRbacIsReportedByNameAndKeepsItUnready) {
  auto kubeconfig = ServiceAccountKubeconfig("kube-operator-e2e", "no-rights");
  ASSERT_TRUE(kubeconfig.ok()) << kubeconfig.status();
  OperatorProcess op("norbac", 28130, {}, *kubeconfig);
  op.Start();
  EXPECT_TRUE(WaitFor(absl::Seconds(30), [&] {
    const std::string log = op.Log();
    // The API server's message names the identity and the resource.
    return absl::StrContains(log, "cannot list resource \\\"environments\\\"");
  })) << op.Log();
  // Unready throughout, and still running (retrying with backoff).
  EXPECT_TRUE(absl::StartsWith(op.Get("/readyz"), "caches not synced"));
  EXPECT_EQ(op.Get("/healthz"), "ok\n 200");
  ExpectCleanShutdown(op);
}

}  // namespace
}  // namespace e2e
