// Builders and ParseEnvironment against the seed's numbers: operator-AGENTS.md
// ("NetworkPolicy Configuration", "Resource Limits", init containers) and
// PRODUCT.md "Reconciliation".
#include "controllers/builders.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "controllers/environment.h"
#include "controllers/naming.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace controllers {
namespace {

using rapidjson::Value;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kUid[] = "6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11";
constexpr char kNs[] = "my-team-my-project-pr-123";

// PRODUCT.md "API"'s example Environment.
std::string DevJson(absl::string_view extra_spec = "") {
  return absl::StrCat(R"({
    "apiVersion": "catalyst.catalyst.dev/v1alpha1", "kind": "Environment",
    "metadata": {"name": "pr-123", "namespace": "my-team-my-project", "uid": ")",
                      kUid, R"(", "generation": 3,
      "labels": {"catalyst.dev/team": "my-team", "catalyst.dev/project": "my-project",
                 "catalyst.dev/environment": "pr-123"}},
    "spec": {)",
                      extra_spec, R"(
      "projectRef": {"name": "my-project"},
      "type": "development",
      "sources": [{"name": "web", "repositoryUrl": "https://github.com/org/repo",
                   "branch": "feature/login", "commitSha": "a1b2c3d", "prNumber": 123}],
      "config": {"envVars": [{"name": "DEBUG", "value": "true"}]}}})");
}

EnvironmentSpec MustParse(absl::string_view json) {
  absl::StatusOr<kube::Object> obj = kube::Object::Parse(json);
  EXPECT_TRUE(obj.ok()) << obj.status();
  absl::StatusOr<EnvironmentSpec> env = ParseEnvironment(*obj);
  EXPECT_TRUE(env.ok()) << env.status();
  return env.ok() ? *env : EnvironmentSpec{};
}

EnvironmentSpec Dev() { return MustParse(DevJson()); }

EnvironmentSpec Deploy() {
  EnvironmentSpec e = Dev();
  e.type = EnvironmentType::kDeployment;
  e.image = "ghcr.io/org/app:sha";
  return e;
}

absl::Status ParseError(absl::string_view json) {
  absl::StatusOr<kube::Object> obj = kube::Object::Parse(json);
  EXPECT_TRUE(obj.ok()) << obj.status();
  return ParseEnvironment(*obj).status();
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
    if (kube::StrOf(kube::Member(e, "name")) == name) return Str(kube::Member(e, "value"));
  return "<unset>";
}

std::vector<kube::Object> AllObjects(const EnvironmentSpec& env, const OperatorConfig& cfg) {
  std::vector<kube::Object> out = {BuildNamespace(env, kNs, cfg),
                                   BuildResourceQuota(env, kNs, cfg)};
  for (auto& p : BuildNetworkPolicies(env, kNs, cfg)) out.push_back(p);
  out.push_back(BuildPostgresPvc(env, kNs, cfg));
  out.push_back(BuildPostgresDeployment(env, kNs, cfg));
  out.push_back(BuildPostgresService(env, kNs, cfg));
  if (NeedsWorkspace(env)) out.push_back(BuildWorkspacePvc(env, kNs, cfg));
  out.push_back(BuildWebDeployment(env, kNs, cfg));
  out.push_back(BuildWebService(env, kNs, cfg));
  out.push_back(BuildIngress(env, kNs, cfg));
  return out;
}

// --- ParseEnvironment --------------------------------------------------------------------------

TEST(BuilderParseEnvironmentTest, ReadsTheProductExample) {
  EnvironmentSpec e = Dev();
  EXPECT_EQ(e.name, "pr-123");
  EXPECT_EQ(e.namespace_, "my-team-my-project");
  EXPECT_EQ(e.uid, kUid);
  EXPECT_EQ(e.generation, 3);
  EXPECT_EQ(e.team, "my-team");
  EXPECT_EQ(e.project, "my-project");
  EXPECT_EQ(e.environment, "pr-123");
  EXPECT_EQ(e.project_ref, "my-project");
  EXPECT_EQ(e.type, EnvironmentType::kDevelopment);
  ASSERT_EQ(e.sources.size(), 1u);
  EXPECT_EQ(e.sources[0].repository_url, "https://github.com/org/repo");
  EXPECT_EQ(e.sources[0].branch, "feature/login");
  EXPECT_EQ(e.sources[0].commit_sha, "a1b2c3d");
  EXPECT_EQ(e.sources[0].pr_number, 123);
  ASSERT_EQ(e.env_vars.size(), 1u);
  EXPECT_EQ(e.env_vars[0].name, "DEBUG");
  EXPECT_EQ(e.env_vars[0].value, "true");
  EXPECT_EQ(e.WebSource(), &e.sources[0]);
  EXPECT_EQ(*TargetNamespace(e), kNs);
}

TEST(BuilderParseEnvironmentTest, DeploymentNeedsAnImage) {
  absl::Status s = ParseError(R"({"metadata": {"name": "a", "namespace": "b", "uid": "u"},
                                  "spec": {"type": "deployment"}})");
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_EQ(s.message(), "spec.config.image is required for type deployment");
  EXPECT_TRUE(ParseError(R"({"metadata": {"name": "a", "namespace": "b", "uid": "u"},
                             "spec": {"type": "deployment", "config": {"image": "x:1"}}})")
                  .ok());
}

TEST(BuilderParseEnvironmentTest, DevelopmentNeedsARepository) {
  absl::Status s = ParseError(R"({"metadata": {"name": "a", "namespace": "b", "uid": "u"},
                                  "spec": {"type": "development"}})");
  EXPECT_THAT(s.message(), HasSubstr("spec.sources needs a source named \"web\""));
  s = ParseError(R"({"metadata": {"name": "a", "namespace": "b", "uid": "u"},
                     "spec": {"type": "development", "sources": [{"name": "web"}]}})");
  EXPECT_THAT(s.message(), HasSubstr("spec.sources[0].repositoryUrl is required"));
}

// The source named "web" wins; otherwise the first one is cloned.
TEST(BuilderParseEnvironmentTest, WebSourceIsTheOneNamedWebElseTheFirst) {
  EnvironmentSpec e = MustParse(R"({"metadata": {"name": "a", "namespace": "b", "uid": "u"},
      "spec": {"type": "development", "sources": [
        {"name": "api", "repositoryUrl": "https://x/api"},
        {"name": "web", "repositoryUrl": "https://x/web"}]}})");
  EXPECT_EQ(e.WebSource()->repository_url, "https://x/web");
  e = MustParse(R"({"metadata": {"name": "a", "namespace": "b", "uid": "u"},
      "spec": {"type": "development", "sources": [
        {"name": "app", "repositoryUrl": "https://x/app"},
        {"name": "docs", "repositoryUrl": "https://x/docs"}]}})");
  EXPECT_EQ(e.WebSource()->repository_url, "https://x/app");
}

TEST(BuilderParseEnvironmentTest, ReportsEveryProblemNamingTheField) {
  absl::Status s = ParseError(R"({"metadata": {"name": "a", "namespace": "b"},
      "spec": {"type": "staging",
               "sources": [{"name": "web", "repositoryUrl": "ftp://x", "branch": "a..b",
                            "commitSha": "XYZ", "prNumber": 0}],
               "config": {"image": 5, "envVars": [{"name": "A", "value": "1"},
                                                  {"name": "A", "value": "2"},
                                                  {"name": "1BAD"}]}}})");
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  for (const char* part :
       {"metadata.uid is missing", "spec.type \"staging\" is not one of development, deployment",
        "spec.sources[0].repositoryUrl \"ftp://x\" must start with https://",
        "spec.sources[0].branch \"a..b\" is not a valid git branch name",
        "spec.sources[0].commitSha \"XYZ\" must be 7 to 40 lowercase hex digits",
        "spec.sources[0].prNumber must be a positive integer", "spec.config.image must be a string",
        "spec.config.envVars[1].name \"A\" is listed more than once",
        "spec.config.envVars[2].name \"1BAD\" must start with a letter"})
    EXPECT_THAT(s.message(), HasSubstr(part));
  EXPECT_THAT(ParseError(R"({"metadata": {"name": "a", "namespace": "b", "uid": "u"}})").message(),
              HasSubstr("spec is required"));
  EXPECT_THAT(ParseError(R"({"metadata": {"name": "a", "namespace": "b", "uid": "u"}, "spec": {}})")
                  .message(),
              HasSubstr("spec.type is required"));
}

// --- every object ------------------------------------------------------------------------------

TEST(BuildersTest, EveryObjectCarriesTheManagedLabelsAndTheEnvironmentAnnotation) {
  OperatorConfig cfg;
  for (const EnvironmentSpec& env : {Dev(), Deploy()}) {
    std::vector<kube::Object> objs = AllObjects(env, cfg);
    EXPECT_EQ(objs.size(), NeedsWorkspace(env) ? 14u : 13u);
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

TEST(BuildersTest, NamespaceCarriesTheHierarchyLabels) {
  kube::Object ns = BuildNamespace(Dev(), kNs, OperatorConfig{});
  EXPECT_EQ(ns.ApiVersion(), "v1");
  EXPECT_EQ(ns.Name(), kNs);
  EXPECT_EQ(ns.Label("catalyst.dev/team"), "my-team");
  EXPECT_EQ(ns.Label("catalyst.dev/project"), "my-project");
  EXPECT_EQ(ns.Label("catalyst.dev/environment"), "pr-123");
  EnvironmentSpec bare = Dev();
  bare.team.clear();
  EXPECT_EQ(
      BuildNamespace(bare, kNs, OperatorConfig{}).Find({"metadata", "labels", "catalyst.dev/team"}),
      nullptr);
}

TEST(BuildersTest, ResourceQuotaSendsCanonicalQuantities) {
  OperatorConfig cfg;
  cfg.quota_memory = "8192Mi";
  cfg.quota_cpu = "4000m";
  kube::Object q = BuildResourceQuota(Dev(), kNs, cfg);
  EXPECT_EQ(q.Name(), "environment-quota");
  ExpectJsonEq(*q.Find({"spec"}), R"({"hard": {"requests.cpu": "4", "requests.memory": "8Gi",
      "limits.memory": "8Gi", "requests.storage": "20Gi", "pods": "20"}})");
}

// --- NetworkPolicy: operator-AGENTS.md "NetworkPolicy Configuration" ----------------------------

TEST(BuildersTest, NetworkPoliciesAreTheFiveRulesInOrder) {
  std::vector<kube::Object> p = BuildNetworkPolicies(Dev(), kNs, OperatorConfig{});
  ASSERT_EQ(p.size(), 5u);
  for (const auto& o : p) EXPECT_EQ(o.ApiVersion(), "networking.k8s.io/v1");
  // 1. default deny-all, ingress and egress.
  EXPECT_EQ(p[0].Name(), "default-deny-all");
  ExpectJsonEq(*p[0].Find({"spec"}),
               R"({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})");
  // 2. ingress from the ingress controller's namespace.
  EXPECT_EQ(p[1].Name(), "allow-ingress-controller");
  ExpectJsonEq(*p[1].Find({"spec"}), R"({"podSelector": {}, "policyTypes": ["Ingress"],
      "ingress": [{"from": [{"namespaceSelector":
          {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]}]})");
  // 3. intra-namespace (both halves of the connection).
  EXPECT_EQ(p[2].Name(), "allow-same-namespace");
  ExpectJsonEq(*p[2].Find({"spec"}), R"({"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
      "ingress": [{"from": [{"podSelector": {}}]}],
      "egress": [{"to": [{"podSelector": {}}]}]})");
  // 4. DNS: UDP and TCP 53 to kube-system.
  EXPECT_EQ(p[3].Name(), "allow-dns-egress");
  ExpectJsonEq(*p[3].Find({"spec"}), R"({"podSelector": {}, "policyTypes": ["Egress"],
      "egress": [{"to": [{"namespaceSelector":
                              {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
                  "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]})");
  // 5. HTTPS anywhere.
  EXPECT_EQ(p[4].Name(), "allow-https-egress");
  ExpectJsonEq(*p[4].Find({"spec"}), R"({"podSelector": {}, "policyTypes": ["Egress"],
      "egress": [{"ports": [{"protocol": "TCP", "port": 443}]}]})");
}

TEST(BuildersTest, NetworkPolicyNamespacesAreConfigurable) {
  OperatorConfig cfg;
  cfg.ingress_namespace = "traefik";
  cfg.dns_namespace = "dns";
  std::vector<kube::Object> p = BuildNetworkPolicies(Dev(), kNs, cfg);
  EXPECT_EQ(Serialize(p[1].json()).find("traefik") != std::string::npos, true);
  EXPECT_EQ(Serialize(p[3].json()).find("\"dns\"") != std::string::npos, true);
}

// --- postgres -----------------------------------------------------------------------------------

TEST(BuildersTest, PostgresDeploymentHas512MiAndItsCredentialsAndVolume) {
  kube::Object d = BuildPostgresDeployment(Dev(), kNs, OperatorConfig{});
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
  EXPECT_EQ(EnvOf(c, "POSTGRES_PASSWORD"), PostgresPassword(Dev()));
  EXPECT_EQ(PostgresPassword(Dev()).size(), 32u);
  EXPECT_EQ(EnvOf(c, "PGDATA"), "/var/lib/postgresql/data/pgdata");
  ExpectJsonEq(*kube::Member(c, "ports"),
               R"([{"name": "postgres", "containerPort": 5432, "protocol": "TCP"}])");
  ExpectJsonEq(*d.Find({"spec", "template", "spec", "volumes"}),
               R"([{"name": "data", "persistentVolumeClaim": {"claimName": "postgres-data"}}])");
  ExpectJsonEq(*kube::Member(c, "volumeMounts"),
               R"([{"name": "data", "mountPath": "/var/lib/postgresql/data"}])");

  kube::Object pvc = BuildPostgresPvc(Dev(), kNs, OperatorConfig{});
  EXPECT_EQ(pvc.Name(), "postgres-data");
  ExpectJsonEq(*pvc.Find({"spec"}), R"({"accessModes": ["ReadWriteOnce"],
                                        "resources": {"requests": {"storage": "1Gi"}}})");
  OperatorConfig fast;
  fast.storage_class = "fast";
  EXPECT_EQ(BuildPostgresPvc(Dev(), kNs, fast).Str({"spec", "storageClassName"}), "fast");

  kube::Object svc = BuildPostgresService(Dev(), kNs, OperatorConfig{});
  ExpectJsonEq(*svc.Find({"spec"}), R"({"type": "ClusterIP",
      "selector": {"app.kubernetes.io/name": "postgres"},
      "ports": [{"name": "postgres", "port": 5432, "targetPort": 5432, "protocol": "TCP"}]})");
}

// The password is stable for an Environment and differs between Environments.
TEST(BuildersTest, PostgresPasswordIsDerivedFromTheUid) {
  EnvironmentSpec a = Dev(), b = Dev();
  b.uid = "another-uid";
  EXPECT_EQ(PostgresPassword(a), PostgresPassword(Dev()));
  EXPECT_NE(PostgresPassword(a), PostgresPassword(b));
  EXPECT_EQ(DatabaseUrl(a, kNs), absl::StrCat("postgres://app:", PostgresPassword(a),
                                              "@postgres.my-team-my-project-pr-123.svc:5432/app"));
}

// --- web ----------------------------------------------------------------------------------------

TEST(BuildersTest, DevelopmentWebRunsCloneInstallMigrateThenNextDevWith2Gi) {
  EnvironmentSpec env = Dev();
  kube::Object d = BuildWebDeployment(env, kNs, OperatorConfig{});
  EXPECT_EQ(d.Name(), "web");
  EXPECT_EQ(d.Str({"spec", "strategy", "type"}), "Recreate");
  const Value& init = Containers(d, "initContainers");
  ASSERT_THAT(Names(init), ElementsAre("git-clone", "npm-install", "db-migrate"));
  const std::string db_url = DatabaseUrl(env, kNs);

  const Value& clone = init[0];
  EXPECT_EQ(Str(kube::Member(clone, "image")), "alpine/git:2.45.2");
  const Value& cmd = *kube::Member(clone, "command");
  ASSERT_EQ(cmd.Size(), 7u);
  EXPECT_EQ(Str(&cmd[3]), "git-clone");  // $0
  EXPECT_EQ(Str(&cmd[0]), "sh");
  EXPECT_EQ(Str(&cmd[1]), "-c");
  EXPECT_THAT(Str(&cmd[2]), HasSubstr("git -C \"$dest.next\" checkout -q --detach \"$sha\""));
  // URL, branch and sha are positional parameters, not part of the script.
  EXPECT_EQ(Str(&cmd[4]), "https://github.com/org/repo");
  EXPECT_EQ(Str(&cmd[5]), "feature/login");
  EXPECT_EQ(Str(&cmd[6]), "a1b2c3d");
  EXPECT_THAT(Str(&cmd[2]), ::testing::Not(HasSubstr("github.com")));

  const Value& install = init[1];
  EXPECT_EQ(Str(kube::Member(install, "image")), "node:20-bookworm-slim");
  ExpectJsonEq(*kube::Member(install, "command"), R"(["npm", "ci"])");
  EXPECT_EQ(Str(kube::Member(install, "workingDir")), "/workspace/app");

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
               absl::StrCat(R"([{"name": "DATABASE_URL", "value": ")", db_url, R"("},
      {"name": "PORT", "value": "3000"}, {"name": "DEBUG", "value": "true"}])"));
  ExpectJsonEq(*kube::Member(web, "ports"),
               R"([{"name": "http", "containerPort": 3000, "protocol": "TCP"}])");
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
  EXPECT_EQ(d.Str({"spec", "template", "metadata", "annotations", kRevisionAnnotation}),
            WebRevision(env));

  kube::Object ws = BuildWorkspacePvc(env, kNs, OperatorConfig{});
  EXPECT_EQ(ws.Name(), "workspace");
  EXPECT_EQ(ws.Str({"spec", "resources", "requests", "storage"}), "5Gi");
}

TEST(BuildersTest, DeploymentTypeRunsTheImageWithOnlyDbMigrate) {
  EnvironmentSpec env = Deploy();
  kube::Object d = BuildWebDeployment(env, kNs, OperatorConfig{});
  const Value& init = Containers(d, "initContainers");
  ASSERT_THAT(Names(init), ElementsAre("db-migrate"));
  EXPECT_EQ(Str(kube::Member(init[0], "image")), "ghcr.io/org/app:sha");
  EXPECT_EQ(EnvOf(init[0], "DATABASE_URL"), DatabaseUrl(env, kNs));
  const Value& cs = Containers(d);
  ASSERT_THAT(Names(cs), ElementsAre("web"));
  EXPECT_EQ(Str(kube::Member(cs[0], "image")), "ghcr.io/org/app:sha");
  EXPECT_EQ(kube::Member(cs[0], "command"), nullptr);  // the image's entrypoint
  EXPECT_EQ(kube::Member(cs[0], "volumeMounts"), nullptr);
  EXPECT_EQ(d.Find({"spec", "template", "spec", "volumes"}), nullptr);
  EXPECT_EQ(kube::StrOf(
                kube::Member(*kube::Member(*kube::Member(cs[0], "resources"), "limits"), "memory")),
            "2Gi");
  EXPECT_FALSE(NeedsWorkspace(env));
}

TEST(BuildersTest, UserEnvVarsComeAfterOursAndWinOnAName) {
  EnvironmentSpec env = Dev();
  env.env_vars = {{"DATABASE_URL", "postgres://elsewhere/db"}, {"X", "$(PORT)"}};
  kube::Object d = BuildWebDeployment(env, kNs, OperatorConfig{});
  ExpectJsonEq(*kube::Member(Containers(d)[0], "env"), R"json([{"name": "PORT", "value": "3000"},
      {"name": "DATABASE_URL", "value": "postgres://elsewhere/db"},
      {"name": "X", "value": "$(PORT)"}])json");
}

TEST(BuildersTest, RevisionChangesWithWhatThePodRunsOnly) {
  const std::string base = WebRevision(Dev());
  EXPECT_EQ(base.size(), 12u);
  EXPECT_EQ(WebRevision(Dev()), base);
  EnvironmentSpec e = Dev();
  e.sources[0].commit_sha = "b2c3d4e";
  EXPECT_NE(WebRevision(e), base);
  // Not: metadata, labels, prNumber, projectRef.
  e = Dev();
  e.generation = 9;
  e.team = "other";
  e.sources[0].pr_number = 7;
  e.project_ref = "other";
  EXPECT_EQ(WebRevision(e), base);
  EXPECT_EQ(BuildWebDeployment(e, kNs, OperatorConfig{})
                .Str({"spec", "template", "metadata", "annotations", kRevisionAnnotation}),
            base);
  // But the branch, the image and the variables do.
  e = Dev();
  e.sources[0].branch = "main";
  EXPECT_NE(WebRevision(e), base);
  e = Dev();
  e.env_vars[0].value = "false";
  EXPECT_NE(WebRevision(e), base);
  EXPECT_NE(WebRevision(Deploy()), base);
  EnvironmentSpec d2 = Deploy();
  d2.image = "ghcr.io/org/app:sha2";
  EXPECT_NE(WebRevision(d2), WebRevision(Deploy()));
}

TEST(BuildersTest, WebServiceAndIngressRouteTheHostToPort3000) {
  OperatorConfig cfg;
  kube::Object svc = BuildWebService(Dev(), kNs, cfg);
  ExpectJsonEq(*svc.Find({"spec"}), R"({"type": "ClusterIP",
      "selector": {"app.kubernetes.io/name": "web"},
      "ports": [{"name": "http", "port": 80, "targetPort": 3000, "protocol": "TCP"}]})");
  kube::Object ing = BuildIngress(Dev(), kNs, cfg);
  EXPECT_EQ(ing.ApiVersion(), "networking.k8s.io/v1");
  ExpectJsonEq(*ing.Find({"spec"}), R"({"ingressClassName": "nginx", "rules": [{
      "host": "my-team-my-project-pr-123.preview.local",
      "http": {"paths": [{"path": "/", "pathType": "Prefix",
                          "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]})");
  EXPECT_EQ(EnvironmentUrl(Dev(), kNs, cfg), "http://my-team-my-project-pr-123.preview.local");
  cfg.url_host_template = "{name}.{namespace}.example.test";
  cfg.url_scheme = "https";
  cfg.ingress_class = "";
  EXPECT_EQ(EnvironmentUrl(Dev(), kNs, cfg),
            "https://pr-123.my-team-my-project-pr-123.example.test");
  EXPECT_EQ(BuildIngress(Dev(), kNs, cfg).Find({"spec", "ingressClassName"}), nullptr);
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
}

}  // namespace
}  // namespace controllers
