// Resolve (controllers/environment/resolve.h): the Catalyst web app's
// Environment and Project made into what the builders render —
// docs/contract.md ("Project", "Environment", "spec.config"), field by field.
#include "controllers/environment/resolve.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controllers/environment/manifests.h"
#include "controllers/environment/naming.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/catalyst.h"

namespace controllers {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_support::EnvironmentFields;
using testing_support::EnvironmentJson;
using testing_support::ProjectFields;
using testing_support::ProjectJson;
using v1alpha1::Container;
using v1alpha1::DeploymentMode;

kube::Object Must(absl::string_view json) {
  absl::StatusOr<kube::Object> o = kube::Object::Parse(json);
  EXPECT_TRUE(o.ok()) << o.status() << "\n" << json;
  return o.ok() ? *o : kube::Object();
}

absl::StatusOr<Desired> Try(EnvironmentFields e, const std::string& project_json,
                            bool registry = false, const OperatorConfig& cfg = {}) {
  if (e.uid.empty()) e.uid = "u-1";
  auto env = v1alpha1::ParseEnvironment(Must(EnvironmentJson(e)));
  EXPECT_TRUE(env.ok()) << env.status();
  if (!env.ok()) return env.status();
  std::optional<v1alpha1::ProjectSpec> project;
  if (!project_json.empty()) {
    auto p = v1alpha1::ParseProject(Must(project_json));
    EXPECT_TRUE(p.ok()) << p.status();
    project = *p;
  }
  return Resolve({*env, *TargetNamespace(*env), project ? &*project : nullptr, cfg, registry});
}

Desired MustResolve(EnvironmentFields e, const std::string& project_json, bool registry = false,
                    const OperatorConfig& cfg = {}) {
  absl::StatusOr<Desired> d = Try(std::move(e), project_json, registry, cfg);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *d : Desired{};
}

std::vector<std::string> Names(const std::vector<Container>& cs) {
  std::vector<std::string> out;
  for (const Container& c : cs) out.push_back(c.name);
  return out;
}

std::vector<std::string> Env(const Container& c) {
  std::vector<std::string> out;
  for (const auto& e : c.env) out.push_back(absl::StrCat(e.name, "=", e.value));
  return out;
}

std::string Limit(const Container& c, absl::string_view res) {
  for (const auto& [k, v] : c.resources->limits)
    if (k == res) return v;
  return "";
}

const std::string& Arg(const Container& c, size_t i) { return c.command.at(i); }

// The web app's development Environment under its Project: the preset runs
// as given, after the operator's git-clone into the first volume.
TEST(ResolveTest, TheWebAppsDevelopmentEnvironment) {
  const Desired d = MustResolve({}, ProjectJson({}));
  EXPECT_EQ(d.mode, DeploymentMode::kDevelopment);
  EXPECT_EQ(d.ns, "my-team-catalyst-dev-happy-otter-42");
  EXPECT_EQ(d.repository_url, "https://github.com/acme/catalyst");
  EXPECT_EQ(d.branch, "main");
  EXPECT_EQ(d.commit_sha, "");
  EXPECT_EQ(d.branch_label, "main");

  const Workload& web = d.main;
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.container.image, "node:22-slim");
  EXPECT_THAT(web.container.command, ElementsAre("./node_modules/.bin/next", "dev", "--turbopack"));
  EXPECT_EQ(web.container.working_dir, "/code/web");
  EXPECT_THAT(Env(web.container),
              ElementsAre("PORT=3000", "WATCHPACK_POLLING=true",
                          "DATABASE_URL=postgresql://postgres:postgres@postgres:5432/catalyst"));
  EXPECT_EQ(web.container.readiness_probe.Str({"httpGet", "path"}), "/api/health/readiness");
  EXPECT_EQ(web.container.liveness_probe.Str({"httpGet", "path"}), "/api/health/liveness");
  EXPECT_EQ(web.container.startup_probe.Int({"failureThreshold"}), 30);
  EXPECT_EQ(Limit(web.container, "memory"), "2Gi");
  EXPECT_EQ(Limit(web.container, "cpu"), "1");

  // git-clone first, into the first mount's path; then the preset's own steps.
  EXPECT_THAT(Names(web.init_containers), ElementsAre("git-clone", "npm-install", "db-migrate"));
  const Container& clone = web.init_containers[0];
  EXPECT_EQ(Arg(clone, 4), "https://github.com/acme/catalyst");
  EXPECT_EQ(Arg(clone, 5), "main");
  EXPECT_EQ(Arg(clone, 6), "");
  EXPECT_EQ(Arg(clone, 7), "/code");
  EXPECT_EQ(clone.volume_mounts[0].Str({"name"}), "code");
  EXPECT_THAT(web.init_containers[2].command,
              ElementsAre("sh", "-c", "npm run db:migrate && npm run seed"));
  EXPECT_EQ(Limit(web.init_containers[1], "memory"), "1Gi");

  // The preset's postgres, with its own credentials and a volume.
  ASSERT_EQ(d.services.size(), 1u);
  const Workload& pg = d.services[0];
  EXPECT_EQ(pg.name, "postgres");
  EXPECT_EQ(pg.container.image, "postgres:16");
  EXPECT_THAT(Env(pg.container),
              ElementsAre("POSTGRES_DB=catalyst", "POSTGRES_USER=postgres",
                          "POSTGRES_PASSWORD=postgres", "PGDATA=/var/lib/postgresql/data/pgdata"));
  EXPECT_EQ(pg.service_ports.at(0).port, 5432);
  EXPECT_THAT(pg.container.readiness_probe.Serialize(), HasSubstr("pg_isready"));

  std::vector<std::string> claims;
  for (const ClaimObject& c : d.claims)
    claims.push_back(absl::StrCat(c.name, ":", c.claim.storage));
  EXPECT_THAT(claims, ElementsAre("postgres-data:1Gi", "code:5Gi"));
  EXPECT_EQ(web.volumes.size(), 1u);
  EXPECT_EQ(web.volumes[0].claim, "code");

  // defaultQuota sets the quota's CPU and memory, limits.cpu included.
  EXPECT_EQ(d.quota.requests_cpu, "2");
  EXPECT_EQ(d.quota.limits_cpu, "2");
  EXPECT_EQ(d.quota.requests_memory, "4Gi");
  EXPECT_EQ(d.quota.limits_memory, "4Gi");
  EXPECT_TRUE(d.http);
  EXPECT_FALSE(d.pull_secret);
}

// A PR preview names its source "main", which matches no Project source:
// the template's sourceRef (else the first source) gives the repository,
// the Environment the branch.
TEST(ResolveTest, APreviewOfAPullRequest) {
  EnvironmentFields pr;
  pr.name = "preview-123";
  pr.type = "deployment";
  pr.source_name = "main";
  pr.branch = "feature/login";
  pr.extra_spec = R"("deploymentMode":"development",)";
  const Desired d = MustResolve(pr, ProjectJson({}));
  EXPECT_EQ(d.repository_url, "https://github.com/acme/catalyst");
  EXPECT_EQ(d.branch, "feature/login");
  EXPECT_EQ(d.branch_label, "feature-login");
  EXPECT_EQ(d.ns, "my-team-catalyst-preview-123");
}

TEST(ResolveTest, TheRef) {
  EnvironmentFields e;
  e.commit_sha = "0123456789abcdef0123456789abcdef01234567";
  EXPECT_EQ(MustResolve(e, ProjectJson({})).commit_sha, e.commit_sha);
  e.commit_sha = "HEAD";
  EXPECT_EQ(MustResolve(e, ProjectJson({})).commit_sha, "");
  // No branch on the Environment: the Project source's.
  e.commit_sha = "";
  e.branch = "";
  ProjectFields p;
  p.branch = "develop";
  EXPECT_EQ(MustResolve(e, ProjectJson(p)).branch, "develop");
}

// repositoryUrl on the Environment's source overrides the Project's.
TEST(ResolveTest, RepositoryUrlOverride) {
  auto env = v1alpha1::ParseEnvironment(Must(R"({"metadata":{"name":"dev-x","namespace":"t-p",
      "uid":"u"},"spec":{"projectRef":{"name":"catalyst"},"type":"development",
      "sources":[{"name":"primary","repositoryUrl":"https://example.test/fork","branch":"b"}]}})"));
  ASSERT_TRUE(env.ok()) << env.status();
  auto project = v1alpha1::ParseProject(Must(ProjectJson({})));
  auto d = Resolve({*env, "ns", &*project, OperatorConfig{}});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->repository_url, "https://example.test/fork");
  EXPECT_EQ(d->branch, "b");
}

TEST(ResolveTest, NoRepositoryAnywhereIsNamed) {
  absl::StatusOr<Desired> d = Try({}, "");
  EXPECT_THAT(d.status().message(), HasSubstr("no repository to clone: spec.sources needs a "
                                              "repositoryUrl when there is no Project"));
}

// The template config under the Environment's: the Environment wins.
TEST(ResolveTest, TheEnvironmentsConfigWinsOverTheTemplates) {
  EnvironmentFields e;
  e.config = R"({"image":"node:23","env":[{"name":"WATCHPACK_POLLING","value":"false"},
                {"name":"EXTRA","value":"1"}],"resources":{"limits":{"memory":"3Gi"}}})";
  const Desired d = MustResolve(e, ProjectJson({}));
  EXPECT_EQ(d.main.container.image, "node:23");
  EXPECT_EQ(d.main.container.working_dir, "/code/web") << "from the template";
  EXPECT_THAT(
      Env(d.main.container),
      ElementsAre("PORT=3000", "WATCHPACK_POLLING=false",
                  "DATABASE_URL=postgresql://postgres:postgres@postgres:5432/catalyst", "EXTRA=1"));
  EXPECT_EQ(Limit(d.main.container, "memory"), "3Gi");
  EXPECT_EQ(Limit(d.main.container, "cpu"), "1") << "filled in: the quota counts limits.cpu";
}

// A Project template without config (built from the web app's database
// config) and an Environment without one: the seed's defaults, on the
// Project's repository.
TEST(ResolveTest, SilentConfigMeansTheSeedsDefaults) {
  EnvironmentFields e;
  e.config = "";
  ProjectFields p;
  p.config = "";
  p.quota_cpu = "";
  p.quota_memory = "";
  const Desired d = MustResolve(e, ProjectJson(p));
  EXPECT_EQ(d.main.container.image, "node:20-bookworm-slim");
  EXPECT_THAT(Names(d.main.init_containers), ElementsAre("git-clone", "npm-install", "db-migrate"));
  EXPECT_EQ(Arg(d.main.init_containers[0], 7), "/workspace/app");
  EXPECT_EQ(d.services.at(0).container.image, "postgres:16-alpine");
  EXPECT_EQ(Limit(d.main.container, "memory"), "2Gi");
  EXPECT_EQ(Limit(d.main.container, "cpu"), "") << "no CPU limits without defaultQuota.cpu";
  EXPECT_EQ(d.quota.limits_cpu, "");
  EXPECT_EQ(d.quota.requests_cpu, "4");
  EXPECT_EQ(d.quota.limits_memory, "8Gi");
}

// production: the image as a Deployment — no clone, no install, no volume;
// the database and a migration from the image stay.
TEST(ResolveTest, ProductionMode) {
  EnvironmentFields e;
  e.name = "production";
  e.type = "deployment";
  const Desired d = MustResolve(e, ProjectJson({}));
  EXPECT_EQ(d.mode, DeploymentMode::kProduction);
  EXPECT_EQ(d.repository_url, "");
  EXPECT_EQ(d.main.container.image, "node:22-slim");
  EXPECT_THAT(Names(d.main.init_containers), ElementsAre("db-migrate"));
  EXPECT_TRUE(d.main.container.volume_mounts.empty());
  EXPECT_TRUE(d.main.volumes.empty());
  for (const ClaimObject& c : d.claims) EXPECT_EQ(c.app, "postgres");
  EXPECT_TRUE(d.http);
  // Without an image anywhere: named.
  EnvironmentFields bare;
  bare.type = "deployment";
  bare.config = "";
  ProjectFields p;
  p.config = "";
  EXPECT_THAT(Try(bare, ProjectJson(p)).status().message(),
              HasSubstr("spec.config.image is required for deploymentMode production"));
}

// docs/contract.md, "Image builds": the web app's docker method (a manifest
// template whose build `app` makes the production image), as
// environmentConfigToTemplate sends it.
TEST(ResolveTest, TemplateBuilds) {
  EnvironmentFields e;
  e.name = "pr-12";
  e.type = "deployment";
  e.config = "";
  e.branch = "feature/Login_Form";
  ProjectFields p;
  p.config = "";
  p.deployment_template =
      R"({"sourceRef":"primary","type":"manifest","path":"./","values":{},"builds":[)"
      R"({"name":"app","sourceRef":"primary","dockerfile":"Dockerfile","path":"./"}]})";
  OperatorConfig cfg;
  cfg.registry = "registry.example.com/previews/";
  const Desired d = MustResolve(e, ProjectJson(p), false, cfg);
  ASSERT_EQ(d.builds.size(), 1u);
  const ImageBuild& b = d.builds.front();
  EXPECT_EQ(b.repository, "registry.example.com/previews/my-team/catalyst/app-pr-12");
  EXPECT_EQ(b.tag, "feature-Login_Form") << "no commit: the branch, as a tag";
  EXPECT_EQ(b.ref, "feature/Login_Form");
  EXPECT_EQ(b.url, "https://github.com/acme/catalyst");
  EXPECT_THAT(Names(b.init_containers), ElementsAre("git-clone"));
  EXPECT_EQ(Arg(b.builder, 4), "/workspace/src");
  EXPECT_EQ(Arg(b.builder, 5), "/workspace/src/Dockerfile");
  EXPECT_EQ(d.main_from_build, "app");
  EXPECT_EQ(d.main.container.image, b.Image()) << "until the planner pins the built digest";
  EXPECT_THAT(Names(d.main.init_containers), ElementsAre("db-migrate"));
  EXPECT_EQ(d.main.init_containers.front().image, b.Image());

  // A commit is the tag; development mode does not build (it runs the source).
  e.commit_sha = "89abcdef0123456789abcdef0123456789abcdef";
  EXPECT_EQ(MustResolve(e, ProjectJson(p), false, cfg).builds.front().tag, e.commit_sha);
  EnvironmentFields dev = e;
  dev.extra_spec = R"("deploymentMode":"development",)";
  EXPECT_TRUE(MustResolve(dev, ProjectJson(p), false, cfg).builds.empty());
  // No registry, or a source the Project lacks: named.
  EXPECT_THAT(Try(e, ProjectJson(p)).status().message(), HasSubstr("--registry"));
  p.deployment_template =
      R"({"sourceRef":"primary","type":"manifest","builds":[{"name":"api","sourceRef":"backend"}]})";
  EXPECT_THAT(Try(e, ProjectJson(p), false, cfg).status().message(),
              HasSubstr("build api's source \"backend\" is not among Project my-team/catalyst"));
  // A build's repository is held to --git-ports like the web source's.
  p.repository_url = "http://git.example.com:8443/acme/catalyst.git";
  p.deployment_template = R"({"sourceRef":"primary","type":"manifest","builds":[{"name":"app"}]})";
  EXPECT_THAT(Try(e, ProjectJson(p), false, cfg).status().message(),
              HasSubstr("uses TCP port 8443"));
}

// workspace: one long-running pod on the clone; no Service, no URL.
TEST(ResolveTest, WorkspaceMode) {
  EnvironmentFields e;
  e.extra_spec = R"("deploymentMode":"workspace",)";
  e.config = "";
  ProjectFields p;
  p.config = "";
  const Desired d = MustResolve(e, ProjectJson(p));
  EXPECT_EQ(d.main.name, "workspace");
  EXPECT_THAT(d.main.container.command, ElementsAre("sleep", "infinity"));
  EXPECT_THAT(Names(d.main.init_containers), ElementsAre("git-clone"));
  EXPECT_TRUE(d.services.empty());
  EXPECT_FALSE(d.http);
  EXPECT_EQ(EnvironmentUrl(d, OperatorConfig{}), "");
}

// A config the namespace quota cannot hold is refused with the numbers,
// not left to fail pod by pod.
TEST(ResolveTest, AConfigThatCannotFitTheQuotaIsNamed) {
  ProjectFields p;
  p.quota_memory = "2Gi";
  absl::StatusOr<Desired> d = Try({}, ProjectJson(p));
  EXPECT_THAT(d.status().message(),
              HasSubstr("the environment's pods need limits.memory 2560Mi but the namespace quota "
                        "allows 2Gi (Project my-team/catalyst spec.resources.defaultQuota)"));
}

TEST(ResolveTest, MountsNeedVolumesAndServicesTheirOwnNames) {
  EnvironmentFields e;
  e.config = R"({"volumeMounts":[{"name":"nowhere","mountPath":"/x"}],"volumes":[{"name":"code"}],
                 "services":[{"name":"web","container":{"image":"redis:7"}}]})";
  absl::StatusOr<Desired> d = Try(e, "");
  EXPECT_THAT(d.status().message(),
              HasSubstr("spec.config.volumeMounts[0].name \"nowhere\" is not one of "
                        "spec.config.volumes"));
  EXPECT_THAT(
      d.status().message(),
      HasSubstr("spec.config.services[0].name \"web\" is the operator's own workload name"));
}

TEST(ResolveTest, PullCredentialsGoToEveryPod) {
  const Desired d = MustResolve({}, ProjectJson({}), /*registry=*/true);
  EXPECT_TRUE(d.pull_secret);
  int deployments = 0;
  for (const Built& b : BuildAll(d, OperatorConfig{})) {
    if (b.resource != &kube::resources::kDeployments) continue;
    ++deployments;
    const auto* secrets = b.object.Find({"spec", "template", "spec", "imagePullSecrets"});
    ASSERT_TRUE(secrets && secrets->IsArray() && secrets->Size() == 1) << b.object.Name();
    EXPECT_EQ(kube::StrOf(kube::Member((*secrets)[0], "name")), "registry-credentials");
  }
  EXPECT_EQ(deployments, 2);
}

// docs/contract.md "Tenant isolation": a team's Project cannot take more of
// the cluster than the platform's ceiling, nor resources outside the quota.
TEST(ResolveTest, AQuotaAboveTheCeilingIsRefused) {
  ProjectFields p;
  p.quota_cpu = "1000";
  p.quota_memory = "1Ei";
  auto d = Try(EnvironmentFields{}, ProjectJson(p));
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status().message(), HasSubstr("spec.resources.defaultQuota.cpu "));
  EXPECT_THAT(d.status().message(),
              HasSubstr("is above the operator's ceiling 16 (--quota-max-cpu)"));
  EXPECT_THAT(d.status().message(), HasSubstr("ceiling 64Gi (--quota-max-memory)"));
  OperatorConfig cfg;
  cfg.quota_max_cpu = "1000";
  cfg.quota_max_memory = "1Ei";
  EXPECT_TRUE(Try(EnvironmentFields{}, ProjectJson(p), false, cfg).ok());
}

TEST(ResolveTest, ResourcesOutsideTheQuotaAreRefused) {
  for (const char* name : {"nvidia.com/gpu", "hugepages-2Mi", "example.com/dongle"}) {
    EnvironmentFields e;
    e.config = absl::StrCat(R"({"resources":{"limits":{")", name, R"(":"1"}}})");
    auto d = Try(e, ProjectJson({}));
    ASSERT_FALSE(d.ok()) << name;
    EXPECT_THAT(d.status().message(), HasSubstr(absl::StrCat("resource \"", name, "\"")));
  }
  EnvironmentFields ok;
  ok.config = R"({"resources":{"limits":{"ephemeral-storage":"1Gi","memory":"1Gi"}}})";
  EXPECT_TRUE(Try(ok, ProjectJson({})).ok()) << Try(ok, ProjectJson({})).status();
}

// postgres images start as root only to step down to their own user.
TEST(ResolveTest, PostgresRunsAsItsImagesUser) {
  // The seed's postgres (the operator's image, Alpine) when the config is silent.
  EnvironmentFields silent;
  silent.config = "";
  ProjectFields bare;
  bare.config = "";
  Desired d = MustResolve(silent, ProjectJson(bare));
  ASSERT_FALSE(d.services.empty());
  EXPECT_EQ(d.services[0].run_as_user, 70);
  EXPECT_EQ(d.main.run_as_user, 0);  // the image's own
  // The web app's preset names postgres:16 (Debian).
  d = MustResolve(EnvironmentFields{}, ProjectJson({}));
  ASSERT_FALSE(d.services.empty());
  EXPECT_EQ(d.services[0].run_as_user, 999);
}

}  // namespace
}  // namespace controllers
