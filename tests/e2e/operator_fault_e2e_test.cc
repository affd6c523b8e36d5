// The operator process itself fails: SIGKILLed
// while Environments change, and SIGKILLed at random points of its
// reconciles 20 times in a row. Each time the cluster must converge to
// exactly the desired objects: no duplicates, no orphans, nothing lost.
// And a reconcile that hangs must be seen and fail the liveness probe.
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "api/v1alpha1/resources.h"
#include "e2e/environments.h"
#include "e2e/harness.h"
#include "e2e/operator_process.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"
#include "support/tcp_proxy.h"

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

// Each test runs on its own too: the CRDs may not be there yet.
class OperatorFaultE2E : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(Kubectl({"apply", "-f", SOURCE_ROOT "/crds/"}).ok()); }
};

TEST_F(OperatorFaultE2E, ChangesMadeWhileTheOperatorIsDownAreAllReconciled) {
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

TEST_F(OperatorFaultE2E, TwentySigkillsAtRandomPointsOfReconcilesLoseNothing) {
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
TEST_F(OperatorFaultE2E, MissingRbacIsReportedByNameAndKeepsItUnready) {
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

// The log lines (JSON objects) whose msg starts with msg, of Environments in namespace ns.
std::vector<kube::Object> LogLines(const OperatorProcess& op, absl::string_view msg,
                                   absl::string_view ns) {
  std::vector<kube::Object> out;
  for (absl::string_view line : absl::StrSplit(op.Log(), '\n', absl::SkipEmpty())) {
    auto o = kube::Object::Parse(line);
    if (o.ok() && absl::StartsWith(o->Str({"msg"}), msg) && o->Str({"namespace"}) == ns)
      out.push_back(*std::move(o));
  }
  return out;
}

// Requests answered after more than 2 s, from one scrape (the +Inf bucket
// less the 2 s one, over every verb).
double RequestsSlowerThan2s(const OperatorProcess& op) {
  double n = 0;
  for (absl::string_view line : absl::StrSplit(op.Get("/metrics"), '\n')) {
    if (!absl::StartsWith(line, "rest_client_request_duration_seconds_bucket{")) continue;
    double v = 0;
    if (!absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) continue;
    if (absl::StrContains(line, "le=\"+Inf\"")) n += v;
    if (absl::StrContains(line, "le=\"2\"")) n -= v;
  }
  return n;
}

// A reconcile that never returns (here its API request: a proxy between the
// operator and the API server stops forwarding what the operator sends, while
// the watches keep streaming) takes a worker for good. Past
// --reconcile-timeout it must be visible: one error line naming the
// Environment, kube_operator_stuck_workers, and /healthz 500 saying which
// check failed, so that the kubelet restarts the pod. Once the request is
// answered and the reconcile ends, all three clear. (Other tests' Environments
// still being torn down hang the same way: counts are at least 1.)
TEST_F(OperatorFaultE2E, AReconcileHungPastTheReconcileTimeoutFailsHealthzUntilItEnds) {
  TestNamespace ns("stuck");
  const std::string server = AdminConfig().server;
  std::string hostport = server.substr(server.find("://") + 3);
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(hostport.substr(hostport.rfind(':') + 1), &port)) << server;
  auto proxy = testing_support::TcpProxy::Start(hostport.substr(0, hostport.rfind(':')), port);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  // The chart's identity, through the proxy (the serving certificate names 127.0.0.1).
  auto identity = ChartIdentityKubeconfig();
  ASSERT_TRUE(identity.ok()) << identity.status();
  std::stringstream original;
  original << std::ifstream(*identity).rdbuf();
  ASSERT_TRUE(absl::StrContains(original.str(), "server: " + server)) << original.str();
  const std::string kubeconfig = absl::StrCat(ClusterDir(), "/stuck-through-proxy.kubeconfig");
  std::ofstream(kubeconfig) << absl::StrReplaceAll(
      original.str(),
      {{"server: " + server, absl::StrCat("server: https://127.0.0.1:", (*proxy)->port())}});

  // The client's request timeout (30 s) is well above the reconcile timeout:
  // the request is still hanging when the watchdog looks.
  OperatorProcess op("stuck", 28250, {"--reconcile-timeout=2s"}, kubeconfig);
  op.Start();
  ASSERT_TRUE(WaitFor(absl::Seconds(60), [&] { return op.Get("/readyz") == "ok\n 200"; }))
      << op.Log();
  const std::string stuck_workers = "kube_operator_stuck_workers{controller=\"environment\"}";
  EXPECT_GE(op.Metric(stuck_workers), 0) << "exported from the start";

  (*proxy)->SetHoldingRequests(true);
  const absl::Time held = absl::Now();
  // Created by the admin, directly: the operator's watch brings it (the
  // server's side still flows), and the reconcile's first request hangs.
  CreateEnv(ns.name(), "hangs", "1000000");
  auto healthz_failing = [&] {
    const std::string h = op.Get("/healthz");
    return absl::StartsWith(h, "reconcile-timeout: ") &&
           absl::EndsWith(h, " in one reconcile for longer than 2s\n 500");
  };
  ASSERT_TRUE(WaitFor(
      absl::Seconds(20),
      [&] { return healthz_failing() && LogLines(op, "reconcile stuck", ns.name()).size() == 1; }))
      << op.Get("/healthz") << "\n"
      << op.Log();
  const absl::Duration seen_after = absl::Now() - held;
  std::cout << "[ figure ] /healthz 500 and our Environment's line " << seen_after
            << " after the request hold began (--reconcile-timeout=2s)\n";
  EXPECT_GE(seen_after, absl::Seconds(2));
  EXPECT_GE(op.Metric(stuck_workers), 1);
  // Still failing on later probes, and logged once, not once per check.
  EXPECT_FALSE(WaitFor(absl::Seconds(2), [&] { return !healthz_failing(); }));
  const auto stuck = LogLines(op, "reconcile stuck", ns.name());
  ASSERT_EQ(stuck.size(), 1u) << op.Log();
  EXPECT_EQ(stuck[0].Str({"level"}), "error");
  EXPECT_EQ(stuck[0].Str({"name"}), "hangs");
  EXPECT_EQ(stuck[0].Str({"reconcileTimeout"}), "2s");
  EXPECT_FALSE(stuck[0].Str({"runningFor"}).empty());
  EXPECT_FALSE(stuck[0].Str({"reconcileID"}).empty());

  // The requests go through: the reconciles end and the pod is live again.
  (*proxy)->SetHoldingRequests(false);
  EXPECT_TRUE(WaitFor(absl::Seconds(30), [&] { return op.Get("/healthz") == "ok\n 200"; }))
      << op.Log();
  EXPECT_EQ(op.Metric(stuck_workers), 0);
  const auto finished = LogLines(op, "stuck reconcile finished", ns.name());
  ASSERT_EQ(finished.size(), 1u) << op.Log();
  EXPECT_EQ(finished[0].Str({"reconcileID"}), stuck[0].Str({"reconcileID"}));
  // It was a request that hung: an answer came later than the reconcile timeout.
  EXPECT_GE(RequestsSlowerThan2s(op), 1) << op.Get("/metrics");
  // And the Environment is reconciled on from where it hung, and goes away
  // cleanly (no leftover for the next test's operator).
  EXPECT_TRUE(WaitFor(absl::Seconds(30), [&] { return !Phase(ns.name(), "hangs").empty(); }));
  ASSERT_TRUE(Admin().Delete(v1alpha1::kEnvironments, ns.name(), "hangs").ok());
  EXPECT_TRUE(WaitFor(absl::Seconds(90), [&] { return Phase(ns.name(), "hangs") == "<gone>"; }));
  EXPECT_EQ(LogLines(op, "reconcile stuck", ns.name()).size(), 1u);
  ExpectCleanShutdown(op);
}

}  // namespace
}  // namespace e2e
