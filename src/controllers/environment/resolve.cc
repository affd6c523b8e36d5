#include "controllers/environment/resolve.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "api/v1alpha1/problems.h"
#include "controllers/environment/build_script.h"
#include "controllers/environment/egress.h"
#include "controllers/environment/git_clone.h"
#include "controllers/environment/naming.h"
#include "kube/quantity.h"

namespace controllers {
namespace {

using v1alpha1::Claim;
using v1alpha1::Config;
using v1alpha1::Container;
using v1alpha1::DeploymentMode;
using v1alpha1::EnvVar;
using v1alpha1::ManagedService;
using v1alpha1::Problems;
using v1alpha1::Resources;

constexpr char kDbName[] = "app";
constexpr char kDbUser[] = "app";
constexpr int kPostgresPort = 5432;
constexpr int kWebPort = 3000;
constexpr int kWebServicePort = 80;
// The seed's layout: the workspace volume at /workspace, the clone in app/.
constexpr char kWorkspaceMount[] = "/workspace";
constexpr char kSeedAppDir[] = "/workspace/app";
// A sub-directory: a fresh volume's root may hold lost+found, which initdb refuses.
constexpr char kPgDataMount[] = "/var/lib/postgresql/data";
constexpr char kPgData[] = "/var/lib/postgresql/data/pgdata";

kube::Object Json(absl::string_view json) { return *kube::Object::Parse(json); }

EnvVar Env(absl::string_view name, absl::string_view value) {
  return EnvVar{std::string(name), std::string(value), {}};
}

kube::Object Mount(absl::string_view name, absl::string_view path) {
  return Json(absl::StrCat(R"({"name":")", name, R"(","mountPath":")", path, R"("})"));
}

bool HasEnv(const std::vector<EnvVar>& env, absl::string_view name) {
  return std::any_of(env.begin(), env.end(), [&](const EnvVar& e) { return e.name == name; });
}

const std::string* Find(const v1alpha1::ResourceList& l, absl::string_view name) {
  for (const auto& [k, v] : l)
    if (k == name) return &v;
  return nullptr;
}

double Value(absl::string_view q) { return kube::QuantityValue(q).value_or(0); }

// The larger of two quantities.
std::string Max(const std::string& a, const std::string& b) { return Value(a) >= Value(b) ? a : b; }

// The quota counts requests.cpu, requests.memory and limits.memory (and
// limits.cpu when the Project sets defaultQuota.cpu): a container missing
// one is refused at pod creation, so what the config leaves out is filled
// in. Memory requests default to the limit (never evicted for using what it
// was given); a request never exceeds its limit.
Resources Complete(const std::optional<Resources>& given, absl::string_view cpu_request,
                   absl::string_view memory_limit, const std::string& cpu_limit) {
  Resources r = given.value_or(Resources{});
  auto set = [](v1alpha1::ResourceList& l, absl::string_view k, std::string v) {
    if (!Find(l, k)) l.emplace_back(std::string(k), std::move(v));
  };
  const std::string* mem_req = Find(r.requests, "memory");
  set(r.limits, "memory", Max(std::string(memory_limit), mem_req ? *mem_req : "0"));
  set(r.requests, "memory", *Find(r.limits, "memory"));
  const std::string* lim_cpu = Find(r.limits, "cpu");
  set(r.requests, "cpu",
      lim_cpu && Value(*lim_cpu) < Value(cpu_request) ? *lim_cpu : std::string(cpu_request));
  if (!cpu_limit.empty()) set(r.limits, "cpu", Max(cpu_limit, *Find(r.requests, "cpu")));
  return r;
}

// "postgres:16", "docker.io/library/postgres", "bitnami/postgresql:15" ...
bool IsPostgres(const ManagedService& s) {
  if (!s.database.empty()) return true;
  absl::string_view image = s.container.image;
  image = image.substr(image.rfind('/') == absl::string_view::npos ? 0 : image.rfind('/') + 1);
  return absl::StartsWith(image, "postgres");
}

// The postgres user of the official images: 70 in the Alpine ones, 999 in the Debian ones.
int64_t PostgresUid(absl::string_view image) {
  return absl::StrContains(
             image.substr(image.rfind('/') == absl::string_view::npos ? 0 : image.rfind('/') + 1),
             "alpine")
             ? 70
             : 999;
}

// A variable from the postgres-credentials Secret: the password is never in
// a Deployment, an Environment, a log line or an Event.
EnvVar FromDbSecret(absl::string_view name) {
  return EnvVar{std::string(name), "",
                Json(absl::StrCat(R"({"secretKeyRef":{"name":")", kDbSecretName, R"(","key":")",
                                  kDbPasswordKey, R"("}})"))};
}

// A sum for a message: cores as "1.5", bytes in Mi or Gi.
std::string FormatQuantity(double v, absl::string_view what) {
  if (absl::StrContains(what, "cpu")) return absl::StrCat(v);
  constexpr double kMi = 1024.0 * 1024.0;
  if (v >= 1024 * kMi && static_cast<int64_t>(v) % static_cast<int64_t>(1024 * kMi) == 0)
    return absl::StrCat(static_cast<int64_t>(v / (1024 * kMi)), "Gi");
  return absl::StrCat(static_cast<int64_t>(v / kMi + 0.5), "Mi");
}

// Accumulates what the workloads ask of the quota, to check it fits.
struct Usage {
  double requests_cpu = 0, requests_memory = 0, limits_cpu = 0, limits_memory = 0, storage = 0;
  std::vector<std::string> parts;  // "web 2Gi" for the message
};

class Resolver {
 public:
  explicit Resolver(const ResolveInput& in) : in_(in), cfg_(in.config) {}
  absl::StatusOr<Desired> Run();

 private:
  Config MergedConfig();
  void ResolveSource();
  void ResolveChart();
  // The template source named ref (else the first), at the Environment's own
  // source of that name when it has one.
  struct SourceAt {
    std::string name, url, branch, commit;
  };
  std::optional<SourceAt> TemplateSource(absl::string_view ref, absl::string_view what);
  void ResolveBuilds();
  void ResolveQuota();
  void ResolveServices();
  void ResolveMain();
  std::vector<Container> InitContainers(const Container& main, const kube::Object& clone_mount,
                                        const std::string& clone_dir);
  void ResolveVolumes(const Container& main);
  void Credentials(Container& clone, std::vector<PodVolume>& volumes);
  void CheckQuota();
  void CheckResourceNames();
  void CheckRepositoryPort();
  std::string Origin(absl::string_view field) const;

  const ResolveInput& in_;
  const OperatorConfig& cfg_;
  Problems p_;
  Desired d_;
  Config config_;
  const v1alpha1::Template* template_ = nullptr;
  bool default_postgres_ = false;
  bool database_ = false;
  // DB_PASSWORD and DATABASE_URL as the web container has them (default postgres).
  std::vector<EnvVar> db_env_;
};

// Where a merged field may have come from, for messages.
std::string Resolver::Origin(absl::string_view field) const {
  if (!template_ || !template_->config) return absl::StrCat("spec.config.", field);
  return absl::StrCat(
      "spec.config.", field, " (nor Project ", in_.project->namespace_, "/", in_.project->name,
      " spec.templates.",
      in_.env.type == v1alpha1::EnvironmentType::kDevelopment ? "development" : "deployment",
      ".config.", field, ")");
}

Config Resolver::MergedConfig() {
  if (in_.project)
    template_ = in_.project->FindTemplate(
        in_.env.type == v1alpha1::EnvironmentType::kDevelopment ? "development" : "deployment");
  if (!template_ || !template_->config) return in_.env.config;
  return v1alpha1::MergeConfig(*template_->config, in_.env.config);
}

void Resolver::ResolveSource() {
  if (d_.mode == DeploymentMode::kProduction) return;
  const v1alpha1::Source* src = in_.env.WebSource();
  const v1alpha1::ProjectSpec* project = in_.project;
  const v1alpha1::ProjectSource* from = nullptr;
  if (project) {
    if (src) from = project->FindSource(src->name);
    if (!from && template_ && !template_->source_ref.empty())
      from = project->FindSource(template_->source_ref);
    if (!from && !project->sources.empty()) from = &project->sources.front();
  }
  d_.repository_url = src && !src->repository_url.empty() ? src->repository_url
                      : from                              ? from->repository_url
                                                          : "";
  d_.commit_sha = src ? src->commit_sha : "";
  d_.branch = src && !src->branch.empty() ? src->branch : from ? from->branch : "";
  if (!d_.repository_url.empty()) return;
  if (project)
    p_.Add(absl::StrCat("no repository to clone: spec.sources has no repositoryUrl and Project ",
                        project->namespace_, "/", project->name, " has no sources"));
  else
    p_.Add(absl::StrCat(
        "no repository to clone: spec.sources needs a repositoryUrl when there is no Project (",
        ModeName(d_.mode), " mode clones the web source)"));
}

std::optional<Resolver::SourceAt> Resolver::TemplateSource(absl::string_view ref,
                                                           absl::string_view what) {
  const v1alpha1::ProjectSpec& project = *in_.project;
  const v1alpha1::ProjectSource* from = ref.empty() ? nullptr : project.FindSource(ref);
  if (!from && ref.empty() && !project.sources.empty()) from = &project.sources.front();
  if (!from) {
    p_.Add(absl::StrCat(what, " source \"", ref, "\" is not among Project ", project.namespace_,
                        "/", project.name, "'s sources"));
    return std::nullopt;
  }
  const v1alpha1::Source* own = nullptr;
  for (const v1alpha1::Source& s : in_.env.sources)
    if (s.name == from->name) own = &s;
  SourceAt at;
  at.name = from->name;
  at.url = own && !own->repository_url.empty() ? own->repository_url : from->repository_url;
  at.commit = own ? own->commit_sha : "";
  at.branch = own && !own->branch.empty() ? own->branch : from->branch;
  return at;
}

// docs/contract.md, "Project" (helm mode): the chart at the template's path
// in its source (sourceRef, else the first), at the commit of the
// Environment's source of that name when set, else its branch, else the
// Project source's branch.
void Resolver::ResolveChart() {
  std::optional<SourceAt> at =
      TemplateSource(template_->source_ref, absl::StrCat("the ", template_->type, " template's"));
  if (!at) return;
  Chart c;
  c.type = template_->type;
  c.url = at->url;
  c.commit = at->commit;
  c.branch = at->branch;
  c.path = template_->path;
  c.values = template_->values.empty() ? "{}" : template_->values;
  d_.repository_url = c.url;
  d_.branch = c.branch;
  d_.commit_sha = c.commit;
  d_.chart = std::move(c);
}

// docs/contract.md, "Image builds": each build of the template, from its
// source at the Environment's commit (else branch), by a Job: git-clone into
// an emptyDir, then the builder (--builder-image) builds the context with the
// Dockerfile and pushes to <registry>/<project>/<build>-<environment>:<tag>,
// writing the pushed digest to its termination message.
void Resolver::ResolveBuilds() {
  if (!template_ || template_->builds.empty()) return;
  if (cfg_.registry.empty()) {
    p_.Add(absl::StrCat("the template's builds (", template_->builds.front().name,
                        "...) need an image registry, and the operator has none (--registry)"));
    return;
  }
  const std::string cpu_limit = d_.quota.limits_cpu.empty() ? "" : cfg_.default_cpu_limit;
  for (const v1alpha1::Build& b : template_->builds) {
    std::optional<SourceAt> at = TemplateSource(b.source_ref, absl::StrCat("build ", b.name, "'s"));
    if (!at) continue;
    ImageBuild out;
    out.name = b.name;
    // The Project's namespace (its team's) makes the path unique: Project
    // names repeat across teams, and one team's `:main` must not be another's.
    out.repository = absl::StrCat(absl::StripSuffix(cfg_.registry, "/"), "/", d_.project_namespace,
                                  "/", d_.project_name, "/", b.name, "-", in_.env.name);
    const bool sha = at->commit.size() >= 7 && at->commit != "HEAD";
    out.ref = sha ? at->commit : at->branch;
    out.url = at->url;
    out.tag = sha ? at->commit : SanitizeLabelValue(at->branch);
    if (out.tag.empty()) out.tag = "latest";
    const std::string src = absl::StrCat(kWorkspaceMount, "/src");
    Container clone;
    clone.name = "git-clone";
    clone.image = cfg_.git_image;
    clone.command = {"sh",    "-c",       kGitCloneScript,       "git-clone",
                     at->url, at->branch, sha ? at->commit : "", src};
    clone.volume_mounts = {Mount("workspace", kWorkspaceMount)};
    if (!d_.installation_id.empty() && !cfg_.web_url.empty()) Credentials(clone, out.volumes);
    clone.resources = Complete({}, cfg_.web_cpu_request, "256Mi", cpu_limit);
    out.init_containers.push_back(std::move(clone));
    Container& builder = out.builder;
    builder.name = "build";
    builder.image = cfg_.builder_image;
    const std::string context = b.context.empty() ? src : absl::StrCat(src, "/", b.context);
    builder.command = {
        "sh",
        "-c",
        kBuildScript,
        "build",
        context,
        absl::StrCat(context, "/", b.dockerfile.empty() ? "Dockerfile" : b.dockerfile),
        out.Image()};
    builder.env = {Env("STORAGE_DRIVER", "vfs"), Env("BUILDAH_ISOLATION", "chroot")};
    builder.volume_mounts = {Mount("workspace", kWorkspaceMount),
                             Mount("containers", "/var/lib/containers")};
    if (d_.pull_secret) {
      builder.env.push_back(Env("REGISTRY_AUTH_FILE", "/run/registry/auth.json"));
      builder.volume_mounts.push_back(
          Json(R"({"name":"registry-auth","mountPath":"/run/registry","readOnly":true})"));
    }
    builder.resources = Complete({}, cfg_.web_cpu_request, cfg_.build_memory_limit, cpu_limit);
    // The checkout and buildah's layers (vfs copies each): bounded, so a
    // hostile Dockerfile cannot fill the node's disk for everyone.
    out.volumes.push_back({"workspace", "", false, cfg_.build_storage_limit});
    out.volumes.push_back({"containers", "", false, cfg_.build_storage_limit});
    d_.builds.push_back(std::move(out));
  }
}

void Resolver::ResolveQuota() {
  Quota& q = d_.quota;
  const bool from_project = in_.project != nullptr;
  const std::string cpu = from_project ? in_.project->quota_cpu : "";
  const std::string memory = from_project ? in_.project->quota_memory : "";
  auto canon = [](absl::string_view v) {
    return kube::CanonicalQuantity(v).value_or(std::string(v));
  };
  q.requests_cpu = cpu.empty() ? canon(cfg_.quota_cpu) : cpu;
  q.limits_cpu = cpu;
  q.requests_memory = memory.empty() ? canon(cfg_.quota_memory) : memory;
  q.limits_memory = q.requests_memory;
  q.requests_storage = canon(cfg_.quota_storage);
  q.pods = canon(cfg_.quota_pods);
  // docs/contract.md "Tenant isolation": a team writes its own Project; the
  // platform's ceiling bounds what it may take of the cluster.
  for (const auto& [field, asked, max, flag] :
       {std::tuple<absl::string_view, absl::string_view, absl::string_view, absl::string_view>{
            "cpu", cpu, cfg_.quota_max_cpu, "--quota-max-cpu"},
        {"memory", memory, cfg_.quota_max_memory, "--quota-max-memory"}})
    if (!asked.empty() && Value(asked) > Value(max) * (1 + 1e-9))
      p_.Add(absl::StrCat("Project ", in_.project->namespace_, "/", in_.project->name,
                          " spec.resources.defaultQuota.", field, " ", asked,
                          " is above the operator's ceiling ", max, " (", flag, ")"));
}

// docs/contract.md "Tenant isolation": the clone's port is opened to every
// address outside the cluster, so a URL may only name a port the platform allows
// (https://host:10250/ would otherwise reach every kubelet).
void Resolver::CheckRepositoryPort() {
  // The web source's, and each build's: their pods get egress to that port.
  std::vector<std::string> urls = {d_.repository_url};
  for (const ImageBuild& b : d_.builds) urls.push_back(b.url);
  auto allowed = ParseGitPorts(cfg_.git_ports);
  for (const std::string& url : urls) {
    if (url.empty()) continue;
    const int port = GitPort(url);
    if (port == 0 || !allowed.ok() || absl::c_linear_search(*allowed, port)) continue;
    p_.Add(absl::StrCat("repository ", url, " uses TCP port ", port, "; the operator allows ",
                        cfg_.git_ports, " (--git-ports)"));
    return;
  }
}

// Only what the quota counts: an extended resource (a GPU, hugepages) would
// be outside every namespace's quota, so no tenant may ask for one.
void Resolver::CheckResourceNames() {
  auto check = [&](const Container& c) {
    if (!c.resources) return;
    for (const auto* list : {&c.resources->requests, &c.resources->limits})
      for (const auto& [name, q] : *list)
        if (name != "cpu" && name != "memory" && name != "ephemeral-storage")
          p_.Add(absl::StrCat("container ", c.name, " asks for resource \"", name,
                              "\": only cpu, memory and ephemeral-storage may be requested"));
  };
  for (const Workload& w : d_.services) check(w.container);
  check(d_.main.container);
  for (const Container& c : d_.main.init_containers) check(c);
}

void Resolver::ResolveServices() {
  std::vector<ManagedService> services;
  if (config_.services) {
    services = *config_.services;
  } else if (d_.mode != DeploymentMode::kWorkspace) {
    // docs/contract.md, "Reconciliation" 4: the seed's postgres when the config is silent.
    default_postgres_ = true;
    ManagedService pg;
    pg.name = kPostgresName;
    pg.container.image = cfg_.postgres_image;
    pg.container.env = {Env("POSTGRES_DB", kDbName), Env("POSTGRES_USER", kDbUser),
                        FromDbSecret("POSTGRES_PASSWORD")};
    d_.db_credentials = true;
    pg.container.ports = {{kPostgresPort, "postgres", "TCP"}};
    pg.storage = Claim{{}, kube::CanonicalQuantity(cfg_.postgres_storage).value_or(""), ""};
    pg.database = kDbName;
    services.push_back(std::move(pg));
  }
  for (size_t i = 0; i < services.size(); ++i) {
    ManagedService& s = services[i];
    const std::string at = absl::StrCat("spec.config.services[", i, "]");
    if (s.name == kWebName || s.name == kWorkspaceName) {
      p_.Add(absl::StrCat(at, ".name \"", s.name, "\" is the operator's own workload name"));
      continue;
    }
    const bool pg = IsPostgres(s);
    database_ = database_ || pg;
    Workload w;
    w.name = s.name;
    w.container = s.container;
    w.container.name = s.name;
    if (pg && w.container.ports.empty()) w.container.ports = {{kPostgresPort, "postgres", "TCP"}};
    if (pg) w.run_as_user = PostgresUid(w.container.image);
    if (pg && !s.database.empty() && !HasEnv(w.container.env, "POSTGRES_DB"))
      w.container.env.push_back(Env("POSTGRES_DB", s.database));
    w.container.resources =
        Complete(s.container.resources, cfg_.postgres_cpu_request, cfg_.postgres_memory_limit,
                 d_.quota.limits_cpu.empty() ? "" : cfg_.default_cpu_limit);
    // Ready means accepting connections: the web pod starts only then
    // (docs/contract.md, "Reconciliation" 5).
    if (pg && !w.container.readiness_probe)
      w.container.readiness_probe =
          default_postgres_
              ? Json(absl::StrCat(R"({"exec":{"command":["pg_isready","-U",")", kDbUser,
                                  R"(","-d",")", kDbName, R"("]},"periodSeconds":5})"))
              : Json(absl::StrCat(R"({"exec":{"command":["pg_isready","-h","127.0.0.1","-p",")",
                                  w.container.ports.front().container_port,
                                  R"("]},"periodSeconds":5})"));
    if (s.storage) {
      const std::string claim = absl::StrCat(s.name, "-data");
      d_.claims.push_back({claim, s.name, *s.storage});
      w.volumes.push_back({"data", claim});
      w.container.volume_mounts = {Mount("data", pg ? kPgDataMount : "/data")};
      if (pg && !HasEnv(w.container.env, "PGDATA"))
        w.container.env.push_back(Env("PGDATA", kPgData));
    }
    for (const auto& port : w.container.ports)
      w.service_ports.push_back({port.name, port.container_port, port.container_port,
                                 port.protocol.empty() ? "TCP" : port.protocol});
    d_.services.push_back(std::move(w));
  }
}

// docs/contract.md, "Private repositories": git-clone asks the web app for the
// Project's installation token with a short-lived ServiceAccount token of the
// environment namespace, projected into git-clone alone (the app never holds one).
// Without --web-url there is no one to ask: the clone is anonymous, as before.
void Resolver::Credentials(Container& clone, std::vector<PodVolume>& volumes) {
  clone.env = {Env("CATALYST_WEB_URL", cfg_.web_url),
               Env("CATALYST_INSTALLATION_ID", d_.installation_id),
               Env("CATALYST_TOKEN_FILE", absl::StrCat(kGitTokenDir, "/token")),
               Env("CATALYST_GIT_CREDENTIAL", kGitCredentialScript)};
  clone.volume_mounts.push_back(
      Json(absl::StrCat(R"({"name":")", kGitTokenVolume, R"(","mountPath":")", kGitTokenDir,
                        R"(","readOnly":true})")));
  volumes.push_back({kGitTokenVolume, "", true});
}

std::vector<Container> Resolver::InitContainers(const Container& main,
                                                const kube::Object& clone_mount,
                                                const std::string& clone_dir) {
  std::vector<Container> init;
  const std::string cpu_limit = d_.quota.limits_cpu.empty() ? "" : cfg_.default_cpu_limit;
  auto complete = [&](Container c) {
    c.resources = Complete(c.resources, cfg_.web_cpu_request, cfg_.web_memory_limit, cpu_limit);
    return c;
  };
  if (d_.mode != DeploymentMode::kProduction) {
    // docs/contract.md, "Reconciliation" 6: git-clone first; the rest run on its clone.
    Container clone;
    clone.name = "git-clone";
    clone.image = cfg_.git_image;
    clone.command = {"sh",      "-c",          kGitCloneScript, "git-clone", d_.repository_url,
                     d_.branch, d_.commit_sha, clone_dir};
    clone.volume_mounts = {clone_mount};
    if (!d_.installation_id.empty() && !cfg_.web_url.empty()) Credentials(clone, d_.main.volumes);
    init.push_back(complete(std::move(clone)));
  }
  if (config_.init_containers && d_.mode != DeploymentMode::kProduction) {
    // The config's own steps replace the seed's install and migrate.
    for (Container c : *config_.init_containers) {
      if (c.name == "git-clone") {
        p_.Add("spec.config.initContainers: \"git-clone\" is the operator's own init container");
        continue;
      }
      if (c.image.empty()) c.image = main.image;
      if (c.working_dir.empty()) c.working_dir = main.working_dir;
      if (c.volume_mounts.empty()) c.volume_mounts = main.volume_mounts;
      c.env = v1alpha1::MergeEnv(db_env_, c.env);
      init.push_back(complete(std::move(c)));
    }
    return init;
  }
  if (d_.mode == DeploymentMode::kWorkspace) return init;
  if (d_.mode == DeploymentMode::kDevelopment) {
    // The seed's steps (docs/contract.md, "Reconciliation" 6): npm ci, then migrate. npm's
    // cache on the volume makes the next rollout's npm ci cheaper.
    Container npm;
    npm.name = "npm-install";
    npm.image = main.image;
    npm.command = {"npm", "ci"};
    npm.working_dir = main.working_dir;
    npm.env = v1alpha1::MergeEnv(
        {Env("npm_config_cache", absl::StrCat(clone_mount.Str({"mountPath"}), "/.npm"))},
        config_.container.env);
    npm.volume_mounts = main.volume_mounts;
    init.push_back(complete(std::move(npm)));
  }
  if (database_) {
    // production: migrations from the image itself, in its working directory.
    Container migrate;
    migrate.name = "db-migrate";
    migrate.image = main.image;
    migrate.command = {"npm", "run", "db:migrate"};
    migrate.working_dir = main.working_dir;
    migrate.env = main.env;
    migrate.volume_mounts = main.volume_mounts;
    init.push_back(complete(std::move(migrate)));
  }
  return init;
}

void Resolver::ResolveMain() {
  const Container& c = config_.container;
  const bool workspace = d_.mode == DeploymentMode::kWorkspace;
  const bool clones = d_.mode != DeploymentMode::kProduction;
  Workload& w = d_.main;
  w.name = workspace ? kWorkspaceName : kWebName;
  Container m = c;
  m.name = w.name;
  // The web app's docker method: the build named app (else the first) is
  // the image, once built (docs/contract.md, "Image builds").
  if (m.image.empty() && !d_.builds.empty()) {
    const ImageBuild* from = &d_.builds.front();
    for (const ImageBuild& b : d_.builds)
      if (b.name == "app") from = &b;
    d_.main_from_build = from->name;
    m.image = from->Image();  // the planner pins the built digest
  }
  if (m.image.empty() && d_.mode == DeploymentMode::kProduction)
    p_.Add(absl::StrCat(Origin("image"),
                        " is required for deploymentMode production (or a "
                        "template build to make it)"));
  if (m.image.empty()) m.image = cfg_.node_image;
  if (m.ports.empty() && !workspace) m.ports = {{kWebPort, "http", "TCP"}};
  if (m.command.empty() && d_.mode == DeploymentMode::kDevelopment)
    m.command = {"npx",        "next",    "dev",    "--turbopack",
                 "--hostname", "0.0.0.0", "--port", absl::StrCat(m.ports.front().container_port)};
  if (m.command.empty() && workspace) m.command = {"sleep", "infinity"};
  // The clone: into the first mount's path (the Go operator's GIT_CLONE_ROOT),
  // or the seed's /workspace/app when the config names no volume.
  std::string clone_dir;
  // production: no clone, no install, no volume (docs/contract.md, "Environment").
  if (!clones) m.volume_mounts.clear();
  if (clones && m.volume_mounts.empty()) {
    m.volume_mounts = {Mount(kWorkspacePvcName, kWorkspaceMount)};
    clone_dir = kSeedAppDir;
  } else if (clones) {
    clone_dir = std::string(m.volume_mounts.front().Str({"mountPath"}));
  }
  if (m.working_dir.empty() && clones) m.working_dir = clone_dir;
  std::vector<EnvVar> ours;
  if (default_postgres_) {
    // Built in the pod from the Secret ($(VAR) expands an earlier variable).
    ours.push_back(FromDbSecret("DB_PASSWORD"));
    ours.push_back(
        Env("DATABASE_URL", absl::StrCat("postgres://", kDbUser, ":$(DB_PASSWORD)@", kPostgresName,
                                         ".", d_.ns, ".svc:", kPostgresPort, "/", kDbName)));
  }
  if (!m.ports.empty()) ours.push_back(Env("PORT", absl::StrCat(m.ports.front().container_port)));
  m.env = v1alpha1::MergeEnv(ours, c.env);
  for (const EnvVar& e : m.env)
    if (default_postgres_ && (e.name == "DB_PASSWORD" || e.name == "DATABASE_URL"))
      db_env_.push_back(e);
  m.resources = Complete(c.resources, cfg_.web_cpu_request, cfg_.web_memory_limit,
                         d_.quota.limits_cpu.empty() ? "" : cfg_.default_cpu_limit);
  if (!m.readiness_probe && !workspace)
    m.readiness_probe = Json(absl::StrCat(
        R"({"tcpSocket":{"port":)", m.ports.front().container_port, R"(},"periodSeconds":5})"));
  w.init_containers =
      InitContainers(m, clones ? m.volume_mounts.front() : kube::Object(), clone_dir);
  w.container = std::move(m);
  d_.http = !workspace;
  if (d_.http)
    w.service_ports = {{"http", kWebServicePort, w.container.ports.front().container_port, "TCP"}};
}

void Resolver::ResolveVolumes(const Container& main) {
  std::vector<v1alpha1::Volume> volumes;  // production has none (see ResolveMain)
  if (d_.mode != DeploymentMode::kProduction && config_.volumes)
    volumes = *config_.volumes;
  else if (d_.mode != DeploymentMode::kProduction)
    volumes.push_back(
        {kWorkspacePvcName,
         Claim{{}, kube::CanonicalQuantity(cfg_.workspace_storage).value_or(""), ""}});
  for (const v1alpha1::Volume& v : volumes) {
    if (v.claim) {
      for (const ClaimObject& c : d_.claims)
        if (c.name == v.name)
          p_.Add(absl::StrCat("spec.config.volumes: \"", v.name, "\" is also the claim of service ",
                              c.app));
      d_.claims.push_back({v.name, d_.main.name, *v.claim});
    }
    d_.main.volumes.push_back({v.name, v.claim ? v.name : ""});
  }
  // Every mount of the pod names one of its volumes.
  auto check = [&](const Container& c, absl::string_view what) {
    for (size_t i = 0; i < c.volume_mounts.size(); ++i) {
      absl::string_view name = c.volume_mounts[i].Str({"name"});
      if (std::none_of(volumes.begin(), volumes.end(),
                       [&](const v1alpha1::Volume& v) { return v.name == name; }))
        p_.Add(absl::StrCat(what, ".volumeMounts[", i, "].name \"", name,
                            "\" is not one of spec.config.volumes"));
    }
  };
  check(main, "spec.config");
  for (const Container& c : d_.main.init_containers)
    if (c.name != "git-clone") check(c, absl::StrCat("spec.config.initContainers[", c.name, "]"));
}

// What the pods ask for against what the quota holds: a config that cannot
// fit would leave pods refused at creation, reported only at the deadline.
void Resolver::CheckQuota() {
  Usage u;
  auto add = [&](const Workload& w) {
    auto sum = [&](const std::vector<Container>& cs, bool limits, absl::string_view res) {
      double total = 0, max = 0;
      for (const Container& c : cs) {
        const std::string* q = Find(limits ? c.resources->limits : c.resources->requests, res);
        const double v = q ? Value(*q) : 0;
        total += v;
        max = std::max(max, v);
      }
      return std::pair{total, max};
    };
    // A pod's need: its containers together, or its largest init container.
    auto pod = [&](bool limits, absl::string_view res) {
      return std::max(sum({w.container}, limits, res).first,
                      sum(w.init_containers, limits, res).second);
    };
    u.requests_cpu += pod(false, "cpu");
    u.requests_memory += pod(false, "memory");
    u.limits_cpu += pod(true, "cpu");
    u.limits_memory += pod(true, "memory");
  };
  for (const Workload& w : d_.services) add(w);
  add(d_.main);
  for (const ClaimObject& c : d_.claims) u.storage += Value(c.claim.storage);
  const Quota& q = d_.quota;
  const std::string source =
      in_.project && (!in_.project->quota_cpu.empty() || !in_.project->quota_memory.empty())
          ? absl::StrCat("Project ", in_.project->namespace_, "/", in_.project->name,
                         " spec.resources.defaultQuota")
          : std::string("the operator's --quota-* flags");
  auto over = [&](absl::string_view what, double need, const std::string& hard) {
    if (hard.empty() || need <= Value(hard) * (1 + 1e-9)) return;
    p_.Add(absl::StrCat("the environment's pods need ", what, " ", FormatQuantity(need, what),
                        " but the namespace quota allows ", hard, " (", source,
                        "); lower the resources in spec.config or raise the quota"));
  };
  over("requests.cpu", u.requests_cpu, q.requests_cpu);
  over("requests.memory", u.requests_memory, q.requests_memory);
  over("limits.memory", u.limits_memory, q.limits_memory);
  over("limits.cpu", u.limits_cpu, q.limits_cpu);
  over("requests.storage", u.storage, q.requests_storage);
}

absl::StatusOr<Desired> Resolver::Run() {
  d_.env = in_.env;
  d_.mode = in_.env.Mode();
  d_.ns = in_.ns;
  d_.pull_secret = in_.registry_credentials;
  if (in_.project) {
    d_.project_namespace = in_.project->namespace_;
    d_.project_name = in_.project->name;
    d_.installation_id = in_.project->github_installation_id;
  }
  config_ = MergedConfig();
  // A helm template (and no deploymentMode of the Environment's own): the
  // chart is the workload; nothing of the config is built.
  if (template_ && (template_->type == "helm" || template_->type == "docker-compose") &&
      !in_.env.deployment_mode) {
    ResolveChart();
    d_.branch_label = SanitizeLabelValue(d_.branch);
    ResolveQuota();
    ResolveBuilds();
    CheckRepositoryPort();
    if (!p_.empty()) return p_.ToStatus();
    return std::move(d_);
  }
  ResolveSource();
  d_.branch_label = SanitizeLabelValue(d_.branch);
  ResolveQuota();
  if (d_.mode == DeploymentMode::kProduction) ResolveBuilds();
  ResolveServices();
  ResolveMain();
  ResolveVolumes(d_.main.container);
  CheckResourceNames();
  CheckRepositoryPort();
  if (p_.empty()) CheckQuota();
  if (!p_.empty()) return p_.ToStatus();
  return std::move(d_);
}

}  // namespace

absl::StatusOr<Desired> Resolve(const ResolveInput& in) { return Resolver(in).Run(); }

}  // namespace controllers
