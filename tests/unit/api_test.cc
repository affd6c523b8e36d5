// The custom resources' types (src/api/v1alpha1): Environment and Project
// parsing, the container config and its merge — the Catalyst web app's
// shapes (docs/contract.md), the checks the schema cannot make, and the
// CRD's own checks again (bounds, probe hosts, Secrets, git@) for objects a
// server stored before the CRD had them.
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "api/v1alpha1/bounds.h"
#include "api/v1alpha1/config.h"
#include "api/v1alpha1/environment.h"
#include "api/v1alpha1/problems.h"
#include "api/v1alpha1/project.h"
#include "controllers/environment/naming.h"
#include "controllers/environment/team_secrets.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/catalyst.h"

namespace v1alpha1 {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

kube::Object Must(absl::string_view json) {
  absl::StatusOr<kube::Object> o = kube::Object::Parse(json);
  EXPECT_TRUE(o.ok()) << o.status() << "\n" << json;
  return o.ok() ? *o : kube::Object();
}

EnvironmentSpec MustParse(absl::string_view json) {
  absl::StatusOr<EnvironmentSpec> env = ParseEnvironment(Must(json));
  EXPECT_TRUE(env.ok()) << env.status();
  return env.ok() ? *env : EnvironmentSpec{};
}

absl::Status ParseError(absl::string_view json) { return ParseEnvironment(Must(json)).status(); }

std::vector<std::string> EnvNames(const std::vector<EnvVar>& env) {
  std::vector<std::string> out;
  for (const EnvVar& e : env) out.push_back(absl::StrCat(e.name, "=", e.value));
  return out;
}

TEST(ApiEnvironmentTest, ReadsTheProductExample) {
  EnvironmentSpec e = MustParse(R"({
    "metadata": {"name": "pr-123", "namespace": "my-team-my-project", "uid": "u", "generation": 3,
      "labels": {"catalyst.dev/team": "my-team", "catalyst.dev/project": "my-project",
                 "catalyst.dev/environment": "pr-123"}},
    "spec": {"projectRef": {"name": "my-project"}, "type": "development",
      "sources": [{"name": "web", "repositoryUrl": "https://github.com/org/repo",
                   "branch": "feature/login", "commitSha": "a1b2c3d", "prNumber": 123}],
      "config": {"envVars": [{"name": "DEBUG", "value": "true"}]}}})");
  EXPECT_EQ(e.name, "pr-123");
  EXPECT_EQ(e.namespace_, "my-team-my-project");
  EXPECT_EQ(e.generation, 3);
  EXPECT_EQ(e.team, "my-team");
  EXPECT_EQ(e.project, "my-project");
  EXPECT_EQ(e.environment, "pr-123");
  EXPECT_EQ(e.project_ref, "my-project");
  EXPECT_EQ(e.type, EnvironmentType::kDevelopment);
  EXPECT_EQ(e.Mode(), DeploymentMode::kDevelopment);
  ASSERT_EQ(e.sources.size(), 1u);
  EXPECT_EQ(e.sources[0].repository_url, "https://github.com/org/repo");
  EXPECT_EQ(e.sources[0].branch, "feature/login");
  EXPECT_EQ(e.sources[0].commit_sha, "a1b2c3d");
  EXPECT_EQ(e.sources[0].pr_number, 123);
  EXPECT_THAT(EnvNames(e.config.container.env), ElementsAre("DEBUG=true"));
  EXPECT_EQ(e.WebSource(), &e.sources[0]);
}

// What actions/environments.ts sends: no repositoryUrl, commitSha "", the
// preset config.
TEST(ApiEnvironmentTest, ReadsTheWebAppsEnvironment) {
  testing_support::EnvironmentFields f;
  f.uid = "u-1";
  EnvironmentSpec e = MustParse(testing_support::EnvironmentJson(f));
  EXPECT_EQ(e.project_ref, "catalyst");
  ASSERT_EQ(e.sources.size(), 1u);
  EXPECT_EQ(e.sources[0].name, "primary");
  EXPECT_EQ(e.sources[0].repository_url, "");
  EXPECT_EQ(e.sources[0].commit_sha, "");
  EXPECT_EQ(e.sources[0].branch, "main");
  const Config& c = e.config;
  EXPECT_EQ(c.container.image, "node:22-slim");
  EXPECT_THAT(c.container.command, ElementsAre("./node_modules/.bin/next", "dev", "--turbopack"));
  EXPECT_EQ(c.container.working_dir, "/code/web");
  ASSERT_EQ(c.container.ports.size(), 1u);
  EXPECT_EQ(c.container.ports[0].container_port, 3000);
  EXPECT_THAT(EnvNames(c.container.env),
              ElementsAre("WATCHPACK_POLLING=true", "PORT=3000",
                          "DATABASE_URL=postgresql://postgres:postgres@postgres:5432/catalyst"));
  ASSERT_TRUE(c.container.resources);
  EXPECT_EQ(c.container.resources->limits, (ResourceList{{"cpu", "1"}, {"memory", "2Gi"}}));
  EXPECT_EQ(c.container.liveness_probe.Str({"httpGet", "path"}), "/api/health/liveness");
  EXPECT_EQ(c.container.readiness_probe.Int({"httpGet", "port"}), 3000);
  EXPECT_EQ(c.container.startup_probe.Int({"failureThreshold"}), 30);
  ASSERT_EQ(c.container.volume_mounts.size(), 1u);
  EXPECT_EQ(c.container.volume_mounts[0].Str({"mountPath"}), "/code");
  ASSERT_TRUE(c.init_containers);
  ASSERT_EQ(c.init_containers->size(), 2u);
  EXPECT_EQ((*c.init_containers)[1].name, "db-migrate");
  ASSERT_TRUE(c.services);
  ASSERT_EQ(c.services->size(), 1u);
  EXPECT_EQ((*c.services)[0].name, "postgres");
  EXPECT_EQ((*c.services)[0].database, "catalyst");
  ASSERT_TRUE((*c.services)[0].storage);
  EXPECT_EQ((*c.services)[0].storage->storage, "1Gi");
  ASSERT_TRUE(c.volumes);
  EXPECT_EQ((*c.volumes)[0].name, "code");
  EXPECT_EQ((*c.volumes)[0].claim->storage, "5Gi");
}

TEST(ApiEnvironmentTest, HeadMeansTheBranchAndModeIsInferredOrGiven) {
  EnvironmentSpec e = MustParse(R"({"metadata": {"name": "a", "namespace": "b", "uid": "u"},
      "spec": {"type": "deployment", "sources": [{"name": "main", "commitSha": "HEAD",
               "branch": "main", "prNumber": 7}]}})");
  EXPECT_EQ(e.sources[0].commit_sha, "");
  EXPECT_EQ(e.Mode(), DeploymentMode::kProduction);
  e = MustParse(R"({"metadata": {"name": "a", "namespace": "b", "uid": "u"},
      "spec": {"type": "development", "deploymentMode": "workspace"}})");
  EXPECT_EQ(e.Mode(), DeploymentMode::kWorkspace);
}

// The source named "web" wins; otherwise the first one is cloned.
TEST(ApiEnvironmentTest, WebSourceIsTheOneNamedWebElseTheFirst) {
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

TEST(ApiEnvironmentTest, ReportsEveryProblemNamingTheField) {
  absl::Status s = ParseError(R"({"metadata": {"name": "a", "namespace": "b"},
      "spec": {"type": "staging", "deploymentMode": "canary",
               "sources": [{"name": "web", "repositoryUrl": "ftp://x", "branch": "a..b",
                            "commitSha": "XYZ", "prNumber": 0}],
               "config": {"image": 5, "envVars": [{"name": "A", "value": "1"},
                                                  {"name": "A", "value": "2"},
                                                  {"name": "1BAD"}],
                          "ports": [{"containerPort": 70000}, {"containerPort": 80},
                                    {"containerPort": 80}],
                          "resources": {"limits": {"memory": "2GB"}},
                          "workingDir": "relative",
                          "volumeMounts": [{"name": "v", "mountPath": "x"}],
                          "initContainers": [{"name": "Bad_Name"}],
                          "services": [{"name": "db"}],
                          "volumes": [{"name": "v", "persistentVolumeClaim": {}}]}}})");
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  for (const char* part :
       {"metadata.uid is missing", "spec.type \"staging\" is not one of development, deployment",
        "spec.deploymentMode \"canary\" is not one of production, development, workspace",
        "spec.sources[0].repositoryUrl \"ftp://x\" must start with https://",
        "spec.sources[0].branch \"a..b\" is not a valid git branch name",
        "spec.sources[0].commitSha \"XYZ\" must be 7 to 40 lowercase hex digits",
        "spec.sources[0].prNumber must be a positive integer", "spec.config.image must be a string",
        "spec.config.envVars[1].name \"A\" is listed more than once",
        "spec.config.envVars[2].name \"1BAD\" must start with a letter",
        "spec.config.ports[0].containerPort must be 1 to 65535",
        "spec.config.ports[2].containerPort 80 is listed more than once",
        "spec.config.resources.limits.memory \"2GB\" is not a quantity",
        "spec.config.workingDir \"relative\" must be an absolute path",
        "spec.config.volumeMounts[0].mountPath \"x\" must be an absolute path",
        "spec.config.initContainers[0].name \"Bad_Name\" must be a lowercase DNS label",
        "spec.config.services[0].container is required",
        "spec.config.volumes[0].persistentVolumeClaim.resources.requests.storage is required"})
    EXPECT_THAT(s.message(), HasSubstr(part));
  EXPECT_THAT(ParseError(R"({"metadata": {"name": "a", "namespace": "b", "uid": "u"}})").message(),
              HasSubstr("spec is required"));
  EXPECT_THAT(ParseError(R"({"metadata": {"name": "a", "namespace": "b", "uid": "u"}, "spec": {}})")
                  .message(),
              HasSubstr("spec.type is required"));
}

// Quantities as the server would store them; numbers accepted (int-or-string).
TEST(ApiConfigTest, QuantitiesAreCanonical) {
  Problems p;
  auto v = Must(R"({"resources": {"requests": {"cpu": "0.5", "memory": "1024Mi"},
                                  "limits": {"cpu": 2}}})");
  Config c = ParseConfig(&v.json(), "spec.config", p);
  ASSERT_TRUE(p.empty()) << p.ToStatus();
  EXPECT_EQ(c.container.resources->requests, (ResourceList{{"cpu", "500m"}, {"memory", "1Gi"}}));
  EXPECT_EQ(c.container.resources->limits, (ResourceList{{"cpu", "2"}}));
}

TEST(ApiConfigTest, EnvVarsAreEnvAndEnvWinsAndValueFromIsKept) {
  Problems p;
  auto v = Must(R"({"envVars": [{"name": "A", "value": "old"}, {"name": "B", "value": "b"}],
      "env": [{"name": "A", "value": "new"},
              {"name": "S", "valueFrom": {"secretKeyRef": {"name": "catalyst-secrets", "key": "k"}}}]})");
  Config c = ParseConfig(&v.json(), "spec.config", p);
  ASSERT_TRUE(p.empty()) << p.ToStatus();
  EXPECT_THAT(EnvNames(c.container.env), ElementsAre("A=new", "B=b", "S="));
  EXPECT_EQ(c.container.env[2].value_from.Str({"secretKeyRef", "key"}), "k");
}

// docs/contract.md, "spec.config": the Environment wins, env lists merge by name,
// "" and [] do not override, present-but-empty lists mean "none".
TEST(ApiConfigTest, MergeEnvironmentOverTemplate) {
  Problems p;
  auto t = Must(R"({"image": "node:22", "command": ["a"], "workingDir": "/code",
      "env": [{"name": "X", "value": "t"}, {"name": "Y", "value": "t"}],
      "resources": {"limits": {"memory": "1Gi"}},
      "initContainers": [{"name": "npm-install"}],
      "services": [{"name": "postgres", "container": {"image": "postgres:16"}}],
      "volumes": [{"name": "code"}]})");
  auto e = Must(R"({"image": "", "command": [], "args": ["--x"],
      "env": [{"name": "Y", "value": "e"}, {"name": "Z", "value": "e"}],
      "resources": {"limits": {"memory": "3Gi"}},
      "initContainers": [], "volumes": [{"name": "other"}]})");
  Config m = MergeConfig(ParseConfig(&t.json(), "t", p), ParseConfig(&e.json(), "e", p));
  ASSERT_TRUE(p.empty()) << p.ToStatus();
  EXPECT_EQ(m.container.image, "node:22");
  EXPECT_THAT(m.container.command, ElementsAre("a"));
  EXPECT_THAT(m.container.args, ElementsAre("--x"));
  EXPECT_EQ(m.container.working_dir, "/code");
  EXPECT_THAT(EnvNames(m.container.env), ElementsAre("X=t", "Y=e", "Z=e"));
  EXPECT_EQ(m.container.resources->limits, (ResourceList{{"memory", "3Gi"}}));
  ASSERT_TRUE(m.init_containers);
  EXPECT_EQ(m.init_containers->size(), 1u) << "[] does not override";
  ASSERT_TRUE(m.services);
  EXPECT_EQ(m.services->size(), 1u);
  ASSERT_TRUE(m.volumes);
  EXPECT_EQ((*m.volumes)[0].name, "other");
  // Said nowhere: absent; said empty with nothing to override: none.
  Config none = MergeConfig(Config{}, ParseConfig(&Must(R"({"services": []})").json(), "e", p));
  EXPECT_FALSE(none.init_containers);
  ASSERT_TRUE(none.services);
  EXPECT_TRUE(none.services->empty());
}

// sync-project-cr.ts's Project, and what a Project may get wrong.
TEST(ApiProjectTest, ReadsTheWebAppsProject) {
  absl::StatusOr<ProjectSpec> p = ParseProject(Must(testing_support::ProjectJson({})));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->name, "catalyst");
  EXPECT_EQ(p->namespace_, "my-team");
  ASSERT_EQ(p->sources.size(), 1u);
  EXPECT_EQ(p->FindSource("primary")->repository_url, "https://github.com/acme/catalyst");
  EXPECT_EQ(p->FindSource("main"), nullptr);
  ASSERT_NE(p->FindTemplate("development"), nullptr);
  EXPECT_EQ(p->FindTemplate("development")->source_ref, "primary");
  ASSERT_TRUE(p->FindTemplate("deployment")->config);
  EXPECT_EQ(p->FindTemplate("deployment")->config->container.image, "node:22-slim");
  EXPECT_EQ(p->quota_cpu, "2");
  EXPECT_EQ(p->quota_memory, "4Gi");
  EXPECT_EQ(p->github_installation_id, "12345678");

  absl::Status bad = ParseProject(Must(R"({"metadata": {"name": "p", "namespace": "t"},
      "spec": {"sources": [{"name": "primary", "repositoryUrl": "nope", "branch": "a..b"}],
               "templates": {"development": {"config": {"ports": [{"containerPort": 0}]}}},
               "resources": {"defaultQuota": {"cpu": "lots"}}}})"))
                         .status();
  for (const char* part :
       {"spec.sources[0].repositoryUrl \"nope\"", "spec.sources[0].branch \"a..b\"",
        "spec.templates.development.config.ports[0].containerPort",
        "spec.resources.defaultQuota.cpu \"lots\" is not a quantity"})
    EXPECT_THAT(bad.message(), HasSubstr(part));
}

// The bounds (bounds.h) -- the CRD's maxLength, maxItems, maxProperties --
// checked again: an object a server stored before the CRD had them is refused
// the same way, naming the field, and no message quotes more than the bound.
std::string EnvWithConfig(absl::string_view config) {
  return absl::StrCat(R"({"metadata": {"name": "a", "namespace": "b", "uid": "u"},
      "spec": {"type": "deployment", "config": )",
                      config, "}}");
}

std::string Repeat(absl::string_view s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) absl::StrAppend(&out, s);
  return out;
}

TEST(ApiBoundsTest, StringsListsAndMapsOverTheirBoundsAreRefusedNamingTheField) {
  std::string env = "[";
  for (size_t i = 0; i <= bounds::kEnvItems; ++i)
    absl::StrAppend(&env, i ? "," : "", R"({"name": "V)", i, R"(", "value": "x"})");
  env += "]";
  std::string limits = "{";
  for (size_t i = 0; i <= bounds::kResourceProperties; ++i)
    absl::StrAppend(&limits, i ? "," : "", R"("example.com/r)", i, R"(": "1")");
  limits += "}";
  absl::Status s = ParseError(EnvWithConfig(absl::StrCat(
      R"({"image": ")", Repeat("i", bounds::kImage + 1), R"(", "envVars": )", env,
      R"(, "env": [{"name": "BIG", "value": ")", Repeat("v", bounds::kValue + 1),
      R"("}], "resources": {"limits": )", limits, R"(}, "command": [")",
      Repeat("c", bounds::kValue + 1), R"("], "livenessProbe": {"httpGet": {"port": 1, "path": ")",
      Repeat("p", bounds::kPath + 1), R"("}}})")));
  for (const std::string& part :
       {absl::StrCat("spec.config.image is 513 characters long; at most ", bounds::kImage),
        absl::StrCat("spec.config.envVars has 129 entries; at most ", bounds::kEnvItems),
        absl::StrCat("spec.config.env[0].value is 32769 characters long; at most ", bounds::kValue),
        absl::StrCat("spec.config.resources.limits has 17 entries; at most ",
                     bounds::kResourceProperties),
        std::string("spec.config.command[0] is 32769 characters long"),
        std::string("spec.config.livenessProbe.httpGet.path is 1025 characters long")})
    EXPECT_THAT(s.message(), HasSubstr(part));
  // Over its bound a value is not quoted whole: the image's message holds
  // at most its first kImage characters.
  EXPECT_THAT(s.message(), Not(HasSubstr(Repeat("i", bounds::kImage + 1))));

  // Lists deep inside too: the sources, a service's ports, a template map.
  std::string sources = "[";
  for (size_t i = 0; i <= bounds::kEnvironmentSourceItems; ++i)
    absl::StrAppend(&sources, i ? "," : "", R"({"name": "s)", i, R"("})");
  sources += "]";
  EXPECT_THAT(ParseError(absl::StrCat(R"({"metadata": {"name": "a", "namespace": "b", "uid": "u"},
      "spec": {"type": "development", "sources": )",
                                      sources, "}}"))
                  .message(),
              HasSubstr("spec.sources has 17 entries; at most 16"));
  std::string ports = "[";
  for (size_t i = 0; i <= bounds::kPortItems; ++i)
    absl::StrAppend(&ports, i ? "," : "", R"({"containerPort": )", i + 1, "}");
  ports += "]";
  EXPECT_THAT(ParseError(EnvWithConfig(absl::StrCat(
                             R"({"image": "x", "services": [{"name": "db", "container": )",
                             R"({"image": "postgres", "ports": )", ports, "}}]}")))
                  .message(),
              HasSubstr("spec.config.services[0].container.ports has 33 entries; at most 32"));
}

// maxLength counts characters, not bytes: a projectRef of 253 three-byte
// characters is within the CRD's bound and the parser's.
TEST(ApiBoundsTest, LengthsCountCharactersAsTheServerDoes) {
  const std::string name = Repeat("\u30d7", bounds::kName);  // プ, 3 bytes in UTF-8
  EXPECT_EQ(MustParse(absl::StrCat(R"({"metadata": {"name": "a", "namespace": "b", "uid": "u"},
      "spec": {"type": "deployment", "projectRef": {"name": ")",
                                   name, R"("}}})"))
                .project_ref.size(),
            3 * bounds::kName);
  EXPECT_THAT(ParseError(absl::StrCat(R"({"metadata": {"name": "a", "namespace": "b", "uid": "u"},
      "spec": {"type": "deployment", "projectRef": {"name": ")",
                                      name, R"(x"}}})"))
                  .message(),
              HasSubstr("spec.projectRef.name is 254 characters long; at most 253"));
  EXPECT_EQ(CharLength("pr\xc3\xbc"
                       "fen"),
            6u);
}

// A probe's host: the kubelet would connect from the node's network, outside
// every NetworkPolicy. Refused in every probe, in an Environment and in a
// Project template, naming the field.
TEST(ApiConfigTest, AProbeHostIsRefusedNamingTheField) {
  absl::Status s = ParseError(EnvWithConfig(R"({"image": "x",
      "livenessProbe": {"httpGet": {"port": 80, "host": "169.254.169.254"}},
      "readinessProbe": {"tcpSocket": {"port": 10250, "host": "10.0.0.1"}},
      "startupProbe": {"httpGet": {"port": 80, "host": ""}}})"));
  for (const char* part : {"spec.config.livenessProbe.httpGet.host must not be set",
                           "spec.config.readinessProbe.tcpSocket.host must not be set",
                           "spec.config.startupProbe.httpGet.host must not be set"})
    EXPECT_THAT(s.message(), HasSubstr(part));
  EXPECT_THAT(s.message(), HasSubstr("outside the environment's NetworkPolicies"));

  testing_support::ProjectFields f;
  f.config = R"({"readinessProbe": {"httpGet": {"port": 80, "host": "metadata.internal"}}})";
  EXPECT_THAT(ParseProject(Must(testing_support::ProjectJson(f))).status().message(),
              HasSubstr("spec.templates.development.config.readinessProbe.httpGet.host must not "
                        "be set"));

  // Without host the probe is passed as given.
  EnvironmentSpec ok = MustParse(EnvWithConfig(R"({"image": "x",
      "livenessProbe": {"httpGet": {"port": "http", "path": "/healthz",
                                    "httpHeaders": [{"name": "Host", "value": "app"}]}}})"));
  EXPECT_EQ(ok.config.container.liveness_probe.Str({"httpGet", "path"}), "/healthz");
}

// valueFrom.secretKeyRef reaches only the tenant's own Secrets of the
// namespace: the database credentials and the team's secrets. Not the pull
// secret copied from the Project (nor any other Secret the operator keeps).
TEST(ApiConfigTest, SecretKeyRefReadsOnlyTheTenantsOwnSecrets) {
  auto ref = [](absl::string_view name) {
    return absl::StrCat(R"({"name": "S", "valueFrom": {"secretKeyRef": {"name": ")", name,
                        R"(", "key": "k"}}})");
  };
  EnvironmentSpec ok = MustParse(EnvWithConfig(absl::StrCat(
      R"({"image": "x", "env": [)", ref("postgres-credentials"), R"(], "initContainers": [)",
      R"({"name": "i", "env": [)", ref("catalyst-secrets"), "]}]}")));
  EXPECT_EQ(ok.config.container.env[0].value_from.Str({"secretKeyRef", "name"}),
            "postgres-credentials");

  absl::Status s = ParseError(EnvWithConfig(
      absl::StrCat(R"({"image": "x", "env": [)", ref("registry-credentials"),
                   R"(], "services": [{"name": "db", "container": {"image": "postgres", "env": [)",
                   ref("default-token"),
                   R"(, {"name": "N", "valueFrom": {"secretKeyRef": {"key": "k"}}}]}}]})")));
  for (const char* part :
       {"spec.config.env[0].valueFrom.secretKeyRef.name: Secret \"registry-credentials\" is not "
        "the tenant's: only postgres-credentials or catalyst-secrets may be read",
        "spec.config.services[0].container.env[0].valueFrom.secretKeyRef.name: Secret "
        "\"default-token\"",
        "spec.config.services[0].container.env[1].valueFrom.secretKeyRef.name is required"})
    EXPECT_THAT(s.message(), HasSubstr(part));
}

// kReadableSecrets names the Secrets the controller makes (api/ does not
// include controllers/, so the names are written twice).
TEST(ApiConfigTest, ReadableSecretsAreTheOnesTheControllerMakes) {
  EXPECT_THAT(kReadableSecrets, ElementsAre(std::string_view(controllers::kDbSecretName),
                                            std::string_view(controllers::kTeamSecretName)));
}

// git reads git@host/path (no colon before the first '/') as a local path.
TEST(ApiEnvironmentTest, GitAtHostWithoutAColonIsRefused) {
  for (const char* url : {"git@github.com:org/repo.git", "git@gitlab.example.com:a/b/c",
                          "https://github.com/org/repo", "ssh://git@host:22/org/repo"})
    EXPECT_TRUE(ValidRepositoryUrl(url)) << url;
  for (const char* url : {"git@github.com/org/repo.git", "git@github.com", "git@:org/repo",
                          "git@host:", "git@", "git@host/x:y"})
    EXPECT_FALSE(ValidRepositoryUrl(url)) << url;
  EXPECT_THAT(ParseError(R"({"metadata": {"name": "a", "namespace": "b", "uid": "u"},
      "spec": {"type": "development",
               "sources": [{"name": "web", "repositoryUrl": "git@github.com/org/repo"}]}})")
                  .message(),
              HasSubstr("spec.sources[0].repositoryUrl \"git@github.com/org/repo\" needs a colon "
                        "and a path after the host (git@github.com:org/repo.git); without one git "
                        "reads a local path"));
  EXPECT_THAT(
      ParseProject(Must(testing_support::ProjectJson({.repository_url = "git@github.com/o/r"})))
          .status()
          .message(),
      HasSubstr("spec.sources[0].repositoryUrl \"git@github.com/o/r\" needs a colon"));
}

// The installation id is a path segment of the web app's URL: digits or pat.
TEST(ApiProjectTest, InstallationIdIsANumberOrPat) {
  auto with_id = [](absl::string_view id) {
    std::string json = testing_support::ProjectJson({});
    const std::string from = R"("githubInstallationId":"12345678")";
    json.replace(json.find(from), from.size(),
                 absl::StrCat(R"("githubInstallationId":")", id, "\""));
    return ParseProject(Must(json));
  };
  EXPECT_TRUE(with_id("42").ok());
  EXPECT_TRUE(with_id("pat").ok());
  EXPECT_TRUE(with_id("").ok());
  EXPECT_THAT(with_id("../internal/x").status().message(),
              HasSubstr("spec.githubInstallationId \"../internal/x\" must be a number or pat"));
  EXPECT_THAT(with_id("12345678901234567890").status().message(),
              HasSubstr("spec.githubInstallationId is 20 characters long; at most 19"));
}

// A Project's maps and lists: templates, a template's free-form values,
// sources.
TEST(ApiProjectTest, TemplatesValuesAndSourcesAreBounded) {
  std::string values = "{";
  for (size_t i = 0; i <= bounds::kValuesProperties; ++i)
    absl::StrAppend(&values, i ? "," : "", R"("k)", i, R"(": 1)");
  values += "}";
  std::string templates = "{";
  for (size_t i = 0; i <= bounds::kTemplateProperties; ++i)
    absl::StrAppend(&templates, i ? "," : "", R"("t)", i, R"(": {"type": "manifest"})");
  templates += "}";
  auto project = [](absl::string_view templates) {
    return ParseProject(
               Must(absl::StrCat(
                   R"({"metadata": {"name": "p", "namespace": "t"}, "spec": {"sources": [)",
                   R"({"name": "primary", "repositoryUrl": "https://x/y", "branch": "main"}],)",
                   R"("templates": )", templates, "}}")))
        .status();
  };
  EXPECT_THAT(
      project(absl::StrCat(R"({"development": {"type": "manifest", "values": )", values, "}}"))
          .message(),
      HasSubstr("spec.templates.development.values has 257 entries; at most 256"));
  EXPECT_THAT(project(templates).message(), HasSubstr("spec.templates has 9 entries; at most 8"));
  EXPECT_THAT(
      project(absl::StrCat(R"({")", Repeat("d", 64), R"(": {"type": "manifest"}})")).message(),
      HasSubstr("spec.templates has a template name of 64 characters; at most 63"));
}

// The web app's "docker" method: a manifest template with one build named
// app, context "./"; its "helm" method: a chart path. Paths are read from the
// repository's root; one that leaves it is refused, naming the field.
TEST(ApiProjectTest, ReadsTemplateValuesBuildsAndPaths) {
  auto project = [](absl::string_view tmpl) {
    return ParseProject(Must(
        absl::StrCat(R"({"metadata": {"name": "p", "namespace": "t"}, "spec": {"sources": [)",
                     R"({"name": "primary", "repositoryUrl": "https://x/y", "branch": "main"}],)",
                     R"("templates": {"deployment": )", tmpl, "}}}")));
  };
  absl::StatusOr<ProjectSpec> docker = project(
      R"({"sourceRef": "primary", "type": "manifest", "path": "./", "values": {},
          "builds": [{"name": "app", "sourceRef": "primary", "dockerfile": "Dockerfile",
                      "path": "./"}]})");
  ASSERT_TRUE(docker.ok()) << docker.status();
  const Template& d = docker->templates.at("deployment");
  EXPECT_EQ(d.path, "");
  EXPECT_EQ(d.values, "{}");
  ASSERT_EQ(d.builds.size(), 1u);
  EXPECT_EQ(d.builds[0].name, "app");
  EXPECT_EQ(d.builds[0].source_ref, "primary");
  EXPECT_EQ(d.builds[0].context, "");
  EXPECT_EQ(d.builds[0].dockerfile, "Dockerfile");

  absl::StatusOr<ProjectSpec> helm = project(
      R"({"type": "helm", "path": "/charts/./app/", "values": {"replicas": 2, "image": {"tag": "x"}},
          "builds": [{"name": "api", "sourceRef": "primary", "path": "services/api"}]})");
  ASSERT_TRUE(helm.ok()) << helm.status();
  const Template& h = helm->templates.at("deployment");
  EXPECT_EQ(h.path, "charts/app");
  EXPECT_EQ(h.values, R"({"replicas":2,"image":{"tag":"x"}})");
  EXPECT_EQ(h.builds[0].context, "services/api");
  EXPECT_EQ(h.builds[0].dockerfile, "Dockerfile") << "the default";
  EXPECT_EQ(project(R"({"type": "helm"})")->templates.at("deployment").values, "{}");

  const std::string bad = std::string(project(R"({"type": "helm", "path": "charts/../../etc",
          "builds": [{"name": "App_1", "sourceRef": "primary", "dockerfile": "../Dockerfile"},
                     {"name": "web", "sourceRef": "primary"},
                     {"name": "web", "sourceRef": "primary"}]})")
                                          .status()
                                          .message());
  EXPECT_THAT(bad,
              HasSubstr(R"(spec.templates.deployment.path "charts/../../etc" must stay inside)"));
  EXPECT_THAT(bad,
              HasSubstr(R"(spec.templates.deployment.builds[0].name "App_1" must be a DNS label)"));
  EXPECT_THAT(bad, HasSubstr(R"(spec.templates.deployment.builds[0].dockerfile "../Dockerfile")"));
  EXPECT_THAT(bad, HasSubstr(R"(spec.templates.deployment.builds[2].name "web" is used twice)"));

  std::string big = R"({"type": "helm", "values": {"k": ")";
  big += std::string(bounds::kValuesBytes, 'x') + R"("}})";
  EXPECT_THAT(project(big).status().message(),
              HasSubstr("spec.templates.deployment.values is 262152 bytes; at most 262144"));
}

TEST(ApiProjectTest, RepositoryPathKeepsInsideTheRepository) {
  EXPECT_EQ(RepositoryPath(""), "");
  EXPECT_EQ(RepositoryPath("./"), "");
  EXPECT_EQ(RepositoryPath("/"), "");
  EXPECT_EQ(RepositoryPath("a//b/./c/"), "a/b/c");
  EXPECT_EQ(RepositoryPath("..."), "...") << "a name, not a parent";
  EXPECT_EQ(RepositoryPath(".."), std::nullopt);
  EXPECT_EQ(RepositoryPath("a/../b"), std::nullopt);
  EXPECT_EQ(RepositoryPath("a\nb"), std::nullopt);
}

}  // namespace
}  // namespace v1alpha1
