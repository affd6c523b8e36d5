// Helm mode end to end (docs/contract.md, "Rendered charts"; docs/development.md,
// "Deployment templates"): a Project template of `type: helm` whose chart lives
// in a private repository of tests/webapp/standin.py. The operator clones it
// with the git token the stand-in issues (asked with a token of the environment
// namespace, as a pod there would ask), renders it with `helm template`,
// confines the output and applies it into the environment namespace; the
// simulated kubelet makes the workloads ready.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "api/v1alpha1/resources.h"
#include "controllers/environment/naming.h"
#include "e2e/catalyst_client.h"
#include "e2e/environments.h"
#include "e2e/harness.h"
#include "e2e/operator_process.h"
#include "e2e/webapp_standin.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"

namespace e2e {
namespace {

using namespace kube::resources;
namespace fs = std::filesystem;
// Repository path -> content; nullopt removes the file.
using Files = std::map<std::string, std::optional<std::string>>;

constexpr absl::Duration kReady = absl::Seconds(180);
constexpr int kPortBase = 28460;  // metrics 28460, probes 28461
// Nothing listens there: the simulated kubelet "runs" the build Jobs.
constexpr char kRegistry[] = "registry.e2e.local:5000/catalyst";

// A chart with one object of each kind the Done-when of issue #25 names; the
// ConfigMap takes its value from the template's values.
Files ShopChart() {
  const std::string resources =
      "          resources: {requests: {cpu: 50m, memory: 32Mi}, "
      "limits: {cpu: 100m, memory: 32Mi}}\n";
  return {
      {"chart/Chart.yaml", "apiVersion: v2\nname: shop\nversion: 0.1.0\n"},
      {"chart/values.yaml", "greeting: from-the-chart\nreplicas: 1\n"},
      {"chart/templates/deployment.yaml",
       "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  labels: {tier: web}\n"
       "spec:\n  replicas: {{ .Values.replicas }}\n  selector: {matchLabels: {app: shop}}\n"
       "  template:\n    metadata: {labels: {app: shop}}\n    spec:\n      containers:\n"
       "        - name: app\n          image: registry.example/shop:1\n" +
           resources},
      {"chart/templates/service.yaml",
       "apiVersion: v1\nkind: Service\nmetadata: {name: app}\nspec:\n  type: ClusterIP\n"
       "  selector: {app: shop}\n  ports: [{port: 80, targetPort: 8080}]\n"},
      {"chart/templates/configmap.yaml",
       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Release.Name }}-settings}\n"
       "data:\n  GREETING: {{ .Values.greeting | quote }}\n"},
      {"chart/templates/statefulset.yaml",
       "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: cache}\nspec:\n  replicas: 1\n"
       "  selector: {matchLabels: {app: cache}}\n  template:\n    metadata: {labels: {app: "
       "cache}}\n"
       "    spec:\n      containers:\n        - name: cache\n          image: redis:7\n" +
           resources},
  };
}

// status.readyReplicas of a workload; -1 when it cannot be read.
int64_t ReadyReplicas(const kube::Resource& res, const std::string& ns, const std::string& name) {
  auto o = Admin().Get(res, ns, name);
  return o.ok() ? o->Int({"status", "readyReplicas"}) : -1;
}

class HelmModeE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The operator renders with the helm and git of its own $PATH, which it
    // inherits from this process (OperatorProcess; scripts/test.sh puts the
    // cache's bin directory on it).
    std::string out;
    ASSERT_EQ(RunCommand("command -v helm && command -v git", &out), 0)
        << "helm and git must be on PATH (scripts/fetch-kubectl-helm.sh): " << out;
    char tmpl[] = "/tmp/e2e-helmmode.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ + "/git");
    const absl::Status s = webapp_.Start(0, {"--git-root", dir_ + "/git"}, dir_ + "/webapp.log");
    ASSERT_TRUE(s.ok()) << s;
    StartSuiteOperator(
        &op_, "helmmode", kPortBase,
        {"--web-url=" + webapp_.url(),
         // The stand-in serves git on its own port: the platform allows it.
         absl::StrCat("--git-ports=443,", webapp_.port()), absl::StrCat("--registry=", kRegistry)});
  }
  static void TearDownTestSuite() {
    StopSuiteOperator(&op_);
    webapp_.Stop();
    fs::remove_all(dir_);
  }

  // Commits files to private repository `repo` (made on first use; branch
  // main) and returns the commit's sha ("" and a test failure if git failed).
  static std::string Push(const std::string& repo, const Files& files) {
    const std::string work = absl::StrCat(dir_, "/work/", repo);
    const std::string git = absl::StrCat(
        "git -C ", work, " -c user.email=t@t -c user.name=t -c init.defaultBranch=main");
    std::string out;
    if (!fs::exists(work)) {
      fs::create_directories(work);
      if (RunCommand(absl::StrCat(git, " init -q && git -c init.defaultBranch=main init -q --bare ",
                                  dir_, "/git/", repo, ".git 2>&1"),
                     &out) != 0) {
        ADD_FAILURE() << out;
        return "";
      }
    }
    for (const auto& [path, content] : files) {
      const fs::path p = fs::path(work) / path;
      if (!content) {
        fs::remove(p);
        continue;
      }
      fs::create_directories(p.parent_path());
      std::ofstream(p) << *content;
    }
    if (RunCommand(
            absl::StrCat(git, " add -A && ", git, " commit -qm change && ", git, " push -q ", dir_,
                         "/git/", repo, ".git HEAD:main 2>&1 && ", git, " rev-parse HEAD"),
            &out) != 0) {
      ADD_FAILURE() << out;
      return "";
    }
    return std::string(absl::StripAsciiWhitespace(out));
  }

  // The Project of team t, its deployment template the chart at chart/ of
  // private repository repo, with values (and builds, a JSON list).
  static void SyncHelmProject(const Team& t, const std::string& repo, const std::string& values,
                              const std::string& builds = "[]", const std::string& type = "helm",
                              const std::string& path = "./chart") {
    testing_support::ProjectFields p =
        t.Project(absl::StrCat(webapp_.url(), "/git/", repo, ".git"));
    p.deployment_template =
        absl::StrCat(R"({"sourceRef":"primary","type":")", type, R"(","path":")", path,
                     R"(","values":)", values, R"(,"builds":)", builds, "}");
    SyncProject(p);
  }

  // A `deployment` Environment of t at commit sha, as the web app creates one.
  static testing_support::EnvironmentFields CreateDeployment(const Team& t, const std::string& name,
                                                             const std::string& sha) {
    testing_support::EnvironmentFields e = t.Environment(name);
    e.type = "deployment";
    e.commit_sha = sha;
    CreateEnvironment(e);
    return e;
  }

  // Ready for its current spec, and the render it reports is of commit sha.
  static bool ReadyWith(const testing_support::EnvironmentFields& e, const std::string& sha) {
    const kube::Object env = GetEnv(e.ns, e.name);
    return env && env.Str({"status", "phase"}) == "Ready" &&
           env.Int({"status", "observedGeneration"}) == env.Generation() &&
           absl::StartsWith(Condition(env, "Rendered"),
                            absl::StrCat("True/Rendered/commit ", sha, ": "));
  }

  static inline std::string dir_;
  static inline WebAppStandin webapp_;
  static inline std::unique_ptr<OperatorProcess> op_;
};

TEST_F(HelmModeE2E, APrivateChartIsAppliedOwnedAndWaitedForAndANewCommitPrunesWhatItDropped) {
  Team t("hm-" + Random());
  const std::string repo = "shop-" + Random();
  const std::string first = Push(repo, ShopChart());
  ASSERT_FALSE(first.empty());
  SyncHelmProject(t, repo, R"({"greeting":"from-the-project"})");
  const auto e = CreateDeployment(t, "pr-1", first);
  const std::string ns = TargetNamespace(e.ns, e.name);
  ASSERT_FALSE(ns.empty()) << GetEnv(e.ns, e.name).Serialize();

  // The StatefulSet's pod running but not ready: everything is applied, and
  // the Environment waits for that one workload.
  ASSERT_TRUE(SetSimulatorFault(ns, "cache=unready").ok());
  // On the way, never Failed: the first clone may find the new namespace's
  // `default` ServiceAccount (whose token asks for the git token) not made
  // yet, a cause that passes.
  bool failed = false;
  EXPECT_TRUE(WaitFor(kReady, [&] {
    const kube::Object env = GetEnv(e.ns, e.name);
    failed = failed || env.Str({"status", "phase"}) == "Failed";
    return Condition(env, "WebReady") == "False/Progressing/waiting for StatefulSet/cache";
  })) << GetEnv(e.ns, e.name).Serialize();
  EXPECT_FALSE(failed) << "Failed on the way to Ready";
  EXPECT_EQ(Phase(e.ns, e.name), "Deploying");
  EXPECT_EQ(ReadyReplicas(kStatefulSets, ns, "cache"), 0);

  // The simulated kubelet makes it ready: so is the Environment.
  ASSERT_TRUE(SetSimulatorFault(ns, "").ok());
  ASSERT_TRUE(WaitFor(kReady, [&] { return ReadyWith(e, first); }))
      << GetEnv(e.ns, e.name).Serialize();
  EXPECT_EQ(ReadyReplicas(kDeployments, ns, "app"), 1);
  EXPECT_EQ(ReadyReplicas(kStatefulSets, ns, "cache"), 1);
  const kube::Object env = GetEnv(e.ns, e.name);
  const std::string rendered = Condition(env, "Rendered");
  std::map<std::string, std::string> uids;  // "plural/name" -> uid
  for (const auto& [res, kind, name] :
       std::vector<std::tuple<const kube::Resource*, std::string, std::string>>{
           {&kDeployments, "Deployment", "app"},
           {&kServices, "Service", "app"},
           {&kConfigMaps, "ConfigMap", "pr-1-settings"},
           {&kStatefulSets, "StatefulSet", "cache"}}) {
    EXPECT_TRUE(absl::StrContains(rendered, absl::StrCat(kind, "/", name))) << rendered;
    auto o = Admin().Get(*res, ns, name);
    ASSERT_TRUE(o.ok()) << kind << "/" << name << ": " << o.status();
    EXPECT_EQ(o->Label("app.kubernetes.io/managed-by"), "kube-operator") << kind;
    EXPECT_EQ(o->Label("catalyst.dev/environment-uid"), env.Uid()) << kind;
    EXPECT_EQ(o->Annotation("catalyst.dev/environment"), absl::StrCat(e.ns, "/", e.name)) << kind;
    uids[absl::StrCat(res->plural, "/", name)] = std::string(o->Uid());
  }
  EXPECT_EQ(Admin().Get(kDeployments, ns, "app")->Label("tier"), "web")
      << "the chart's own labels stay";
  EXPECT_EQ(Admin().Get(kConfigMaps, ns, "pr-1-settings")->Str({"data", "GREETING"}),
            "from-the-project")
      << "the template's values reach the chart";
  EXPECT_EQ(Admin().Get(kServices, ns, "app")->Str({"spec", "type"}), "ClusterIP");
  // The chart is the workload: nothing of the development config is built.
  for (const char* name : {"web", "postgres"})
    EXPECT_TRUE(kube::apierrors::IsNotFound(Admin().Get(kDeployments, ns, name).status())) << name;

  // A new commit without the ConfigMap, the Environment moved to it (as the
  // web app does for a new push): the ConfigMap goes, the rest stays.
  const std::string second = Push(repo, {{"chart/templates/configmap.yaml", std::nullopt}});
  ASSERT_FALSE(second.empty());
  ASSERT_NE(second, first);
  auto patched = Admin().Patch(
      v1alpha1::kEnvironments, e.ns, e.name, kube::PatchType::kMerge,
      absl::StrCat(R"({"spec":{"sources":[{"name":"primary","branch":"main","commitSha":")", second,
                   R"("}]}})"));
  ASSERT_TRUE(patched.ok()) << patched.status();
  ASSERT_TRUE(WaitFor(kReady, [&] { return ReadyWith(e, second); }))
      << GetEnv(e.ns, e.name).Serialize();
  EXPECT_TRUE(WaitFor(absl::Seconds(30), [&] {
    return kube::apierrors::IsNotFound(Admin().Get(kConfigMaps, ns, "pr-1-settings").status());
  })) << "pruned";
  EXPECT_FALSE(absl::StrContains(Condition(GetEnv(e.ns, e.name), "Rendered"), "ConfigMap/"))
      << Condition(GetEnv(e.ns, e.name), "Rendered");
  for (const auto& [res, name] : std::vector<std::pair<const kube::Resource*, std::string>>{
           {&kDeployments, "app"}, {&kServices, "app"}, {&kStatefulSets, "cache"}}) {
    auto o = Admin().Get(*res, ns, name);
    ASSERT_TRUE(o.ok()) << res->plural << "/" << name << ": " << o.status();
    EXPECT_EQ(o->Uid(), uids[absl::StrCat(res->plural, "/", name)])
        << res->plural << "/" << name << " was made again";
  }
}

TEST_F(HelmModeE2E, AChartReachingBeyondItsNamespaceFailsAndNothingOfItIsApplied) {
  Team t("hm-bad-" + Random());
  const std::string repo = "bad-" + Random();
  const std::string role = "hm-admin-" + Random();
  Files chart = ShopChart();
  chart["chart/templates/rbac.yaml"] = absl::StrCat(
      "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: ", role,
      "}\nrules: [{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]\n");
  // Into a namespace of the team's: another than the environment's.
  chart["chart/templates/stray.yaml"] = absl::StrCat(
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stray, namespace: ", t.project_ns.name(),
      "}\ndata: {a: b}\n");
  const std::string sha = Push(repo, chart);
  ASSERT_FALSE(sha.empty());
  SyncHelmProject(t, repo, "{}");
  const auto e = CreateDeployment(t, "pr-2", sha);
  const std::string ns = TargetNamespace(e.ns, e.name);
  ASSERT_FALSE(ns.empty());

  ASSERT_TRUE(WaitFor(kReady, [&] { return Phase(e.ns, e.name) == "Failed"; }))
      << GetEnv(e.ns, e.name).Serialize();
  const std::string rendered = Condition(GetEnv(e.ns, e.name), "Rendered");
  EXPECT_TRUE(absl::StartsWith(rendered, "False/RenderFailed/")) << rendered;
  EXPECT_TRUE(absl::StrContains(rendered, "ClusterRole/" + role)) << rendered;
  EXPECT_TRUE(absl::StrContains(rendered, "ConfigMap/stray")) << rendered;

  // All or nothing: not the refused objects, and not the chart's others.
  EXPECT_TRUE(kube::apierrors::IsNotFound(Admin().Get(kClusterRoles, "", role).status()));
  EXPECT_TRUE(
      kube::apierrors::IsNotFound(Admin().Get(kConfigMaps, t.project_ns.name(), "stray").status()));
  for (const kube::Resource* res : {&kConfigMaps, &kDeployments, &kServices, &kStatefulSets}) {
    auto list = Admin().List(*res, ns, {});
    ASSERT_TRUE(list.ok()) << list.status();
    std::vector<std::string> names;
    for (const kube::Object& o : list->items)
      if (o.Name() != "kube-root-ca.crt") names.emplace_back(o.Name());
    EXPECT_TRUE(names.empty()) << res->plural << " in " << ns << ": " << absl::StrJoin(names, ", ");
  }
}

// docs/contract.md, "Image builds": a build template runs a Job in the
// environment namespace (git-clone with the web app's token, then the
// builder); the simulated kubelet completes it with a digest as its
// termination message, which lands in status.builds and in the chart's
// values; the Job goes once that is recorded.
TEST_F(HelmModeE2E, ABuildTemplateRunsAJobWhoseDigestReachesTheStatusAndTheChart) {
  Team t("hm-build-" + Random());
  const std::string repo = "built-" + Random();
  Files files = ShopChart();
  files["chart/templates/image.yaml"] =
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: built-image}\ndata:\n"
      "  IMAGE: \"{{ .Values.global.images.app.repository }}:{{ .Values.global.images.app.tag "
      "}}\"\n  DIGEST: {{ .Values.global.images.app.digest | quote }}\n";
  files["web/Dockerfile"] = "FROM node:22-slim\nCOPY . /app\n";
  const std::string sha = Push(repo, files);
  ASSERT_FALSE(sha.empty());
  SyncHelmProject(
      t, repo, "{}",
      R"([{"name":"app","sourceRef":"primary","path":"./web","dockerfile":"Dockerfile"}])");
  const auto e = CreateDeployment(t, "pr-4", sha);
  const std::string ns = TargetNamespace(e.ns, e.name);
  ASSERT_FALSE(ns.empty());

  // The Job, as the contract has it.
  kube::Object job;
  std::vector<std::string> phases;
  ASSERT_TRUE(WaitFor(kReady, [&] {
    const std::string phase = Phase(e.ns, e.name);
    if (phases.empty() || phases.back() != phase) phases.push_back(phase);
    auto jobs = Admin().List(kJobs, ns, {.label_selector = "catalyst.dev/build=app"});
    if (!jobs.ok() || jobs->items.empty()) return false;
    job = jobs->items.front();
    return true;
  })) << GetEnv(e.ns, e.name).Serialize();
  const std::string image =
      absl::StrCat(kRegistry, "/", t.team_ns.name(), "/", t.ProjectName(), "/app-pr-4:", sha);
  EXPECT_EQ(job.Label("catalyst.dev/environment-uid"), GetEnv(e.ns, e.name).Uid());
  EXPECT_EQ(job.Int({"spec", "backoffLimit"}), 0);
  const std::string spec = job.Serialize();
  EXPECT_TRUE(absl::StrContains(spec, absl::StrCat(R"(",")", sha, R"(","/workspace/src"])")))
      << "git-clone checks out the commit: " << spec;
  EXPECT_TRUE(absl::StrContains(spec, R"("name":"CATALYST_INSTALLATION_ID")"))
      << "with the web app's git token: " << spec;
  EXPECT_TRUE(absl::StrContains(
      spec,
      absl::StrCat(R"("/workspace/src/web","/workspace/src/web/Dockerfile",")", image, R"("])")))
      << spec;

  // Built: the digest the simulated builder left, in the status and in the chart.
  ASSERT_TRUE(WaitFor(kReady, [&] {
    const std::string phase = Phase(e.ns, e.name);
    if (phases.back() != phase) phases.push_back(phase);
    return ReadyWith(e, sha);
  })) << GetEnv(e.ns, e.name).Serialize();
  EXPECT_NE(std::find(phases.begin(), phases.end(), "Building"), phases.end())
      << absl::StrJoin(phases, " -> ");
  const std::string digest =
      absl::StrCat("sha256:", controllers::HexSha256(absl::StrCat(ns, "/", job.Name(), "/build")));
  const kube::Object env = GetEnv(e.ns, e.name);
  const auto* builds = env.Find({"status", "builds"});
  ASSERT_TRUE(builds && builds->IsArray() && builds->Size() == 1) << env.Serialize();
  const kube::Object b = kube::Object::Copy((*builds)[0]);
  EXPECT_EQ(b.Str({"name"}), "app");
  EXPECT_EQ(b.Str({"state"}), "Succeeded");
  EXPECT_EQ(b.Str({"commit"}), sha);
  EXPECT_EQ(b.Str({"image"}), image);
  EXPECT_EQ(b.Str({"digest"}), digest);
  EXPECT_EQ(b.Str({"job"}), job.Name());
  auto cm = Admin().Get(kConfigMaps, ns, "built-image");
  ASSERT_TRUE(cm.ok()) << cm.status();
  EXPECT_EQ(cm->Str({"data", "IMAGE"}), image);
  EXPECT_EQ(cm->Str({"data", "DIGEST"}), digest);
  EXPECT_TRUE(WaitFor(absl::Seconds(30), [&] {
    return kube::apierrors::IsNotFound(Admin().Get(kJobs, ns, job.Name()).status());
  })) << "the finished Job is pruned";
  EXPECT_EQ(Phase(e.ns, e.name), "Ready") << "and not built again";

  ASSERT_TRUE(Admin().Delete(v1alpha1::kEnvironments, e.ns, e.name).ok());
  EXPECT_TRUE(WaitFor(
      kReady,
      [&] { return kube::apierrors::IsNotFound(Admin().Get(kNamespaces, "", ns).status()); }))
      << "namespace " << ns << " stays";
}

// docs/contract.md, "Project" (compose mode): the web app's docker-compose
// template; a service with `build:` runs the template build of its name.
TEST_F(HelmModeE2E, AComposeFileBecomesDeploymentsAndServicesWithItsBuiltImage) {
  Team t("hm-compose-" + Random());
  const std::string repo = "compose-" + Random();
  const std::string resources = "    deploy: {resources: {limits: {memory: 64m, cpus: '0.1'}}}\n";
  const std::string sha =
      Push(repo, {{"Dockerfile", "FROM node:22-slim\n"},
                  {"docker-compose.yml",
                   "x-env: &env\n  NODE_ENV: production\nservices:\n  web:\n    build: .\n"
                   "    ports: ['8080:3000']\n    environment:\n      <<: *env\n"
                   "      DATABASE_URL: postgres://app:app@db:5432/app\n    depends_on: [db]\n" +
                       resources +
                       "  db:\n    image: postgres:16-alpine\n    expose: ['5432']\n"
                       "    environment: {POSTGRES_PASSWORD: app}\n"
                       "    volumes: ['db-data:/var/lib/postgresql/data']\n" +
                       resources + "volumes:\n  db-data: {}\n"}});
  ASSERT_FALSE(sha.empty());
  SyncHelmProject(t, repo, "{}", R"([{"name":"web","sourceRef":"primary","path":"./"}])",
                  "docker-compose", "./");
  const auto e = CreateDeployment(t, "pr-5", sha);
  const std::string ns = TargetNamespace(e.ns, e.name);
  ASSERT_FALSE(ns.empty());
  ASSERT_TRUE(WaitFor(kReady, [&] { return ReadyWith(e, sha); }))
      << GetEnv(e.ns, e.name).Serialize();

  const kube::Object env = GetEnv(e.ns, e.name);
  const auto* builds = env.Find({"status", "builds"});
  ASSERT_TRUE(builds && builds->IsArray() && builds->Size() == 1) << env.Serialize();
  const kube::Object b = kube::Object::Copy((*builds)[0]);
  EXPECT_EQ(b.Str({"state"}), "Succeeded");
  auto web = Admin().Get(kDeployments, ns, "web");
  ASSERT_TRUE(web.ok()) << web.status();
  const std::string spec = web->Serialize();
  EXPECT_TRUE(absl::StrContains(
      spec, absl::StrCat(R"("image":")", b.Str({"image"}).substr(0, b.Str({"image"}).rfind(':')),
                         "@", b.Str({"digest"}), R"(")")))
      << "web runs the built image: " << spec;
  EXPECT_TRUE(absl::StrContains(spec, R"({"name":"NODE_ENV","value":"production"})"))
      << "merge keys applied: " << spec;
  EXPECT_EQ(web->Label("catalyst.dev/environment-uid"), env.Uid());
  auto db = Admin().Get(kDeployments, ns, "db");
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_TRUE(absl::StrContains(db->Serialize(), R"("image":"postgres:16-alpine")"));
  // Every service resolves by its name, on its container's ports (a
  // compose network's rule; the published 8080 is the host's).
  auto web_svc = Admin().Get(kServices, ns, "web");
  ASSERT_TRUE(web_svc.ok()) << web_svc.status();
  EXPECT_EQ(web_svc->Str({"spec", "clusterIP"}), "None") << web_svc->Serialize();
  EXPECT_TRUE(absl::StrContains(web_svc->Serialize(), R"("port":3000)")) << web_svc->Serialize();
  EXPECT_TRUE(Admin().Get(kServices, ns, "db").ok()) << "db is reachable by its name";
  EXPECT_TRUE(
      absl::StartsWith(Condition(env, "Rendered"), absl::StrCat("True/Rendered/commit ", sha)))
      << Condition(env, "Rendered");
}

TEST_F(HelmModeE2E, DeletingTheEnvironmentRemovesItsNamespaceAndTheChartWithIt) {
  Team t("hm-del-" + Random());
  const std::string repo = "del-" + Random();
  const std::string sha = Push(repo, ShopChart());
  ASSERT_FALSE(sha.empty());
  SyncHelmProject(t, repo, "{}");
  const auto e = CreateDeployment(t, "pr-3", sha);
  const std::string ns = TargetNamespace(e.ns, e.name);
  ASSERT_FALSE(ns.empty());
  ASSERT_TRUE(WaitFor(kReady, [&] { return ReadyWith(e, sha); }))
      << GetEnv(e.ns, e.name).Serialize();
  ASSERT_TRUE(Admin().Get(kStatefulSets, ns, "cache").ok());

  ASSERT_TRUE(Admin().Delete(v1alpha1::kEnvironments, e.ns, e.name).ok());
  EXPECT_TRUE(WaitFor(kReady, [&] { return Phase(e.ns, e.name) == "<gone>"; }))
      << GetEnv(e.ns, e.name).Serialize();
  EXPECT_TRUE(WaitFor(
      kReady,
      [&] { return kube::apierrors::IsNotFound(Admin().Get(kNamespaces, "", ns).status()); }))
      << "namespace " << ns << " stays";
}

}  // namespace
}  // namespace e2e
