// The builders of manifests.h (manifests_common.cc, manifests_namespace.cc,
// manifests_workload.cc) and ParseEnvironment against the seed's numbers:
// docs/contract.md, "Reconciliation" (its steps, "Network policy", "Resource
// limits" and the init containers of step 6).
#include "controllers/environment/manifests.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/v1alpha1/environment.h"
#include "controllers/environment/naming.h"
#include "controllers/environment/resolve.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/json_builder.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "support/environment_fixture.h"

namespace controllers {
namespace {

using rapidjson::Value;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using v1alpha1::EnvironmentSpec;

constexpr char kUid[] = "6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11";
constexpr char kNs[] = "my-team-my-project-pr-123";

// What a test changes of the development Environment below.
struct DevFields {
  std::string type = "development";
  std::string project = "my-project";
  std::string branch = "feature/login";
  std::string commit = "a1b2c3d";
  int pr_number = 123;
  int64_t generation = 3;
  std::string image;  // "": none
  std::vector<std::pair<std::string, std::string>> env_vars = {{"DEBUG", "true"}};
};

// A development Environment as the web app sends it, with a repositoryUrl override
// (docs/contract.md, "Environment").
kube::Object DevEnv(const DevFields& f = {}) {
  using kube::J;
  J config = J::Obj({});
  if (!f.image.empty()) config.Set("image", f.image);
  J vars = J::Arr(J::Array{});
  for (const auto& [name, value] : f.env_vars)
    vars.Push(J::Obj({{"name", name}, {"value", value}}));
  config.Set("envVars", std::move(vars));
  return testing_support::EnvironmentBuilder()
      .Name("pr-123")
      .Namespace("my-team-my-project")
      .Uid(kUid)
      .Generation(f.generation)
      .Label("catalyst.dev/team", "my-team")
      .Label("catalyst.dev/project", "my-project")
      .Label("catalyst.dev/environment", "pr-123")
      .Spec(J::Obj({{"projectRef", J::Obj({{"name", f.project}})},
                    {"type", f.type},
                    {"sources", J::Arr({J::Obj({{"name", "web"},
                                                {"repositoryUrl", "https://github.com/org/repo"},
                                                {"branch", f.branch},
                                                {"commitSha", f.commit},
                                                {"prNumber", f.pr_number}})})},
                    {"config", std::move(config)}}))
      .Build();
}

Desired MustResolve(const kube::Object& obj, const OperatorConfig& cfg = {}) {
  absl::StatusOr<EnvironmentSpec> env = v1alpha1::ParseEnvironment(obj);
  EXPECT_TRUE(env.ok()) << env.status();
  if (!env.ok()) return Desired{};
  absl::StatusOr<std::string> ns = TargetNamespace(*env);
  EXPECT_TRUE(ns.ok());
  absl::StatusOr<Desired> d = Resolve({*env, ns.value_or(""), nullptr, cfg});
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *d : Desired{};
}

Desired Dev(const OperatorConfig& cfg = {}) { return MustResolve(DevEnv(), cfg); }

Desired Deploy(const OperatorConfig& cfg = {}) {
  return MustResolve(DevEnv({.type = "deployment", .image = "ghcr.io/org/app:sha"}), cfg);
}

const Workload* Service(const Desired& d, absl::string_view name) {
  for (const Workload& w : d.services)
    if (w.name == name) return &w;
  return nullptr;
}

kube::Object Claim(const Desired& d, absl::string_view name, const OperatorConfig& cfg = {}) {
  for (const ClaimObject& c : d.claims)
    if (c.name == name) return BuildClaim(d, c, cfg);
  ADD_FAILURE() << "no claim " << name;
  return kube::Object();
}

std::string Serialize(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return buf.GetString();
}

// Object equality (member order ignored), printing both sides on failure.
void ExpectJsonEq(const Value& actual, absl::string_view expected_json) {
  rapidjson::Document expected;
  expected.Parse(expected_json.data(), expected_json.size());
  ASSERT_FALSE(expected.HasParseError()) << expected_json;
  EXPECT_TRUE(actual == expected) << "actual:   " << Serialize(actual)
                                  << "\nexpected: " << Serialize(expected);
}

std::string Str(const Value* v) { return std::string(kube::StrOf(v)); }

const Value& Containers(const kube::Object& d, absl::string_view which = "containers") {
  const Value* v = d.Find({"spec", "template", "spec", which});
  EXPECT_TRUE(v && v->IsArray()) << which;
  static const Value kEmpty(rapidjson::kArrayType);
  return v ? *v : kEmpty;
}

std::vector<std::string> Names(const Value& list) {
  std::vector<std::string> out;
  for (const auto& c : list.GetArray()) out.push_back(Str(kube::Member(c, "name")));
  return out;
}

// name -> value of a container's env.
std::string EnvOf(const Value& container, absl::string_view name) {
  const Value* env = kube::Member(container, "env");
  if (!env) return "<no env>";
  for (const auto& e : env->GetArray())
    if (kube::StrOf(kube::Member(e, "name")) == name) {
      if (const Value* ref = kube::Member(e, "valueFrom"))
        return absl::StrCat("<valueFrom ",
                            Str(kube::Member(*kube::Member(*ref, "secretKeyRef"), "name")), "/",
                            Str(kube::Member(*kube::Member(*ref, "secretKeyRef"), "key")), ">");
      return Str(kube::Member(e, "value"));
    }
  return "<unset>";
}

std::vector<kube::Object> AllObjects(const Desired& d, const OperatorConfig& cfg) {
  std::vector<kube::Object> out;
  for (Built& b : BuildAll(d, cfg)) out.push_back(std::move(b.object));
  return out;
}

// --- every object ------------------------------------------------------------------------------

TEST(BuildersTest, EveryObjectCarriesTheManagedLabelsAndTheEnvironmentAnnotation) {
  OperatorConfig cfg;
  for (const Desired& d : {Dev(), Deploy()}) {
    std::vector<kube::Object> objs = AllObjects(d, cfg);
    EXPECT_EQ(objs.size(), d.mode == v1alpha1::DeploymentMode::kDevelopment ? 11u : 10u);
    for (const kube::Object& o : objs) {
      SCOPED_TRACE(absl::StrCat(o.Kind(), " ", o.Name()));
      EXPECT_FALSE(o.ApiVersion().empty());
      EXPECT_FALSE(o.Kind().empty());
      EXPECT_FALSE(o.Name().empty());
      EXPECT_EQ(o.Namespace(), o.Kind() == "Namespace" ? "" : kNs);
      EXPECT_EQ(o.Label(kManagedByLabel), "kube-operator");
      EXPECT_EQ(o.Label(kPartOfLabel), "catalyst-environment");
      EXPECT_EQ(o.Label(kEnvironmentUidLabel), kUid);
      EXPECT_EQ(o.Annotation(kEnvironmentAnnotation), "my-team-my-project/pr-123");
      if (o.Kind() == "Deployment" || o.Kind() == "Service" ||
          o.Kind() == "PersistentVolumeClaim" || o.Kind() == "Ingress")
        EXPECT_THAT(o.Label(kAppNameLabel), ::testing::AnyOf("postgres", "web"));
      else
        EXPECT_EQ(o.Label(kAppNameLabel), "");
      if (o.Kind() == "Deployment") {
        EXPECT_EQ(o.Str({"spec", "template", "metadata", "labels", kEnvironmentUidLabel}), kUid);
        EXPECT_EQ(o.Str({"spec", "template", "metadata", "labels", kAppNameLabel}), o.Name());
        EXPECT_EQ(o.Str({"spec", "template", "metadata", "labels", kManagedByLabel}),
                  "kube-operator");
        EXPECT_EQ(o.Str({"spec", "selector", "matchLabels", kAppNameLabel}), o.Name());
      }
    }
  }
}

TEST(BuildersTest, NamespaceCarriesTheHierarchyBranchAndTypeLabels) {
  kube::Object ns = BuildNamespace(Dev());
  EXPECT_EQ(ns.ApiVersion(), "v1");
  EXPECT_EQ(ns.Name(), kNs);
  EXPECT_EQ(ns.Label("catalyst.dev/team"), "my-team");
  EXPECT_EQ(ns.Label("catalyst.dev/project"), "my-project");
  EXPECT_EQ(ns.Label("catalyst.dev/environment"), "pr-123");
  EXPECT_EQ(ns.Label("catalyst.dev/branch"), "feature-login");
  EXPECT_EQ(ns.Label("catalyst.dev/namespace-type"), "environment");
  Desired bare = Dev();
  bare.env.team.clear();
  bare.branch_label.clear();
  EXPECT_EQ(BuildNamespace(bare).Find({"metadata", "labels", "catalyst.dev/team"}), nullptr);
  EXPECT_EQ(BuildNamespace(bare).Find({"metadata", "labels", "catalyst.dev/branch"}), nullptr);
}

TEST(BuildersTest, ResourceQuotaSendsCanonicalQuantities) {
  OperatorConfig cfg;
  cfg.quota_memory = "8192Mi";
  cfg.quota_cpu = "4000m";
  kube::Object q = BuildResourceQuota(Dev(cfg));
  EXPECT_EQ(q.Name(), "environment-quota");
  ExpectJsonEq(*q.Find({"spec"}), R"({"hard": {"requests.cpu": "4", "requests.memory": "8Gi",
      "limits.memory": "8Gi", "requests.storage": "20Gi", "pods": "20"}})");
}

// --- NetworkPolicy: docs/contract.md, "Network policy" ----------------------------------------

TEST(BuildersTest, NetworkPoliciesAreTheFiveRulesInTwoObjects) {
  std::vector<kube::Object> p = BuildNetworkPolicies(Dev(), OperatorConfig{});
  ASSERT_EQ(p.size(), 2u);
  for (const auto& o : p) EXPECT_EQ(o.ApiVersion(), "networking.k8s.io/v1");
  // Every pod: 1 (isolated both ways), 3 (same namespace, both halves), 4 (DNS
  // over UDP and TCP to kube-system), 5 (HTTPS anywhere).
  EXPECT_EQ(p[0].Name(), "environment-isolation");
  ExpectJsonEq(*p[0].Find({"spec"}), R"({
      "podSelector": {}, "policyTypes": ["Ingress", "Egress"],
      "ingress": [{"from": [{"podSelector": {}}]}],
      "egress": [{"to": [{"podSelector": {}}]},
                 {"to": [{"namespaceSelector":
                              {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
                  "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                 {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.0.0/16"]}},
                         {"ipBlock": {"cidr": "::/0", "except": ["fe80::/10"]}}],
                  "ports": [{"protocol": "TCP", "port": 443}]}]})");
  // The web pods: 2 (the ingress controller's namespace, the web port only).
  EXPECT_EQ(p[1].Name(), "allow-web");
  ExpectJsonEq(*p[1].Find({"spec"}), R"({
      "podSelector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
      "policyTypes": ["Ingress"],
      "ingress": [{"from": [{"namespaceSelector":
                                {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}],
                   "ports": [{"protocol": "TCP", "port": 3000}]}]})");
}

TEST(BuildersTest, NetworkPolicyNamespacesAreConfigurable) {
  OperatorConfig cfg;
  cfg.ingress_namespace = "traefik";
  cfg.dns_namespace = "dns";
  std::vector<kube::Object> p = BuildNetworkPolicies(Dev(), cfg);
  EXPECT_NE(Serialize(p[1].json()).find("traefik"), std::string::npos);
  EXPECT_NE(Serialize(p[0].json()).find("\"dns\""), std::string::npos);
}

// --- postgres -----------------------------------------------------------------------------------

TEST(BuildersTest, PostgresDeploymentHas512MiAndItsCredentialsAndVolume) {
  const Desired dev = Dev();
  ASSERT_NE(Service(dev, "postgres"), nullptr);
  kube::Object d = BuildDeployment(dev, *Service(dev, "postgres"));
  EXPECT_EQ(d.ApiVersion(), "apps/v1");
  EXPECT_EQ(d.Name(), "postgres");
  EXPECT_EQ(d.Int({"spec", "replicas"}), 1);
  EXPECT_EQ(d.Str({"spec", "strategy", "type"}), "Recreate");
  const Value& cs = Containers(d);
  ASSERT_EQ(cs.Size(), 1u);
  const Value& c = cs[0];
  EXPECT_EQ(Str(kube::Member(c, "image")), "postgres:16-alpine");
  ExpectJsonEq(
      *kube::Member(c, "resources"),
      R"({"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"memory": "512Mi"}})");
  EXPECT_EQ(EnvOf(c, "POSTGRES_DB"), "app");
  EXPECT_EQ(EnvOf(c, "POSTGRES_USER"), "app");
  EXPECT_EQ(EnvOf(c, "POSTGRES_PASSWORD"), "<valueFrom postgres-credentials/password>");
  EXPECT_EQ(EnvOf(c, "PGDATA"), "/var/lib/postgresql/data/pgdata");
  ExpectJsonEq(*kube::Member(c, "ports"),
               R"([{"name": "postgres", "containerPort": 5432, "protocol": "TCP"}])");
  ExpectJsonEq(*kube::Member(c, "readinessProbe"),
               R"({"exec": {"command": ["pg_isready", "-U", "app", "-d", "app"]},
                   "periodSeconds": 5})");
  ExpectJsonEq(*d.Find({"spec", "template", "spec", "volumes"}),
               R"([{"name": "data", "persistentVolumeClaim": {"claimName": "postgres-data"}}])");
  ExpectJsonEq(*kube::Member(c, "volumeMounts"),
               R"([{"name": "data", "mountPath": "/var/lib/postgresql/data"}])");

  kube::Object pvc = Claim(dev, "postgres-data");
  EXPECT_EQ(pvc.Label(kAppNameLabel), "postgres");
  ExpectJsonEq(*pvc.Find({"spec"}), R"({"accessModes": ["ReadWriteOnce"],
                                        "resources": {"requests": {"storage": "1Gi"}}})");
  OperatorConfig fast;
  fast.storage_class = "fast";
  EXPECT_EQ(Claim(dev, "postgres-data", fast).Str({"spec", "storageClassName"}), "fast");

  kube::Object svc = BuildService(dev, *Service(dev, "postgres"));
  ExpectJsonEq(*svc.Find({"spec"}), R"({"type": "ClusterIP",
      "selector": {"app.kubernetes.io/name": "postgres"},
      "ports": [{"name": "postgres", "port": 5432, "targetPort": 5432, "protocol": "TCP"}]})");
}

// The password lives in the postgres-credentials Secret only: postgres and
// the web pod reference it, DATABASE_URL is built in the pod from it.
TEST(BuildersTest, ThePasswordIsReferencedNeverWritten) {
  const Desired dev = Dev();
  EXPECT_TRUE(dev.db_credentials);
  const kube::Object deployment = BuildDeployment(dev, dev.main);
  const Value& web = Containers(deployment)[0];
  EXPECT_EQ(EnvOf(web, "DB_PASSWORD"), "<valueFrom postgres-credentials/password>");
  EXPECT_EQ(EnvOf(web, "DATABASE_URL"),
            "postgres://app:$(DB_PASSWORD)@postgres.my-team-my-project-pr-123.svc:5432/app");
  for (const Built& b : BuildAll(dev, OperatorConfig{}))
    EXPECT_EQ(b.object.Serialize().find("s3cr3t"), std::string::npos);
  kube::Object secret = BuildDbSecret(dev, "s3cr3t");
  EXPECT_EQ(secret.Name(), "postgres-credentials");
  EXPECT_EQ(secret.Namespace(), kNs);
  EXPECT_EQ(secret.Label(kManagedByLabel), "kube-operator");
  EXPECT_EQ(secret.Str({"data", "password"}), "czNjcjN0");  // base64
}

// --- web ----------------------------------------------------------------------------------------

TEST(BuildersTest, DevelopmentWebRunsCloneInstallMigrateThenNextDevWith2Gi) {
  const Desired dev = Dev();
  kube::Object d = BuildDeployment(dev, dev.main);
  EXPECT_EQ(d.Name(), "web");
  EXPECT_EQ(d.Str({"spec", "strategy", "type"}), "Recreate");
  const Value& init = Containers(d, "initContainers");
  ASSERT_THAT(Names(init), ElementsAre("git-clone", "npm-install", "db-migrate"));
  const std::string db_url = EnvOf(Containers(d)[0], "DATABASE_URL");
  EXPECT_THAT(db_url, HasSubstr("@postgres.my-team-my-project-pr-123.svc:5432/app"));

  const Value& clone = init[0];
  EXPECT_EQ(Str(kube::Member(clone, "image")), "alpine/git:2.45.2");
  const Value& cmd = *kube::Member(clone, "command");
  ASSERT_EQ(cmd.Size(), 8u);
  EXPECT_EQ(Str(&cmd[3]), "git-clone");  // $0
  EXPECT_EQ(Str(&cmd[0]), "sh");
  EXPECT_EQ(Str(&cmd[1]), "-c");
  EXPECT_THAT(Str(&cmd[2]), HasSubstr("git checkout -q -f --detach \"$ref\""));
  // URL, branch, sha and destination are positional parameters, not part of the script.
  EXPECT_EQ(Str(&cmd[4]), "https://github.com/org/repo");
  EXPECT_EQ(Str(&cmd[5]), "feature/login");
  EXPECT_EQ(Str(&cmd[6]), "a1b2c3d");
  EXPECT_EQ(Str(&cmd[7]), "/workspace/app");
  EXPECT_THAT(Str(&cmd[2]), ::testing::Not(HasSubstr("github.com")));

  const Value& install = init[1];
  EXPECT_EQ(Str(kube::Member(install, "image")), "node:20-bookworm-slim");
  ExpectJsonEq(*kube::Member(install, "command"), R"(["npm", "ci"])");
  EXPECT_EQ(Str(kube::Member(install, "workingDir")), "/workspace/app");
  EXPECT_EQ(EnvOf(install, "npm_config_cache"), "/workspace/.npm");

  const Value& migrate = init[2];
  EXPECT_EQ(Str(kube::Member(migrate, "image")), "node:20-bookworm-slim");
  ExpectJsonEq(*kube::Member(migrate, "command"), R"(["npm", "run", "db:migrate"])");
  EXPECT_EQ(EnvOf(migrate, "DATABASE_URL"), db_url);
  EXPECT_EQ(EnvOf(migrate, "DEBUG"), "true");

  const Value& cs = Containers(d);
  ASSERT_THAT(Names(cs), ElementsAre("web"));
  const Value& web = cs[0];
  EXPECT_EQ(Str(kube::Member(web, "image")), "node:20-bookworm-slim");
  ExpectJsonEq(
      *kube::Member(web, "command"),
      R"(["npx", "next", "dev", "--turbopack", "--hostname", "0.0.0.0", "--port", "3000"])");
  EXPECT_EQ(Str(kube::Member(web, "workingDir")), "/workspace/app");
  ExpectJsonEq(*kube::Member(web, "resources"),
               R"({"requests": {"cpu": "250m", "memory": "2Gi"}, "limits": {"memory": "2Gi"}})");
  ExpectJsonEq(*kube::Member(web, "env"),
               absl::StrCat(R"([{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef":
                                   {"name": "postgres-credentials", "key": "password"}}},
                                {"name": "DATABASE_URL", "value": ")",
                            db_url, R"json("},
      {"name": "PORT", "value": "3000"}, {"name": "DEBUG", "value": "true"}])json"));
  ExpectJsonEq(*kube::Member(web, "ports"),
               R"([{"name": "http", "containerPort": 3000, "protocol": "TCP"}])");
  ExpectJsonEq(*kube::Member(web, "readinessProbe"),
               R"({"tcpSocket": {"port": 3000}, "periodSeconds": 5})");
  // Every container, init ones too, states its resources (the quota demands it).
  for (const Value* list : {&init, &cs})
    for (const auto& c : list->GetArray()) {
      EXPECT_EQ(kube::StrOf(
                    kube::Member(*kube::Member(*kube::Member(c, "resources"), "limits"), "memory")),
                "2Gi");
      ExpectJsonEq(*kube::Member(c, "volumeMounts"),
                   R"([{"name": "workspace", "mountPath": "/workspace"}])");
    }
  ExpectJsonEq(*d.Find({"spec", "template", "spec", "volumes"}),
               R"([{"name": "workspace", "persistentVolumeClaim": {"claimName": "workspace"}}])");
  EXPECT_EQ(d.Find({"spec", "template", "spec", "imagePullSecrets"}), nullptr);

  kube::Object ws = Claim(dev, "workspace");
  EXPECT_EQ(ws.Label(kAppNameLabel), "web");
  EXPECT_EQ(ws.Str({"spec", "resources", "requests", "storage"}), "5Gi");
}

TEST(BuildersTest, DeploymentTypeRunsTheImageWithOnlyDbMigrate) {
  const Desired dep = Deploy();
  EXPECT_EQ(dep.mode, v1alpha1::DeploymentMode::kProduction);
  kube::Object d = BuildDeployment(dep, dep.main);
  const Value& init = Containers(d, "initContainers");
  ASSERT_THAT(Names(init), ElementsAre("db-migrate"));
  EXPECT_EQ(Str(kube::Member(init[0], "image")), "ghcr.io/org/app:sha");
  const Value& cs = Containers(d);
  EXPECT_EQ(EnvOf(init[0], "DATABASE_URL"), EnvOf(cs[0], "DATABASE_URL"));
  ASSERT_THAT(Names(cs), ElementsAre("web"));
  EXPECT_EQ(Str(kube::Member(cs[0], "image")), "ghcr.io/org/app:sha");
  EXPECT_EQ(kube::Member(cs[0], "command"), nullptr);  // the image's entrypoint
  EXPECT_EQ(kube::Member(cs[0], "volumeMounts"), nullptr);
  EXPECT_EQ(d.Find({"spec", "template", "spec", "volumes"}), nullptr);
  EXPECT_EQ(kube::StrOf(
                kube::Member(*kube::Member(*kube::Member(cs[0], "resources"), "limits"), "memory")),
            "2Gi");
  for (const ClaimObject& c : dep.claims) EXPECT_NE(c.name, "workspace");
}

TEST(BuildersTest, UserEnvVarsComeAfterOursAndWinOnAName) {
  const Desired d = MustResolve(
      DevEnv({.env_vars = {{"DATABASE_URL", "postgres://elsewhere/db"}, {"X", "$(PORT)"}}}));
  ExpectJsonEq(*kube::Member(Containers(BuildDeployment(d, d.main))[0], "env"),
               R"json([{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef":
                          {"name": "postgres-credentials", "key": "password"}}},
                       {"name": "DATABASE_URL", "value": "postgres://elsewhere/db"},
                       {"name": "PORT", "value": "3000"},
                       {"name": "X", "value": "$(PORT)"}])json");
}

// docs/contract.md, "Reconciliation", "Rules": spec changes roll out — the pod
// template changes with what the pod runs, and only then.
TEST(BuildersTest, PodTemplateChangesWithWhatThePodRunsOnly) {
  auto tmpl = [](const DevFields& f) {
    const Desired d = MustResolve(DevEnv(f));
    return Serialize(*BuildDeployment(d, d.main).Find({"spec", "template"}));
  };
  const std::string base = tmpl({});
  EXPECT_EQ(tmpl({}), base);
  EXPECT_NE(tmpl({.commit = "b2c3d4e"}), base);
  EXPECT_NE(tmpl({.branch = "main"}), base);
  EXPECT_NE(tmpl({.env_vars = {{"DEBUG", "false"}}}), base);
  // Not: generation, prNumber, projectRef.
  EXPECT_EQ(tmpl({.generation = 9}), base);
  EXPECT_EQ(tmpl({.pr_number = 7}), base);
  EXPECT_EQ(tmpl({.project = "other"}), base);
}

TEST(BuildersTest, WebServiceAndIngressRouteTheHostToPort3000) {
  OperatorConfig cfg;
  const Desired dev = Dev();
  kube::Object svc = BuildService(dev, dev.main);
  ExpectJsonEq(*svc.Find({"spec"}), R"({"type": "ClusterIP",
      "selector": {"app.kubernetes.io/name": "web"},
      "ports": [{"name": "http", "port": 80, "targetPort": 3000, "protocol": "TCP"}]})");
  kube::Object ing = BuildIngress(dev, cfg);
  EXPECT_EQ(ing.ApiVersion(), "networking.k8s.io/v1");
  ExpectJsonEq(*ing.Find({"spec"}), R"({"ingressClassName": "nginx", "rules": [{
      "host": "my-team-my-project-pr-123.preview.local",
      "http": {"paths": [{"path": "/", "pathType": "Prefix",
                          "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]})");
  EXPECT_EQ(EnvironmentUrl(dev, cfg), "http://my-team-my-project-pr-123.preview.local");
  cfg.url_host_template = "{name}.{namespace}.example.test";
  cfg.url_scheme = "https";
  cfg.ingress_class = "";
  EXPECT_EQ(EnvironmentUrl(dev, cfg), "https://pr-123.my-team-my-project-pr-123.example.test");
  EXPECT_EQ(BuildIngress(dev, cfg).Find({"spec", "ingressClassName"}), nullptr);
}

TEST(BuildersTest, RegistrySecretCopiesTypeAndData) {
  Desired d = Dev();
  d.pull_secret = true;
  auto source = kube::Object::Parse(R"({"apiVersion":"v1","kind":"Secret","metadata":{
      "name":"registry-credentials","namespace":"my-team","resourceVersion":"5",
      "labels":{"team":"x"}},"type":"kubernetes.io/dockerconfigjson",
      "data":{".dockerconfigjson":"e30="}})");
  ASSERT_TRUE(source.ok());
  kube::Object copy = BuildRegistrySecret(d, *source);
  EXPECT_EQ(copy.Namespace(), kNs);
  EXPECT_EQ(copy.Name(), "registry-credentials");
  EXPECT_EQ(copy.Label(kManagedByLabel), "kube-operator");
  EXPECT_EQ(copy.Label("team"), "");
  EXPECT_EQ(copy.ResourceVersion(), "");
  EXPECT_EQ(copy.Str({"type"}), "kubernetes.io/dockerconfigjson");
  EXPECT_EQ(copy.Str({"data", ".dockerconfigjson"}), "e30=");
  for (const Workload* w : {&d.main, &d.services.front()})
    ExpectJsonEq(*BuildDeployment(d, *w).Find({"spec", "template", "spec", "imagePullSecrets"}),
                 R"([{"name": "registry-credentials"}])");
}

TEST(BuildersTest, ValidateConfig) {
  EXPECT_TRUE(ValidateConfig(OperatorConfig{}).ok());
  OperatorConfig cfg;
  cfg.quota_memory = "2Gi";  // web 2Gi + postgres 512Mi does not fit
  EXPECT_THAT(
      ValidateConfig(cfg).message(),
      HasSubstr("quota_memory 2Gi cannot hold web_memory_limit 2Gi + postgres_memory_limit 512Mi"));
  cfg = OperatorConfig{};
  cfg.web_memory_limit = "2 Gi";
  EXPECT_THAT(ValidateConfig(cfg).message(), HasSubstr("web_memory_limit: quantity \"2 Gi\""));
  cfg = OperatorConfig{};
  cfg.url_host_template = "{namespace}_preview.local";
  EXPECT_THAT(ValidateConfig(cfg).message(), HasSubstr("url_host_template"));
  cfg = OperatorConfig{};
  cfg.quota_storage = "5Gi";
  EXPECT_THAT(ValidateConfig(cfg).message(), HasSubstr("quota_storage 5Gi cannot hold"));
  // docs/contract.md "Tenant isolation": {name} repeats across projects.
  cfg = OperatorConfig{};
  cfg.url_host_template = "{name}.preview.local";
  EXPECT_THAT(ValidateConfig(cfg).message(), HasSubstr("must contain {namespace}"));
  cfg = OperatorConfig{};
  cfg.egress_except_cidrs = "10.0.0.0/8,not-a-cidr";
  EXPECT_THAT(ValidateConfig(cfg).message(), HasSubstr("\"not-a-cidr\" is not a CIDR"));
  cfg.egress_except_cidrs = "0.0.0.0/0";
  EXPECT_THAT(ValidateConfig(cfg).message(), HasSubstr("excepts every address"));
  cfg = OperatorConfig{};
  cfg.git_ports = "22,70000";
  EXPECT_THAT(ValidateConfig(cfg).message(), HasSubstr("\"70000\" is not a TCP port"));
  cfg = OperatorConfig{};
  cfg.quota_max_cpu = "lots";
  EXPECT_THAT(ValidateConfig(cfg).message(), HasSubstr("quota_max_cpu"));
  // docs/contract.md, "Image builds": a registry is host[:port][/path].
  cfg = OperatorConfig{};
  for (const char* good :
       {"registry.example.com:5000/previews", "ghcr.io/acme/", "localhost:5000"}) {
    cfg.registry = good;
    EXPECT_TRUE(ValidateConfig(cfg).ok()) << good;
  }
  for (const char* bad : {"https://registry.example.com", "user@registry", "Registry.Example",
                          "host:abc", "host/x:tag", "host//x", "a:1:2", "host/x\n", ".host"}) {
    cfg.registry = bad;
    EXPECT_THAT(ValidateConfig(cfg).message(), HasSubstr("is not a lowercase host")) << bad;
  }
  cfg = OperatorConfig{};
  cfg.build_timeout = absl::ZeroDuration();
  EXPECT_THAT(ValidateConfig(cfg).message(), HasSubstr("build_timeout"));
}

}  // namespace
}  // namespace controllers
