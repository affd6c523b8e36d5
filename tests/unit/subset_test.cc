// IsSubset and CanonicalQuantity (subset.h), and the subset check against
// what kube-apiserver 1.20 really stores for the builders' manifests.
#include "kube/subset.h"

#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/v1alpha1/environment.h"
#include "controllers/environment/manifests.h"
#include "controllers/environment/resolve.h"
#include "gtest/gtest.h"
#include "kube/json_builder.h"
#include "rapidjson/document.h"
#include "rapidjson/pointer.h"
#include "support/environment_fixture.h"

namespace controllers {
namespace {

// tests/data/<path>: what kube-apiserver 1.20 returned for the objects the
// builders made (captured with kubectl get -o json).
std::string Fixture(const std::string& path) {
  std::ifstream in(std::string(SOURCE_ROOT "/tests/data/") + path);
  EXPECT_TRUE(in.good()) << path;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

rapidjson::Document Doc(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  EXPECT_FALSE(d.HasParseError()) << json;
  return d;
}

bool Sub(const std::string& desired, const std::string& actual) {
  return kube::IsSubset(Doc(desired), Doc(actual));
}

TEST(SubsetTest, ObjectsIgnoreExtraMembersInActual) {
  EXPECT_TRUE(Sub(R"({})", R"({"a": 1})"));
  EXPECT_TRUE(Sub(R"({"a": {"b": "x"}})", R"({"a": {"b": "x", "c": true}, "d": []})"));
  EXPECT_FALSE(Sub(R"({"a": {"b": "x"}})", R"({"a": {"b": "y"}})"));
  EXPECT_FALSE(Sub(R"({"a": {"b": "x"}})", R"({"a": {}})"));
  EXPECT_FALSE(Sub(R"({"a": 1})", R"({})"));
  EXPECT_FALSE(Sub(R"({"a": {}})", R"({"a": []})"));
}

// Lists server-side apply merges by key: another manager's elements and the
// order do not matter; ours must be there, equal.
TEST(SubsetTest, KeyedListsCompareByKey) {
  EXPECT_TRUE(Sub(R"([{"name": "a"}, {"name": "b"}])",
                  R"([{"name": "a", "x": 1}, {"name": "b", "y": 2}])"));
  EXPECT_TRUE(Sub(R"([{"name": "a"}])", R"([{"name": "a"}, {"name": "b"}])"));
  EXPECT_TRUE(Sub(R"([{"name": "a"}, {"name": "b"}])", R"([{"name": "b"}, {"name": "a"}])"));
  EXPECT_FALSE(Sub(R"([{"name": "a"}, {"name": "b"}])", R"([{"name": "a"}])"));
  EXPECT_FALSE(Sub(R"([{"name": "a", "v": 1}])", R"([{"name": "a", "v": 2}, {"name": "b"}])"));
  // Ports by (containerPort, protocol); mounts by mountPath.
  EXPECT_TRUE(Sub(R"([{"containerPort": 80}])",
                  R"([{"containerPort": 9090, "protocol": "TCP"}, {"containerPort": 80}])"));
  EXPECT_FALSE(Sub(R"([{"containerPort": 80, "protocol": "UDP"}])", R"([{"containerPort": 80}])"));
  EXPECT_TRUE(Sub(R"([{"name": "v", "mountPath": "/a"}])",
                  R"([{"name": "v", "mountPath": "/b"}, {"name": "v", "mountPath": "/a"}])"));
  EXPECT_TRUE(Sub(R"([])", R"([])"));
}

// Atomic lists (no key: commands, NetworkPolicy rules and ports) match in
// length and order: an element added to a NetworkPolicy rule is drift.
TEST(SubsetTest, AtomicListsMatchLengthAndOrder) {
  EXPECT_TRUE(Sub(R"(["a", "b"])", R"(["a", "b"])"));
  EXPECT_FALSE(Sub(R"(["a"])", R"(["a", "b"])"));
  EXPECT_FALSE(Sub(R"(["a", "b"])", R"(["b", "a"])"));
  EXPECT_FALSE(Sub(R"([{"port": 443, "protocol": "TCP"}])",
                   R"([{"port": 443, "protocol": "TCP"}, {"port": 22, "protocol": "TCP"}])"));
}

TEST(SubsetTest, ScalarsCompareByValue) {
  EXPECT_TRUE(Sub(R"({"n": 1})", R"({"n": 1.0})"));
  EXPECT_TRUE(Sub(R"({"n": 1.5})", R"({"n": 1.5})"));
  EXPECT_FALSE(Sub(R"({"n": 1})", R"({"n": 2})"));
  EXPECT_FALSE(Sub(R"({"n": 1})", R"({"n": "1"})"));
  EXPECT_TRUE(Sub(R"({"b": false})", R"({"b": false})"));
  EXPECT_FALSE(Sub(R"({"b": false})", R"({"b": true})"));
  EXPECT_FALSE(Sub(R"({"s": "512Mi"})", R"({"s": "0.5Gi"})"));
  EXPECT_TRUE(Sub(R"({"big": 18446744073709551615})", R"({"big": 18446744073709551615})"));
}

TEST(SubsetTest, NullInDesiredMeansAbsent) {
  EXPECT_TRUE(Sub(R"({"a": null})", R"({})"));
  EXPECT_TRUE(Sub(R"({"a": null})", R"({"a": null})"));
  EXPECT_FALSE(Sub(R"({"a": null})", R"({"a": 1})"));
}

// What kube-apiserver stores for a ResourceList quantity it is sent: every
// case was checked against kube-apiserver v1.20.2 (a dry-run ResourceQuota).
// The server does not store omitempty zero values: an env var's value "" is
// absent from what it returns, and must not count as drift (found by the
// bad-input e2e test: re-applied every pass, never Ready).
TEST(SubsetTest, ZeroValuesInDesiredMatchAbsentMembers) {
  EXPECT_TRUE(Sub(R"({"name": "A", "value": ""})", R"({"name": "A"})"));
  EXPECT_TRUE(Sub(R"({"a": false, "b": 0, "c": [], "d": {}})", R"({})"));
  // Present values still compare: "" is not "x", 0 is not 1.
  EXPECT_FALSE(Sub(R"({"value": ""})", R"({"value": "x"})"));
  EXPECT_FALSE(Sub(R"({"n": 0})", R"({"n": 1})"));
  EXPECT_FALSE(Sub(R"({"value": "x"})", R"({})"));
  EXPECT_FALSE(Sub(R"({"a": [1]})", R"({})"));
}

// --- against kube-apiserver 1.20 ----------------------------------------------------------------
//
// What kube-apiserver v1.20.2 (scripts/cluster-up.sh, with its
// kube-controller-manager) returned on GET after a server-side apply of the
// builders' output for ServerFixture(): its defaults (imagePullPolicy,
// terminationMessagePath, protocol, revisionHistoryLimit kept, dnsPolicy,
// schedulerName, securityContext {}, probe thresholds, volumeMode,
// sessionAffinity, clusterIP, namespace finalizers...), its metadata and the
// controllers' status. managedFields are left out. To refresh: apply the
// builders' output to a local cluster the same way and GET it back.

const std::string kServerNamespace = Fixture("server/namespace.json");

const std::string kServerResourceQuotaEnvironmentQuota =
    Fixture("server/resource-quota-environment-quota.json");

const std::string kServerNetworkPolicyEnvironmentIsolation =
    Fixture("server/network-policy-environment-isolation.json");

const std::string kServerNetworkPolicyAllowWeb = Fixture("server/network-policy-allow-web.json");

const std::string kServerPersistentVolumeClaimPostgresData =
    Fixture("server/persistent-volume-claim-postgres-data.json");

const std::string kServerDeploymentPostgres = Fixture("server/deployment-postgres.json");

const std::string kServerServicePostgres = Fixture("server/service-postgres.json");

const std::string kServerPersistentVolumeClaimWorkspace =
    Fixture("server/persistent-volume-claim-workspace.json");

const std::string kServerDeploymentWeb = Fixture("server/deployment-web.json");

const std::string kServerServiceWeb = Fixture("server/service-web.json");

const std::string kServerIngressWeb = Fixture("server/ingress-web.json");

const std::string kServerDeploymentTypeDeploymentWeb =
    Fixture("server/deployment-type-deployment-web.json");

// The Environment the objects above were built from (before the real
// client's config: a development Environment's config.image now runs the web
// container, so the development fixture leaves it out).
v1alpha1::EnvironmentSpec ServerSpec(bool development) {
  using kube::J;
  J config = J::Obj({});
  if (!development) config.Set("image", "ghcr.io/org/app:sha");
  config.Set("envVars", J::Arr({J::Obj({{"name", "DEBUG"}, {"value", "true"}})}));
  const kube::Object obj =
      testing_support::EnvironmentBuilder()
          .Name("pr-123")
          .Namespace("my-team-my-project")
          .Uid("6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11")
          .Generation(3)
          .Label("catalyst.dev/team", "my-team")
          .Label("catalyst.dev/project", "my-project")
          .Label("catalyst.dev/environment", "pr-123")
          .Spec(
              J::Obj({{"type", development ? "development" : "deployment"},
                      {"sources", J::Arr({J::Obj({{"name", "web"},
                                                  {"repositoryUrl", "https://github.com/org/repo"},
                                                  {"branch", "feature/login"},
                                                  {"commitSha", "a1b2c3d"},
                                                  {"prNumber", 123}})})},
                      {"config", std::move(config)}}))
          .Build();
  absl::StatusOr<v1alpha1::EnvironmentSpec> env = v1alpha1::ParseEnvironment(obj);
  EXPECT_TRUE(env.ok()) << env.status();
  return *env;
}

Desired ServerFixture(const v1alpha1::EnvironmentSpec& env, absl::string_view ns) {
  absl::StatusOr<Desired> d = Resolve({env, std::string(ns), nullptr, OperatorConfig{}});
  EXPECT_TRUE(d.ok()) << d.status();
  return *d;
}

constexpr char kServerNs[] = "my-team-my-project-pr-123";

struct ServerCase {
  kube::Object desired;
  const std::string& server;
};

std::vector<ServerCase> ServerCases() {
  OperatorConfig cfg;
  const Desired dev = ServerFixture(ServerSpec(true), kServerNs);
  std::vector<kube::Object> policies = BuildNetworkPolicies(dev, cfg);
  auto claim = [&](absl::string_view name) {
    for (const ClaimObject& c : dev.claims)
      if (c.name == name) return BuildClaim(dev, c, cfg);
    return kube::Object();
  };
  const Desired deployment = ServerFixture(ServerSpec(false), "deploy-ns");
  return {
      {BuildNamespace(dev), kServerNamespace},
      {BuildResourceQuota(dev), kServerResourceQuotaEnvironmentQuota},
      {policies[0], kServerNetworkPolicyEnvironmentIsolation},
      {policies[1], kServerNetworkPolicyAllowWeb},
      {claim("postgres-data"), kServerPersistentVolumeClaimPostgresData},
      {BuildDeployment(dev, dev.services.front()), kServerDeploymentPostgres},
      {BuildService(dev, dev.services.front()), kServerServicePostgres},
      {claim("workspace"), kServerPersistentVolumeClaimWorkspace},
      {BuildDeployment(dev, dev.main), kServerDeploymentWeb},
      {BuildService(dev, dev.main), kServerServiceWeb},
      {BuildIngress(dev, cfg), kServerIngressWeb},
      // The deployment-type web Deployment, applied in namespace deploy-ns.
      {BuildDeployment(deployment, deployment.main), kServerDeploymentTypeDeploymentWeb},
  };
}

TEST(SubsetServerTest, BuiltObjectsAreSubsetsOfWhatTheServerStored) {
  for (const ServerCase& c : ServerCases()) {
    SCOPED_TRACE(absl::StrCat(c.desired.Kind(), " ", c.desired.Name()));
    rapidjson::Document server = Doc(c.server);
    EXPECT_EQ(c.desired.Name(), kube::StrOf(kube::Member(server["metadata"], "name")));
    EXPECT_TRUE(kube::IsSubset(c.desired.json(), server));
    // Not the other way round: the server added defaults.
    EXPECT_FALSE(kube::IsSubset(server, c.desired.json()));
  }
}

// An edit of the server's copy that the planner must repair.
bool StillSubsetAfter(const kube::Object& desired, const std::string& server,
                      const std::function<void(rapidjson::Document&)>& edit) {
  rapidjson::Document d = Doc(server);
  edit(d);
  return kube::IsSubset(desired.json(), d);
}

void Set(rapidjson::Document& d, const char* pointer, const char* value) {
  rapidjson::Value* v = rapidjson::Pointer(pointer).Get(d);
  ASSERT_NE(v, nullptr) << pointer;
  v->SetString(value, d.GetAllocator());
}

void EraseAt(rapidjson::Document& d, const char* array_pointer, rapidjson::SizeType i) {
  rapidjson::Value* v = rapidjson::Pointer(array_pointer).Get(d);
  ASSERT_TRUE(v && v->IsArray() && i < v->Size()) << array_pointer;
  v->Erase(v->Begin() + i);
}

TEST(SubsetServerTest, DriftIsSeen) {
  std::vector<ServerCase> cases = ServerCases();
  auto find = [&](const std::string& server) -> const kube::Object& {
    for (const ServerCase& c : cases)
      if (&c.server == &server) return c.desired;
    ADD_FAILURE() << "no case";
    return cases[0].desired;
  };
  const kube::Object& web = find(kServerDeploymentWeb);
  const kube::Object& postgres = find(kServerDeploymentPostgres);

  // The web memory limit lowered (the OOMKilled setting of docs/contract.md, "Resource limits").
  EXPECT_FALSE(StillSubsetAfter(web, kServerDeploymentWeb, [](auto& d) {
    Set(d, "/spec/template/spec/containers/0/resources/limits/memory", "1Gi");
  }));
  // An init container removed.
  EXPECT_FALSE(StillSubsetAfter(web, kServerDeploymentWeb, [](auto& d) {
    EraseAt(d, "/spec/template/spec/initContainers", 2);
  }));
  // The image replaced, the command edited.
  EXPECT_FALSE(StillSubsetAfter(web, kServerDeploymentWeb, [](auto& d) {
    Set(d, "/spec/template/spec/containers/0/image", "node:18");
  }));
  EXPECT_FALSE(StillSubsetAfter(web, kServerDeploymentWeb, [](auto& d) {
    Set(d, "/spec/template/spec/containers/0/command/3", "--turbo");
  }));
  // An env var added by another manager (kubectl set env) is not drift: an
  // apply would not remove it, and seeing it would re-apply every pass.
  EXPECT_TRUE(StillSubsetAfter(web, kServerDeploymentWeb, [](auto& d) {
    rapidjson::Value* env = rapidjson::Pointer("/spec/template/spec/containers/0/env").Get(d);
    rapidjson::Value extra(rapidjson::kObjectType);
    extra.AddMember("name", "X", d.GetAllocator());
    env->PushBack(extra, d.GetAllocator());
  }));
  // One of ours removed is.
  EXPECT_FALSE(StillSubsetAfter(web, kServerDeploymentWeb, [](auto& d) {
    EraseAt(d, "/spec/template/spec/containers/0/env", 0);
  }));
  // Scaled down.
  EXPECT_FALSE(StillSubsetAfter(postgres, kServerDeploymentPostgres, [](auto& d) {
    rapidjson::Pointer("/spec/replicas").Get(d)->SetInt(0);
  }));
  EXPECT_FALSE(StillSubsetAfter(postgres, kServerDeploymentPostgres, [](auto& d) {
    Set(d, "/spec/template/spec/containers/0/resources/limits/memory", "256Mi");
  }));
  // A NetworkPolicy rule removed or weakened.
  EXPECT_FALSE(StillSubsetAfter(find(kServerNetworkPolicyEnvironmentIsolation),
                                kServerNetworkPolicyEnvironmentIsolation,
                                [](auto& d) { EraseAt(d, "/spec/egress/1/ports", 0); }));
  EXPECT_FALSE(StillSubsetAfter(find(kServerNetworkPolicyEnvironmentIsolation),
                                kServerNetworkPolicyEnvironmentIsolation,
                                [](auto& d) { EraseAt(d, "/spec/policyTypes", 1); }));
  EXPECT_FALSE(StillSubsetAfter(find(kServerNetworkPolicyEnvironmentIsolation),
                                kServerNetworkPolicyEnvironmentIsolation,
                                [](auto& d) { d["spec"].RemoveMember("egress"); }));
  EXPECT_FALSE(StillSubsetAfter(find(kServerNetworkPolicyAllowWeb), kServerNetworkPolicyAllowWeb,
                                [](auto& d) { EraseAt(d, "/spec/ingress/0/ports", 0); }));
  // Metadata: a label the informers filter on, the annotation they map back with.
  EXPECT_FALSE(StillSubsetAfter(find(kServerNamespace), kServerNamespace, [](auto& d) {
    d["metadata"]["labels"].RemoveMember("app.kubernetes.io/managed-by");
  }));
  EXPECT_FALSE(StillSubsetAfter(find(kServerServiceWeb), kServerServiceWeb, [](auto& d) {
    d["metadata"]["annotations"].RemoveMember("catalyst.dev/environment");
  }));
  // Other specs.
  EXPECT_FALSE(StillSubsetAfter(find(kServerResourceQuotaEnvironmentQuota),
                                kServerResourceQuotaEnvironmentQuota,
                                [](auto& d) { Set(d, "/spec/hard/requests.memory", "16Gi"); }));
  EXPECT_FALSE(StillSubsetAfter(find(kServerServiceWeb), kServerServiceWeb, [](auto& d) {
    rapidjson::Pointer("/spec/ports/0/targetPort").Get(d)->SetInt(8080);
  }));
  EXPECT_FALSE(StillSubsetAfter(find(kServerIngressWeb), kServerIngressWeb, [](auto& d) {
    Set(d, "/spec/rules/0/host", "elsewhere.example.test");
  }));
  // What the server and its controllers change is not drift.
  EXPECT_TRUE(StillSubsetAfter(web, kServerDeploymentWeb, [](auto& d) {
    rapidjson::Pointer("/status/readyReplicas").Set(d, 1);
    Set(d, "/metadata/resourceVersion", "999");
    rapidjson::Pointer("/metadata/annotations/deployment.kubernetes.io~1revision").Set(d, "7");
  }));
}

// docs/contract.md, "Reconciliation", "Rules": a spec change rolls out — the new manifest is not a
// subset of the old object; a change that does not touch the web pod is.
TEST(SubsetServerTest, SpecChangesAreSeen) {
  v1alpha1::EnvironmentSpec env = ServerSpec(true);
  env.sources[0].commit_sha = "b2c3d4e";
  Desired d = ServerFixture(env, kServerNs);
  EXPECT_FALSE(kube::IsSubset(BuildDeployment(d, d.main).json(), Doc(kServerDeploymentWeb)));
  env = ServerSpec(true);
  env.sources[0].pr_number = 124;
  env.generation = 4;
  d = ServerFixture(env, kServerNs);
  EXPECT_TRUE(kube::IsSubset(BuildDeployment(d, d.main).json(), Doc(kServerDeploymentWeb)));
  // The image is the deployment type's whole rollout.
  env = ServerSpec(false);
  env.config.container.image = "ghcr.io/org/app:sha2";
  d = ServerFixture(env, "deploy-ns");
  EXPECT_FALSE(
      kube::IsSubset(BuildDeployment(d, d.main).json(), Doc(kServerDeploymentTypeDeploymentWeb)));
}

}  // namespace
}  // namespace controllers
