// Tenant isolation on the real control plane (docs/reliability.md, "Tenant
// isolation"): what one team writes can neither take another team's Project,
// nor a namespace that is not the operator's, nor reach the cloud metadata
// address, nor run a pod below Pod Security baseline.
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/v1alpha1/resources.h"
#include "e2e/catalyst_client.h"
#include "e2e/environments.h"
#include "e2e/harness.h"
#include "e2e/operator_process.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"
#include "kube/resource.h"
#include "support/netpol_eval.h"

namespace e2e {
namespace {

using namespace kube::resources;
using testing_support::NetpolCluster;
using testing_support::Peer;
using testing_support::Protocol;
using testing_support::WebAppNamespace;

constexpr absl::Duration kReady = absl::Seconds(120);
constexpr absl::Duration kSettled = absl::Seconds(30);

class TenantIsolationE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    StartSuiteOperator(&op_, "tenants", 28440, {"--egress-except-cidrs=10.0.0.0/8"});
  }
  static void TearDownTestSuite() { StopSuiteOperator(&op_); }
  static inline std::unique_ptr<OperatorProcess> op_;
};

std::string ReadyReason(const std::string& ns, const std::string& name) {
  return Condition(GetEnv(ns, name), "Ready");
}

// An Environment whose own labels name another team (and that team's
// Project) gets neither the Project nor a namespace labelled as that team's.
TEST_F(TenantIsolationE2E, AnotherTeamsProjectIsNotTakenByLabel) {
  Team victim(absl::StrCat("E2E Victim ", Random()));
  Team mallory(absl::StrCat("E2E Mallory ", Random()));
  SyncProject(victim.Project("https://github.com/victim/private-repo"));
  testing_support::EnvironmentFields e = mallory.Environment("steal");
  e.team = victim.team;              // the label, and so the namespace name
  e.project = victim.ProjectName();  // and projectRef
  CreateEnvironment(e, "1");
  EXPECT_TRUE(WaitFor(kSettled, [&] {
    return absl::StartsWith(Condition(GetEnv(e.ns, e.name), "ProjectResolved"),
                            "False/ProjectNotInTeam/");
  })) << GetEnv(e.ns, e.name).Serialize();
  EXPECT_EQ(Phase(e.ns, e.name), "Pending");
  // Nothing was built from the victim's Project: no namespace under its name.
  const std::string target = WebAppNamespace({victim.team, victim.ProjectName(), "steal"});
  EXPECT_TRUE(kube::apierrors::IsNotFound(Admin().Get(kNamespaces, "", target).status()));

  // The victim's own Environment still gets its Project.
  testing_support::EnvironmentFields own = victim.Environment("own");
  CreateEnvironment(own, "2");
  EXPECT_TRUE(WaitFor(kSettled, [&] {
    return absl::StartsWith(Condition(GetEnv(own.ns, own.name), "ProjectResolved"), "True/Found/");
  })) << GetEnv(own.ns, own.name).Serialize();
}

// A namespace of the Environment's name that someone else made is neither
// taken over (POST, not apply), nor named in status.namespace (the web app
// lists that namespace's pods as the Environment's), nor deleted.
TEST_F(TenantIsolationE2E, ASquattedNamespaceIsNeitherNamedNorTakenNorDeleted) {
  TestNamespace ns("squat");
  const std::string target = WebAppNamespace({ns.name(), "taken"});
  TestNamespace squatted(TestNamespace::Exact{}, target);
  CreateEnv(ns.name(), "taken", "c0ffee1");
  EXPECT_TRUE(WaitFor(kSettled, [&] {
    return absl::StartsWith(ReadyReason(ns.name(), "taken"), "False/NamespaceConflict/");
  })) << GetEnv(ns.name(), "taken").Serialize();
  EXPECT_EQ(Phase(ns.name(), "taken"), "Failed");
  EXPECT_EQ(GetEnv(ns.name(), "taken").Str({"status", "namespace"}), "");
  auto theirs = Admin().Get(kNamespaces, "", target);
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  EXPECT_EQ(theirs->Label("app.kubernetes.io/managed-by"), "");
  EXPECT_EQ(theirs->Label("catalyst.dev/environment-uid"), "");
  EXPECT_TRUE(Admin().List(kDeployments, target, {}).ok());
  EXPECT_TRUE(Admin().List(kDeployments, target, {})->items.empty());

  ASSERT_TRUE(Admin().Delete(v1alpha1::kEnvironments, ns.name(), "taken").ok());
  EXPECT_TRUE(WaitFor(kSettled, [&] { return Phase(ns.name(), "taken") == "<gone>"; }));
  theirs = Admin().Get(kNamespaces, "", target);
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  EXPECT_FALSE(theirs->Deleting());
}

// Egress "anywhere" (HTTPS, and the port of an http:// clone) is not the cloud
// metadata address nor the platform's ranges, judged on the NetworkPolicies
// the server stored; a clone URL on another port is refused.
TEST_F(TenantIsolationE2E, EgressNeverReachesTheMetadataAddress) {
  TestNamespace ns("egress");
  auto create = [&](absl::string_view name, absl::string_view url) {
    ASSERT_TRUE(
        Admin()
            .Create(v1alpha1::kEnvironments, ns.name(),
                    absl::StrCat(R"({"apiVersion":"catalyst.catalyst.dev/v1alpha1",)",
                                 R"("kind":"Environment","metadata":{"name":")", name,
                                 R"("},"spec":{"type":"development","sources":[{"name":"web",)",
                                 R"("repositoryUrl":")", url, R"(","branch":"main"}]}})"))
            .ok());
  };
  create("plain-http", "http://git.example.test/org/repo");
  create("kubelet-port", "https://git.example.test:10250/r");
  const std::string target = WebAppNamespace({ns.name(), "plain-http"});
  EXPECT_TRUE(WaitFor(kReady, [&] { return Phase(ns.name(), "plain-http") == "Ready"; }))
      << GetEnv(ns.name(), "plain-http").Serialize();
  auto policies = Admin().List(kNetworkPolicies, target, {});
  ASSERT_TRUE(policies.ok()) << policies.status();
  NetpolCluster cluster;
  cluster.AddNamespace(target, {{"kubernetes.io/metadata.name", target}});
  for (const kube::Object& p : policies->items) cluster.AddPolicy(p);
  const Peer web = Peer::Pod(target, {{"app.kubernetes.io/name", "web"}});
  for (int port : {80, 443}) {
    EXPECT_TRUE(cluster.Allowed(web, Peer::External("203.0.113.7"), Protocol::kTCP, port));
    for (const char* ip : {"169.254.169.254", "10.0.0.1", "fe80::a9fe:a9fe"})
      EXPECT_FALSE(cluster.Allowed(web, Peer::External(ip), Protocol::kTCP, port))
          << ip << ":" << port;
  }

  EXPECT_TRUE(WaitFor(kSettled, [&] {
    return absl::StrContains(ReadyReason(ns.name(), "kubelet-port"), "(--git-ports)");
  })) << GetEnv(ns.name(), "kubelet-port").Serialize();
  EXPECT_EQ(Phase(ns.name(), "kubelet-port"), "Failed");
}

// Every container runs without capabilities or privilege escalation under
// RuntimeDefault seccomp (postgres as its image's user), and the namespace
// enforces Pod Security baseline: the API server refuses a privileged pod there.
TEST_F(TenantIsolationE2E, PodsAreHardenedAndTheNamespaceEnforcesBaseline) {
  TestNamespace ns("hardened");
  CreateEnv(ns.name(), "app", "c0ffee1");
  EXPECT_TRUE(WaitFor(kReady, [&] { return ReadyAt(ns.name(), "app", "c0ffee1"); }))
      << GetEnv(ns.name(), "app").Serialize();
  const std::string target = WebAppNamespace({ns.name(), "app"});
  auto nsobj = Admin().Get(kNamespaces, "", target);
  ASSERT_TRUE(nsobj.ok()) << nsobj.status();
  EXPECT_EQ(nsobj->Label("pod-security.kubernetes.io/enforce"), "baseline");
  EXPECT_EQ(nsobj->Label("pod-security.kubernetes.io/warn"), "restricted");
  for (const char* name : {"web", "postgres"}) {
    auto d = Admin().Get(kDeployments, target, name);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->Str({"spec", "template", "spec", "securityContext", "seccompProfile", "type"}),
              "RuntimeDefault")
        << name;
    for (const char* list : {"containers", "initContainers"}) {
      const auto* cs = d->Find({"spec", "template", "spec", list});
      if (!cs || !cs->IsArray()) continue;
      for (const auto& c : cs->GetArray()) {
        const auto* sc = kube::Member(c, "securityContext");
        ASSERT_NE(sc, nullptr) << name << " " << kube::StrOf(kube::Member(c, "name"));
        const auto* ape = kube::Member(*sc, "allowPrivilegeEscalation");
        EXPECT_TRUE(ape && ape->IsBool() && !ape->GetBool());
        const auto* caps = kube::Member(*sc, "capabilities");
        const auto* drop = caps ? kube::Member(*caps, "drop") : nullptr;
        ASSERT_TRUE(drop && drop->IsArray() && drop->Size() == 1);
        EXPECT_EQ(kube::StrOf(&(*drop)[0]), "ALL");
      }
    }
  }
  auto pg = Admin().Get(kDeployments, target, "postgres");
  ASSERT_TRUE(pg.ok());
  EXPECT_EQ(pg->Int({"spec", "template", "spec", "securityContext", "runAsUser"}), 70);
  EXPECT_EQ(pg->Int({"spec", "template", "spec", "securityContext", "fsGroup"}), 70);

  auto privileged = Admin().Create(kPods, target, R"({"apiVersion":"v1","kind":"Pod",
      "metadata":{"name":"privileged"},"spec":{"containers":[{"name":"x","image":"busybox",
      "securityContext":{"privileged":true}}]}})");
  EXPECT_TRUE(kube::apierrors::IsForbidden(privileged.status())) << privileged.status();
  EXPECT_TRUE(absl::StrContains(privileged.status().message(), "PodSecurity"))
      << privileged.status();
}

}  // namespace
}  // namespace e2e
