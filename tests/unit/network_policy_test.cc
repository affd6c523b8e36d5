// The built NetworkPolicies, evaluated as an enforcing CNI would: the
// connections docs/contract.md, "Network policy" needs pass,
// the rest are refused.
#include "absl/strings/str_cat.h"
#include "api/v1alpha1/environment.h"
#include "controllers/environment/manifests.h"
#include "controllers/environment/resolve.h"
#include "gtest/gtest.h"
#include "support/netpol_eval.h"

namespace controllers {
namespace {

using testing_support::Labels;
using testing_support::NetpolCluster;
using testing_support::Peer;
using testing_support::Protocol;

constexpr char kNs[] = "team-app-pr-1";

// A development Environment cloning url, resolved as the planner would.
absl::StatusOr<Desired> ResolveDev(absl::string_view url, const OperatorConfig& cfg) {
  auto obj = kube::Object::Parse(absl::StrCat(
      R"({"metadata":{"name":"pr-1","namespace":"team-app","uid":"uid-1"},
          "spec":{"type":"development","sources":[{"name":"web","repositoryUrl":")",
      url, R"("}]}})"));
  auto spec = v1alpha1::ParseEnvironment(*obj);
  if (!spec.ok()) return spec.status();
  return Resolve({*spec, kNs, nullptr, cfg});
}

Desired Env(absl::string_view url = "https://example.test/repo",
            const OperatorConfig& cfg = OperatorConfig{}) {
  auto d = ResolveDev(url, cfg);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *d : Desired{};
}

// Namespaces as a 1.21+ API server labels them.
Labels NameLabel(const std::string& ns) { return {{"kubernetes.io/metadata.name", ns}}; }

class NetworkPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* ns : {kNs, "ingress-nginx", "kube-system", "other"})
      cluster_.AddNamespace(ns, NameLabel(ns));
    for (const kube::Object& p : BuildNetworkPolicies(Env(), OperatorConfig{}))
      cluster_.AddPolicy(p);
  }

  NetpolCluster cluster_;
  const Peer web_ = Peer::Pod(kNs, {{"app.kubernetes.io/name", "web"}});
  const Peer postgres_ = Peer::Pod(kNs, {{"app.kubernetes.io/name", "postgres"}});
  const Peer ingress_controller_ =
      Peer::Pod("ingress-nginx", {{"app.kubernetes.io/name", "ingress-nginx"}});
  const Peer coredns_ = Peer::Pod("kube-system", {{"k8s-app", "kube-dns"}});
  const Peer stranger_ = Peer::Pod("other", {{"app", "x"}});
  const Peer stranger_postgres_ = Peer::Pod("other", {{"app.kubernetes.io/name", "postgres"}});
  const Peer internet_ = Peer::External();
};

// Rule 3: db-migrate (in the web pod) reaches postgres.
TEST_F(NetworkPolicyTest, WebReachesPostgresInTheSameNamespace) {
  EXPECT_TRUE(cluster_.Allowed(web_, postgres_, Protocol::kTCP, 5432));
}

TEST_F(NetworkPolicyTest, APodOfAnotherNamespaceCannotReachWeb) {
  EXPECT_FALSE(cluster_.Allowed(stranger_, web_, Protocol::kTCP, 3000));
  EXPECT_FALSE(cluster_.Allowed(stranger_, postgres_, Protocol::kTCP, 5432));
  EXPECT_FALSE(cluster_.Allowed(internet_, web_, Protocol::kTCP, 3000));
}

// Rule 2: the web port, nothing else of the namespace.
TEST_F(NetworkPolicyTest, TheIngressControllerReachesWebsPortOnly) {
  EXPECT_TRUE(cluster_.Allowed(ingress_controller_, web_, Protocol::kTCP, 3000));
  EXPECT_FALSE(cluster_.Allowed(ingress_controller_, web_, Protocol::kTCP, 9229));
  EXPECT_FALSE(cluster_.Allowed(ingress_controller_, postgres_, Protocol::kTCP, 5432));
}

// git-clone over ssh, git:// or http://: the port its URL needs, for the web
// pod (where git-clone runs) and no other.
TEST(NetworkPolicyGitTest, TheCloneGetsThePortItsUrlNeeds) {
  const std::pair<const char*, int> cases[] = {
      {"git@github.com:org/repo.git", 22},        {"ssh://git@example.test/repo", 22},
      {"ssh://git@example.test:2222/repo", 2222}, {"git://example.test/repo", 9418},
      {"http://example.test/repo", 80},           {"http://user@example.test:8080/r", 8080}};
  const Peer web = Peer::Pod(kNs, {{"app.kubernetes.io/name", "web"}});
  const Peer postgres = Peer::Pod(kNs, {{"app.kubernetes.io/name", "postgres"}});
  OperatorConfig cfg;
  cfg.git_ports = "22,80,443,9418,2222,8080";  // the platform allows two more
  for (const auto& [url, port] : cases) {
    NetpolCluster c;
    c.AddNamespace(kNs, NameLabel(kNs));
    for (const kube::Object& p : BuildNetworkPolicies(Env(url, cfg), cfg)) c.AddPolicy(p);
    EXPECT_TRUE(c.Allowed(web, Peer::External(), Protocol::kTCP, port)) << url;
    EXPECT_FALSE(c.Allowed(postgres, Peer::External(), Protocol::kTCP, port)) << url;
    EXPECT_FALSE(c.Allowed(web, Peer::External(), Protocol::kTCP, port + 1)) << url;
  }
  // Over HTTPS, the web pods' policy isolates ingress only: their egress is the common one.
  const auto https = BuildNetworkPolicies(Env("https://example.test/r"), OperatorConfig{});
  ASSERT_EQ(https.size(), 2u);
  EXPECT_EQ(https[1].json()["spec"]["policyTypes"].Size(), 1u);
}

// docs/contract.md "Tenant isolation": "anywhere" is not the cloud metadata
// address, nor the ranges the platform names (its pods, services, nodes).
TEST(NetworkPolicyEgressTest, AnywhereExceptsMetadataAndThePlatformsRanges) {
  OperatorConfig cfg;
  cfg.egress_except_cidrs = "10.0.0.0/8, 192.168.1.7/24,fd00:ec2::254/128";
  NetpolCluster c;
  c.AddNamespace(kNs, NameLabel(kNs));
  for (const kube::Object& p : BuildNetworkPolicies(Env("http://example.test/r", cfg), cfg))
    c.AddPolicy(p);
  const Peer web = Peer::Pod(kNs, {{"app.kubernetes.io/name", "web"}});
  const Peer postgres = Peer::Pod(kNs, {{"app.kubernetes.io/name", "postgres"}});
  for (const Peer& pod : {web, postgres}) {
    EXPECT_TRUE(c.Allowed(pod, Peer::External("203.0.113.7"), Protocol::kTCP, 443));
    EXPECT_TRUE(c.Allowed(pod, Peer::External("2001:db8::1"), Protocol::kTCP, 443));
    for (const char* ip :
         {"169.254.169.254", "10.96.0.1", "192.168.1.200", "fe80::1", "fd00:ec2::254"})
      EXPECT_FALSE(c.Allowed(pod, Peer::External(ip), Protocol::kTCP, 443)) << ip;
  }
  EXPECT_TRUE(c.Allowed(web, Peer::External(), Protocol::kTCP, 80));  // the http:// clone
  EXPECT_FALSE(c.Allowed(web, Peer::External("169.254.169.254"), Protocol::kTCP, 80));
}

// A clone URL may only name a port the platform allows: https://host:10250/
// would open every kubelet's port to the tenant's pod.
TEST(NetworkPolicyEgressTest, ARepositoryOnAPortNotAllowedIsRefused) {
  for (const char* url : {"https://example.test:10250/r", "http://example.test:6443/r",
                          "ssh://git@example.test:2379/r"}) {
    auto d = ResolveDev(url, OperatorConfig{});
    ASSERT_FALSE(d.ok()) << url;
    EXPECT_NE(d.status().message().find("(--git-ports)"), absl::string_view::npos) << d.status();
  }
}

// Rule 4.
TEST_F(NetworkPolicyTest, DnsToKubeSystemOverUdpAndTcp) {
  EXPECT_TRUE(cluster_.Allowed(web_, coredns_, Protocol::kUDP, 53));
  EXPECT_TRUE(cluster_.Allowed(web_, coredns_, Protocol::kTCP, 53));
  EXPECT_TRUE(cluster_.Allowed(postgres_, coredns_, Protocol::kUDP, 53));
  // Port 53 elsewhere, or another port in kube-system: refused.
  EXPECT_FALSE(cluster_.EgressAllowed(web_, stranger_, Protocol::kUDP, 53));
  EXPECT_FALSE(cluster_.EgressAllowed(web_, coredns_, Protocol::kTCP, 9153));
}

// Rule 5.
TEST_F(NetworkPolicyTest, HttpsToTheInternet) {
  EXPECT_TRUE(cluster_.Allowed(web_, internet_, Protocol::kTCP, 443));
  EXPECT_FALSE(cluster_.Allowed(web_, internet_, Protocol::kUDP, 443));
}

// Rule 1 does the rest.
TEST_F(NetworkPolicyTest, EverythingElseIsDenied) {
  EXPECT_FALSE(cluster_.EgressAllowed(web_, stranger_postgres_, Protocol::kTCP, 5432));
  EXPECT_FALSE(cluster_.Allowed(web_, stranger_postgres_, Protocol::kTCP, 5432));
  EXPECT_FALSE(cluster_.Allowed(web_, internet_, Protocol::kTCP, 80));
  EXPECT_FALSE(cluster_.Allowed(web_, internet_, Protocol::kTCP, 22));  // ssh:// git URLs
  EXPECT_FALSE(cluster_.Allowed(postgres_, internet_, Protocol::kTCP, 5432));
}

// The reason rule 3 has an egress half: with ingress alone, default-deny
// egress stops db-migrate's connection at its source.
TEST_F(NetworkPolicyTest, IntraNamespaceNeedsBothHalves) {
  NetpolCluster ingress_only;
  ingress_only.AddNamespace(kNs, NameLabel(kNs));
  auto deny_all = kube::Object::Parse(R"({"metadata": {"name": "d", "namespace": "team-app-pr-1"},
      "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}})");
  ingress_only.AddPolicy(*deny_all);
  auto same_ns = kube::Object::Parse(R"({"metadata": {"name": "x", "namespace": "team-app-pr-1"},
      "spec": {"podSelector": {}, "policyTypes": ["Ingress"],
               "ingress": [{"from": [{"podSelector": {}}]}]}})");
  ingress_only.AddPolicy(*same_ns);
  EXPECT_TRUE(ingress_only.IngressAllowed(web_, postgres_, Protocol::kTCP, 5432));
  EXPECT_FALSE(ingress_only.Allowed(web_, postgres_, Protocol::kTCP, 5432));
}

// Kubernetes 1.20 does not set kubernetes.io/metadata.name: until the platform
// labels the ingress and DNS namespaces, rules 2 and 4 match nothing.
TEST_F(NetworkPolicyTest, On120TheNamespacesNeedTheNameLabel) {
  NetpolCluster old;
  old.AddNamespace(kNs, {});
  old.AddNamespace("ingress-nginx", {});
  old.AddNamespace("kube-system", {});
  for (const kube::Object& p : BuildNetworkPolicies(Env(), OperatorConfig{})) old.AddPolicy(p);
  EXPECT_FALSE(old.Allowed(ingress_controller_, web_, Protocol::kTCP, 3000));
  EXPECT_FALSE(old.Allowed(web_, coredns_, Protocol::kUDP, 53));
  EXPECT_TRUE(old.Allowed(web_, postgres_, Protocol::kTCP, 5432));  // needs no label
}

// The evaluator itself, on cases the builders do not produce.
TEST(NetworkPolicyEvaluatorTest, SemanticsOfTheModelledFields) {
  NetpolCluster c;
  c.AddNamespace("a", {{"team", "x"}});
  c.AddNamespace("b", {{"team", "y"}});
  Peer a_db = Peer::Pod("a", {{"role", "db"}});
  Peer a_web = Peer::Pod("a", {{"role", "web"}});
  Peer b_web = Peer::Pod("b", {{"role", "web"}});
  // No policy: everything flows.
  EXPECT_TRUE(c.Allowed(b_web, a_db, Protocol::kTCP, 1));
  // Only pods labelled role=db are isolated; policyTypes absent means Ingress.
  c.AddPolicy(*kube::Object::Parse(R"({"metadata": {"name": "p", "namespace": "a"},
      "spec": {"podSelector": {"matchLabels": {"role": "db"}},
               "ingress": [{"from": [{"namespaceSelector": {"matchExpressions":
                                        [{"key": "team", "operator": "In", "values": ["y"]}]},
                                      "podSelector": {"matchLabels": {"role": "web"}}}],
                            "ports": [{"port": 5000, "endPort": 5010}]}]}})"));
  EXPECT_TRUE(c.Allowed(b_web, a_db, Protocol::kTCP, 5005));
  EXPECT_FALSE(c.Allowed(b_web, a_db, Protocol::kTCP, 5011));
  EXPECT_FALSE(c.Allowed(b_web, a_db, Protocol::kUDP, 5005));  // protocol defaults to TCP
  EXPECT_FALSE(c.Allowed(a_web, a_db, Protocol::kTCP, 5005));  // namespace team=x
  EXPECT_TRUE(c.Allowed(a_db, b_web, Protocol::kTCP, 80));     // egress not isolated
  EXPECT_TRUE(c.Allowed(b_web, a_web, Protocol::kTCP, 80));    // a_web not selected
  // ipBlock: anything outside the cluster, no pod.
  c.AddPolicy(*kube::Object::Parse(R"({"metadata": {"name": "q", "namespace": "b"},
      "spec": {"podSelector": {}, "policyTypes": ["Egress"],
               "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}})"));
  EXPECT_TRUE(c.Allowed(b_web, Peer::External(), Protocol::kTCP, 80));
  EXPECT_FALSE(c.Allowed(b_web, a_web, Protocol::kTCP, 80));
}

}  // namespace
}  // namespace controllers
