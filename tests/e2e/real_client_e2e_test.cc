// The real client end to end: the Catalyst web app's own requests, exactly as
// its code sends them (docs/contract.md, "What the web app does"),
// against the real control plane — a Project in the team namespace,
// Environments in the project namespace, the annotation merge patch, the
// 409 -> GET -> PUT of a Project update — each reaching the expected state.
//
// The operator here runs with a 10-minute resync: whatever reaches an
// Environment within the deadlines below came through a watch event, not the
// 5-second polling.
#include <signal.h>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/v1alpha1/resources.h"
#include "e2e/catalyst_client.h"
#include "e2e/environments.h"
#include "e2e/harness.h"
#include "e2e/operator_process.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"
#include "support/catalyst.h"

namespace e2e {
namespace {

using namespace kube::resources;
using testing_support::EnvironmentFields;
using testing_support::ProjectFields;
using testing_support::WebAppNamespace;
using testing_support::WebAppSanitize;

constexpr absl::Duration kReady = absl::Seconds(120);
// An event-driven change (no resync in this suite's operator).
constexpr absl::Duration kEventDriven = absl::Seconds(30);

// Ready for the current generation (the web app reads phase and url).
bool ReadyNow(const std::string& ns, const std::string& name) {
  kube::Object e = GetEnv(ns, name);
  return e && e.Str({"status", "phase"}) == "Ready" &&
         e.Int({"status", "observedGeneration"}) == e.Generation();
}

void ExpectReady(const EnvironmentFields& e) {
  EXPECT_TRUE(WaitFor(kReady, [&] { return ReadyNow(e.ns, e.name); }))
      << e.name << ": " << GetEnv(e.ns, e.name).Serialize();
}

// Container `name` of a pod template's list ("containers", "initContainers").
const rapidjson::Value* Container(const kube::Object& d, absl::string_view list,
                                  absl::string_view name) {
  const auto* cs = d.Find({"spec", "template", "spec", list});
  if (!cs || !cs->IsArray()) return nullptr;
  for (const auto& c : cs->GetArray())
    if (kube::StrOf(kube::Member(c, "name")) == name) return &c;
  return nullptr;
}

// Argument i of git-clone's command (4: URL, 5: branch, 6: sha, 7: destination).
std::string CloneArg(const kube::Object& web, size_t i) {
  const auto* clone = Container(web, "initContainers", "git-clone");
  const auto* cmd = clone ? kube::Member(*clone, "command") : nullptr;
  if (!cmd || !cmd->IsArray() || cmd->Size() <= i) return "";
  return std::string(kube::StrOf(&(*cmd)[static_cast<rapidjson::SizeType>(i)]));
}

std::vector<std::string> Names(const kube::Object& d, absl::string_view list) {
  std::vector<std::string> out;
  if (const auto* cs = d.Find({"spec", "template", "spec", list}); cs && cs->IsArray())
    for (const auto& c : cs->GetArray()) out.emplace_back(kube::StrOf(kube::Member(c, "name")));
  return out;
}

class RealClientE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    StartSuiteOperator(&op_, "client", 28190, {"--resync-period=10m"});
  }
  static void TearDownTestSuite() { StopSuiteOperator(&op_); }
  static inline std::unique_ptr<OperatorProcess> op_;
};

// The web app's Environments under its Project: the development one with the
// nextjs preset, a pull request preview, a seed-era client's, production and
// a workspace — each reaches its state, built from the Project's repository,
// template and quota, with the team's pull credentials.
TEST_F(RealClientE2E, TheWebAppsEnvironmentsBecomeReady) {
  Team t(absl::StrCat("E2E Team ", Random()));
  ASSERT_TRUE(
      Admin()
          .Create(kSecrets, t.team_ns.name(),
                  R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"registry-credentials"},
                              "type":"kubernetes.io/dockerconfigjson",
                              "data":{".dockerconfigjson":"eyJhdXRocyI6e319"}})")
          .ok());
  SyncProject(t.Project());
  EnvironmentFields dev = t.Environment("dev-happy-otter-42");
  EnvironmentFields preview = t.Environment("preview-123");
  preview.source_name = "main";  // matches no Project source
  preview.branch = "feature/login";
  preview.pr_number = 123;
  EnvironmentFields seed = t.Environment("dev-seed-era");
  seed.config = R"({"envVars":[{"name":"FEATURE_FLAG","value":"on"}]})";
  seed.commit_sha = "HEAD";
  EnvironmentFields production = t.Environment("production");
  production.type = "deployment";
  EnvironmentFields workspace = t.Environment("dev-workspace");
  workspace.extra_spec = R"("deploymentMode":"workspace",)";
  for (const auto* e : {&dev, &preview, &seed, &production, &workspace}) CreateEnvironment(*e);
  for (const auto* e : {&dev, &preview, &seed, &production, &workspace}) ExpectReady(*e);
  if (HasFailure()) return;

  // The namespace the web app computes to list pods, byte for byte.
  const kube::Object env = GetEnv(dev.ns, dev.name);
  const std::string target = WebAppNamespace({t.team, t.ProjectName(), dev.name});
  EXPECT_EQ(env.Str({"status", "namespace"}), target);
  EXPECT_EQ(env.Str({"status", "url"}), absl::StrCat("http://", target, ".preview.local"));
  EXPECT_EQ(Condition(env, "ProjectResolved"),
            absl::StrCat("True/Found/Project ", t.team_ns.name(), "/", t.ProjectName()));
  EXPECT_EQ(Condition(env, "Ready").substr(0, 11), "True/Ready/");
  EXPECT_FALSE(env.Annotation("catalyst.dev/environment-id").empty());
  EXPECT_EQ(env.Generation(), 1) << "the annotation patch is no spec change";
  auto ns = Admin().Get(kNamespaces, "", target);
  ASSERT_TRUE(ns.ok()) << ns.status();
  EXPECT_EQ(ns->Label("catalyst.dev/branch"), "main");
  EXPECT_EQ(ns->Label("catalyst.dev/namespace-type"), "environment");
  EXPECT_EQ(ns->Label("catalyst.dev/team"), WebAppSanitize(t.team));
  EXPECT_EQ(ns->Label("catalyst.dev/environment"), dev.name);

  // The preset runs as given, after git-clone of the Project's repository.
  auto web = Admin().Get(kDeployments, target, "web");
  ASSERT_TRUE(web.ok()) << web.status();
  EXPECT_EQ(Names(*web, "initContainers"),
            (std::vector<std::string>{"git-clone", "npm-install", "db-migrate"}));
  EXPECT_EQ(CloneArg(*web, 4), "https://github.com/acme/catalyst");
  EXPECT_EQ(CloneArg(*web, 5), "main");
  EXPECT_EQ(CloneArg(*web, 7), "/code");
  const auto* main = Container(*web, "containers", "web");
  ASSERT_NE(main, nullptr);
  EXPECT_EQ(kube::StrOf(kube::Member(*main, "image")), "node:22-slim");
  EXPECT_EQ(kube::StrOf(kube::Member(
                *kube::Member(*kube::Member(*main, "readinessProbe"), "httpGet"), "path")),
            "/api/health/readiness");
  EXPECT_TRUE(absl::StrContains(web->Serialize(),
                                R"("imagePullSecrets":[{"name":"registry-credentials"}])"));
  auto pg = Admin().Get(kDeployments, target, "postgres");
  ASSERT_TRUE(pg.ok());
  EXPECT_EQ(kube::StrOf(kube::Member(*Container(*pg, "containers", "postgres"), "image")),
            "postgres:16");
  EXPECT_TRUE(Admin().Get(kPersistentVolumeClaims, target, "code").ok());
  EXPECT_TRUE(Admin().Get(kPersistentVolumeClaims, target, "postgres-data").ok());
  EXPECT_TRUE(kube::apierrors::IsNotFound(
      Admin().Get(kPersistentVolumeClaims, target, "workspace").status()));
  auto quota = Admin().Get(kResourceQuotas, target, "environment-quota");
  ASSERT_TRUE(quota.ok());
  EXPECT_EQ(quota->Str({"spec", "hard", "limits.cpu"}), "2");
  EXPECT_EQ(quota->Str({"spec", "hard", "limits.memory"}), "4Gi");
  auto copy = Admin().Get(kSecrets, target, "registry-credentials");
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ(copy->Str({"data", ".dockerconfigjson"}), "eyJhdXRocyI6e319");

  // The preview: the Project's repository, the Environment's branch.
  auto preview_web =
      Admin().Get(kDeployments, WebAppNamespace({t.team, t.ProjectName(), preview.name}), "web");
  ASSERT_TRUE(preview_web.ok());
  EXPECT_EQ(CloneArg(*preview_web, 4), "https://github.com/acme/catalyst");
  EXPECT_EQ(CloneArg(*preview_web, 5), "feature/login");

  // The seed-era config merges over the template's.
  auto seed_web =
      Admin().Get(kDeployments, WebAppNamespace({t.team, t.ProjectName(), seed.name}), "web");
  ASSERT_TRUE(seed_web.ok());
  EXPECT_TRUE(absl::StrContains(seed_web->Serialize(), R"({"name":"FEATURE_FLAG","value":"on"})"));
  EXPECT_EQ(CloneArg(*seed_web, 6), "") << "HEAD means the branch";

  // production: the image, no clone, no volume; workspace: one pod, no URL.
  auto prod_web =
      Admin().Get(kDeployments, WebAppNamespace({t.team, t.ProjectName(), production.name}), "web");
  ASSERT_TRUE(prod_web.ok());
  EXPECT_EQ(Names(*prod_web, "initContainers"), (std::vector<std::string>{"db-migrate"}));
  const kube::Object ws = GetEnv(workspace.ns, workspace.name);
  EXPECT_EQ(ws.Str({"status", "url"}), "");
  EXPECT_TRUE(
      Admin().Get(kDeployments, std::string(ws.Str({"status", "namespace"})), "workspace").ok());

  // Pull credentials kept in sync: the team rotates them ({"auths":{"r":{}}}).
  const std::string rotated = "eyJhdXRocyI6eyJyIjp7fX19";
  auto patched =
      Admin().Patch(kSecrets, t.team_ns.name(), "registry-credentials", kube::PatchType::kMerge,
                    absl::StrCat(R"({"data":{".dockerconfigjson":")", rotated, R"("}})"));
  ASSERT_TRUE(patched.ok()) << patched.status();
  EXPECT_TRUE(WaitFor(kEventDriven, [&] {
    auto s = Admin().Get(kSecrets, target, "registry-credentials");
    return s.ok() && s->Str({"data", ".dockerconfigjson"}) == rotated;
  }));
  for (const auto* e : {&dev, &preview, &seed, &production, &workspace})
    ASSERT_TRUE(Admin().Delete(v1alpha1::kEnvironments, e->ns, e->name).ok());
  EXPECT_TRUE(WaitFor(kReady, [&] {
    return Admin().List(v1alpha1::kEnvironments, t.project_ns.name(), {}).value().items.empty();
  }));
}

// Long names: the namespace is the web app's gen(team, project, environment)
// (cut to 57 and a 5-hex hash), so its UI finds the pods.
TEST_F(RealClientE2E, LongNamesMatchTheWebAppByteForByte) {
  Team t(absl::StrCat("Acme Corporation International ", Random()), "Customer Portal Frontend");
  SyncProject(t.Project());
  EnvironmentFields e = t.Environment("dev-brave-otter-42");
  CreateEnvironment(e);
  ExpectReady(e);
  const std::string want = WebAppNamespace({t.team, t.ProjectName(), e.name});
  ASSERT_EQ(want.size(), 63u) << want;
  EXPECT_EQ(GetEnv(e.ns, e.name).Str({"status", "namespace"}), want);
  auto pods = Admin().List(kPods, want, {});
  ASSERT_TRUE(pods.ok());
  EXPECT_FALSE(pods->items.empty()) << "the web app lists pods in " << want;
  ASSERT_TRUE(Admin().Delete(v1alpha1::kEnvironments, e.ns, e.name).ok());
  EXPECT_TRUE(WaitFor(kReady, [&] {
    return kube::apierrors::IsNotFound(Admin().Get(kNamespaces, "", want).status()) &&
           Phase(e.ns, e.name) == "<gone>";
  }));
}

// No Project yet: Pending, saying what was looked for, nothing created; the
// Project's creation alone brings it to Ready.
TEST_F(RealClientE2E, AMissingProjectIsShownThenTheEnvironmentProceeds) {
  Team t(absl::StrCat("late-team-", Random()));
  EnvironmentFields e = t.Environment("dev-early-bird-01");
  CreateEnvironment(e);
  const std::string target = WebAppNamespace({t.team, t.ProjectName(), e.name});
  EXPECT_TRUE(WaitFor(kEventDriven, [&] {
    return Condition(GetEnv(e.ns, e.name), "ProjectResolved") ==
           absl::StrCat("False/ProjectNotFound/Project ", t.ProjectName(),
                        " not found in namespace ", t.team_ns.name(), " or ", t.project_ns.name());
  })) << GetEnv(e.ns, e.name).Serialize();
  EXPECT_EQ(Phase(e.ns, e.name), "Pending");
  EXPECT_TRUE(kube::apierrors::IsNotFound(Admin().Get(kNamespaces, "", target).status()))
      << "nothing is created without the Project";
  SyncProject(t.Project());
  ExpectReady(e);
  ASSERT_TRUE(Admin().Delete(v1alpha1::kEnvironments, e.ns, e.name).ok());
  EXPECT_TRUE(WaitFor(kReady, [&] { return Phase(e.ns, e.name) == "<gone>"; }));
}

// The web app updates a Project (409, GET, PUT whole): a new repository
// reaches every Environment of it, by watch event.
TEST_F(RealClientE2E, AProjectsNewRepositoryReachesItsEnvironments) {
  Team t(absl::StrCat("moving-team-", Random()));
  SyncProject(t.Project("https://github.com/acme/old"));
  EnvironmentFields a = t.Environment("dev-first-one-01"), b = t.Environment("dev-second-one-02");
  CreateEnvironment(a);
  CreateEnvironment(b);
  ExpectReady(a);
  ExpectReady(b);
  SyncProject(t.Project("https://github.com/acme/new"));
  for (const auto* e : {&a, &b}) {
    const std::string target = WebAppNamespace({t.team, t.ProjectName(), e->name});
    EXPECT_TRUE(WaitFor(kEventDriven, [&] {
      auto web = Admin().Get(kDeployments, target, "web");
      return web.ok() && CloneArg(*web, 4) == "https://github.com/acme/new";
    })) << e->name;
    ExpectReady(*e);
  }
  for (const auto* e : {&a, &b})
    ASSERT_TRUE(Admin().Delete(v1alpha1::kEnvironments, e->ns, e->name).ok());
  EXPECT_TRUE(WaitFor(
      kReady, [&] { return Phase(a.ns, a.name) == "<gone>" && Phase(b.ns, b.name) == "<gone>"; }));
}

}  // namespace
}  // namespace e2e
