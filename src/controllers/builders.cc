#include "controllers/builders.h"

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "controllers/naming.h"
#include "controllers/subset.h"

namespace controllers {
namespace {

// A JSON value written as nested initializer lists, so a manifest in the code
// reads like the YAML it stands for; ToObject turns it into a kube::Object.
class J {
 public:
  struct Member;
  using Array = std::vector<J>;
  using Members = std::vector<Member>;

  J(const char* s) : v_(std::string(s)) {}        // NOLINT: implicit on purpose
  J(std::string s) : v_(std::move(s)) {}          // NOLINT
  J(absl::string_view s) : v_(std::string(s)) {}  // NOLINT
  J(int v) : v_(static_cast<int64_t>(v)) {}       // NOLINT
  J(bool v) : v_(v) {}                            // NOLINT
  static J Obj(std::initializer_list<Member> members);
  static J Arr(std::initializer_list<J> items) { return J(Array(items)); }
  static J Arr(Array items) { return J(std::move(items)); }

  // Adds a member to an object (for the optional ones).
  J& Set(std::string key, J value);
  // Appends to an array.
  J& Push(J value) {
    std::get<Array>(v_).push_back(std::move(value));
    return *this;
  }

  rapidjson::Value ToValue(rapidjson::Document::AllocatorType& a) const;

 private:
  explicit J(Array a) : v_(std::move(a)) {}
  explicit J(Members m) : v_(std::move(m)) {}
  std::variant<bool, int64_t, std::string, Array, Members> v_;
};

struct J::Member {
  std::string key;
  J value;
};

J J::Obj(std::initializer_list<Member> members) { return J(Members(members)); }

J& J::Set(std::string key, J value) {
  std::get<Members>(v_).push_back(Member{std::move(key), std::move(value)});
  return *this;
}

rapidjson::Value J::ToValue(rapidjson::Document::AllocatorType& a) const {
  rapidjson::Value out;
  if (const auto* b = std::get_if<bool>(&v_)) {
    out.SetBool(*b);
  } else if (const auto* i = std::get_if<int64_t>(&v_)) {
    out.SetInt64(*i);
  } else if (const auto* s = std::get_if<std::string>(&v_)) {
    out.SetString(s->data(), static_cast<rapidjson::SizeType>(s->size()), a);
  } else if (const auto* arr = std::get_if<Array>(&v_)) {
    out.SetArray();
    for (const J& item : *arr) out.PushBack(item.ToValue(a), a);
  } else {
    out.SetObject();
    for (const Member& m : std::get<Members>(v_)) {
      rapidjson::Value key(m.key.data(), static_cast<rapidjson::SizeType>(m.key.size()), a);
      out.AddMember(key, m.value.ToValue(a), a);
    }
  }
  return out;
}

kube::Object ToObject(const J& j) {
  auto doc = kube::Object::NewDocument(2048);
  rapidjson::Value v = j.ToValue(doc->GetAllocator());
  static_cast<rapidjson::Value&>(*doc).Swap(v);
  return kube::Object::Adopt(std::move(doc));
}

// Config values are validated at startup (ValidateConfig); a value that does
// not parse is sent as is and the server's error names it.
std::string Q(absl::string_view q) {
  absl::StatusOr<std::string> c = CanonicalQuantity(q);
  return c.ok() ? *c : std::string(q);
}

constexpr char kDbName[] = "app";
constexpr char kDbUser[] = "app";
constexpr int kPostgresPort = 5432;
constexpr int kWebPort = 3000;
constexpr int kWebServicePort = 80;
constexpr char kWorkspaceMount[] = "/workspace";
constexpr char kAppDir[] = "/workspace/app";  // the clone, on the workspace PVC
// A sub-directory: a fresh volume's root may hold lost+found, which initdb refuses.
constexpr char kPgData[] = "/var/lib/postgresql/data/pgdata";

// PRODUCT.md "Reconciliation" 6 (git-clone): clone repositoryUrl at commitSha
// if set, else at branch (else the default branch), into /workspace/app. The
// URL, branch and sha arrive as positional parameters, never spliced into the
// script. It clones beside the old copy and swaps, so a rerun (a restarted or
// rolled pod on the same PVC) starts clean. A full 40-digit sha is fetched on
// its own (GitHub and GitLab allow it); a short one needs the branches and tags.
constexpr char kGitCloneScript[] = R"(set -eu
url=$1 branch=$2 sha=$3 dest=/workspace/app
rm -rf "$dest.next"
if [ -n "$sha" ]; then
  git init -q "$dest.next"
  git -C "$dest.next" remote add origin "$url"
  if [ ${#sha} -eq 40 ] && git -C "$dest.next" fetch -q --depth 1 origin "$sha"; then :; else
    git -C "$dest.next" fetch -q --tags origin '+refs/heads/*:refs/remotes/origin/*'
  fi
  git -C "$dest.next" rev-parse -q --verify "$sha^{commit}" >/dev/null ||
    { echo "commit $sha not found in $url" >&2; exit 1; }
  git -C "$dest.next" checkout -q --detach "$sha"
elif [ -n "$branch" ]; then
  git clone -q --depth 1 --single-branch --branch "$branch" -- "$url" "$dest.next"
else
  git clone -q --depth 1 -- "$url" "$dest.next"
fi
rm -rf "$dest"
mv "$dest.next" "$dest"
)";

std::string EnvironmentRef(const EnvironmentSpec& env) {
  return absl::StrCat(env.namespace_, "/", env.name);
}

J Labels(const EnvironmentSpec& env, absl::string_view app) {
  J labels = J::Obj({{kManagedByLabel, kManagedByValue},
                     {kPartOfLabel, kPartOfValue},
                     {kEnvironmentUidLabel, env.uid}});
  if (!app.empty()) labels.Set(kAppNameLabel, app);
  return labels;
}

J Annotations(const EnvironmentSpec& env) {
  return J::Obj({{kEnvironmentAnnotation, EnvironmentRef(env)}});
}

// metadata of a namespaced managed object.
J Metadata(const EnvironmentSpec& env, absl::string_view name, absl::string_view ns,
           absl::string_view app = "") {
  return J::Obj({{"name", name},
                 {"namespace", ns},
                 {"labels", Labels(env, app)},
                 {"annotations", Annotations(env)}});
}

J Manifest(absl::string_view api_version, absl::string_view kind, J metadata, J spec) {
  return J::Obj({{"apiVersion", api_version},
                 {"kind", kind},
                 {"metadata", std::move(metadata)},
                 {"spec", std::move(spec)}});
}

J Pvc(const EnvironmentSpec& env, absl::string_view name, absl::string_view ns,
      absl::string_view app, absl::string_view size, const OperatorConfig& cfg) {
  J spec = J::Obj({{"accessModes", J::Arr({"ReadWriteOnce"})},
                   {"resources", J::Obj({{"requests", J::Obj({{"storage", Q(size)}})}})}});
  // Left out, the DefaultStorageClass admission plugin fills it in.
  if (!cfg.storage_class.empty()) spec.Set("storageClassName", cfg.storage_class);
  return Manifest("v1", "PersistentVolumeClaim", Metadata(env, name, ns, app), std::move(spec));
}

// The quota counts requests.cpu, requests.memory and limits.memory, so every
// container (init ones too) states all three or the pod is refused. Memory
// requests equal limits: the pod is never evicted for using what it was given.
J Resources(absl::string_view cpu, absl::string_view memory) {
  return J::Obj({{"requests", J::Obj({{"cpu", Q(cpu)}, {"memory", Q(memory)}})},
                 {"limits", J::Obj({{"memory", Q(memory)}})}});
}

J EnvEntry(absl::string_view name, absl::string_view value) {
  return J::Obj({{"name", name}, {"value", value}});
}

bool UserSets(const EnvironmentSpec& env, absl::string_view name) {
  for (const EnvVar& e : env.env_vars)
    if (e.name == name) return true;
  return false;
}

// The operator's variables first (user values may refer to them as $(NAME)),
// then spec.config.envVars in order; a user variable of the same name wins.
J WebEnv(const EnvironmentSpec& env,
         std::initializer_list<std::pair<absl::string_view, std::string>> ours) {
  J list = J::Arr({});
  for (const auto& [name, value] : ours)
    if (!UserSets(env, name)) list.Push(EnvEntry(name, value));
  for (const EnvVar& e : env.env_vars) list.Push(EnvEntry(e.name, e.value));
  return list;
}

J PodTemplate(const EnvironmentSpec& env, absl::string_view app, J annotations, J pod_spec) {
  return J::Obj({{"metadata",
                  J::Obj({{"labels", Labels(env, app)}, {"annotations", std::move(annotations)}})},
                 {"spec", std::move(pod_spec)}});
}

// One replica; Recreate because the pod mounts a ReadWriteOnce volume, which
// a second pod on another node could not attach during a rolling update.
// The web Deployment uses Recreate for both types: switching an existing
// Deployment from RollingUpdate to Recreate by apply is refused (the
// defaulted rollingUpdate block stays behind).
J DeploymentSpec(absl::string_view app, J pod_template) {
  return J::Obj({{"replicas", 1},
                 {"revisionHistoryLimit", 3},
                 {"selector", J::Obj({{"matchLabels", J::Obj({{kAppNameLabel, app}})}})},
                 {"strategy", J::Obj({{"type", "Recreate"}})},
                 {"template", std::move(pod_template)}});
}

J ServiceSpec(absl::string_view app, absl::string_view port_name, int port, int target) {
  // protocol is stated: server-side apply keys ports by (port, protocol).
  return J::Obj({{"type", "ClusterIP"},
                 {"selector", J::Obj({{kAppNameLabel, app}})},
                 {"ports", J::Arr({J::Obj({{"name", port_name},
                                           {"port", port},
                                           {"targetPort", target},
                                           {"protocol", "TCP"}})})}});
}

J ContainerPort(absl::string_view name, int port) {
  return J::Obj({{"name", name}, {"containerPort", port}, {"protocol", "TCP"}});
}

// A container whose failure reason carries its log tail (the last lines of
// git, npm or the server): the Failed condition can quote the cause.
J Container(absl::string_view name, absl::string_view image) {
  return J::Obj(
      {{"name", name}, {"image", image}, {"terminationMessagePolicy", "FallbackToLogsOnError"}});
}

J NamespaceSelector(absl::string_view ns) {
  // kubernetes.io/metadata.name is set by the API server from 1.21 on and
  // cannot be forged by a tenant labelling its own namespace. On 1.20 the
  // platform must add it to the ingress and DNS namespaces (docs).
  return J::Obj({{"namespaceSelector",
                  J::Obj({{"matchLabels", J::Obj({{"kubernetes.io/metadata.name", ns}})}})}});
}

J Policy(const EnvironmentSpec& env, absl::string_view name, absl::string_view ns, J spec) {
  return Manifest("networking.k8s.io/v1", "NetworkPolicy", Metadata(env, name, ns),
                  std::move(spec));
}

// Length-prefixed fields: ("ab","c") and ("a","bc") hash differently.
void AddField(std::string& out, absl::string_view field) {
  absl::StrAppend(&out, field.size(), ":", field, ";");
}

}  // namespace

absl::Status ValidateConfig(const OperatorConfig& cfg) {
  std::vector<std::string> problems;
  auto quantity = [&](absl::string_view field, absl::string_view q) -> double {
    absl::StatusOr<double> v = QuantityValue(q);
    if (!v.ok()) {
      problems.push_back(absl::StrCat(field, ": ", v.status().message()));
      return 0;
    }
    if (*v <= 0) problems.push_back(absl::StrCat(field, " must be positive, got \"", q, "\""));
    return *v;
  };
  double quota_cpu = quantity("quota_cpu", cfg.quota_cpu);
  double quota_memory = quantity("quota_memory", cfg.quota_memory);
  double quota_storage = quantity("quota_storage", cfg.quota_storage);
  double quota_pods = quantity("quota_pods", cfg.quota_pods);
  double web_memory = quantity("web_memory_limit", cfg.web_memory_limit);
  double pg_memory = quantity("postgres_memory_limit", cfg.postgres_memory_limit);
  double web_cpu = quantity("web_cpu_request", cfg.web_cpu_request);
  double pg_cpu = quantity("postgres_cpu_request", cfg.postgres_cpu_request);
  double pg_storage = quantity("postgres_storage", cfg.postgres_storage);
  double ws_storage = quantity("workspace_storage", cfg.workspace_storage);
  if (problems.empty()) {
    // One environment: the web pod and the postgres pod (Recreate: never two
    // web pods) and both volumes, or the quota refuses them for good.
    if (web_memory + pg_memory > quota_memory)
      problems.push_back(absl::StrCat("quota_memory ", cfg.quota_memory,
                                      " cannot hold web_memory_limit ", cfg.web_memory_limit,
                                      " + postgres_memory_limit ", cfg.postgres_memory_limit));
    if (web_cpu + pg_cpu > quota_cpu)
      problems.push_back(absl::StrCat("quota_cpu ", cfg.quota_cpu, " cannot hold web_cpu_request ",
                                      cfg.web_cpu_request, " + postgres_cpu_request ",
                                      cfg.postgres_cpu_request));
    if (pg_storage + ws_storage > quota_storage)
      problems.push_back(absl::StrCat("quota_storage ", cfg.quota_storage,
                                      " cannot hold postgres_storage ", cfg.postgres_storage,
                                      " + workspace_storage ", cfg.workspace_storage));
    if (quota_pods < 2) problems.emplace_back("quota_pods must allow at least 2 pods (web, postgres)");
  }
  for (auto [field, value] :
       {std::pair<absl::string_view, absl::string_view>{"postgres_image", cfg.postgres_image},
        {"node_image", cfg.node_image},
        {"git_image", cfg.git_image},
        {"ingress_namespace", cfg.ingress_namespace},
        {"dns_namespace", cfg.dns_namespace},
        {"field_manager", cfg.field_manager}})
    if (value.empty()) problems.push_back(absl::StrCat(field, " must not be empty"));
  if (cfg.url_scheme != "http" && cfg.url_scheme != "https")
    problems.push_back(
        absl::StrCat("url_scheme must be http or https, got \"", cfg.url_scheme, "\""));
  // The Ingress host must be a DNS subdomain for the longest target namespace
  // (63 characters) and a 63-character name (longer names are rare).
  std::string host = absl::StrReplaceAll(
      cfg.url_host_template,
      {{"{name}", std::string(63, 'n')}, {"{namespace}", std::string(63, 's')}});
  bool host_ok = !host.empty() && host.size() <= 253;
  for (absl::string_view label : absl::StrSplit(host, '.')) {
    host_ok = host_ok && !label.empty() && label.size() <= 63 && label.front() != '-' &&
              label.back() != '-';
    for (char c : label)
      host_ok = host_ok && (absl::ascii_isdigit(c) || (c >= 'a' && c <= 'z') || c == '-');
  }
  if (!host_ok)
    problems.push_back(absl::StrCat("url_host_template \"", cfg.url_host_template,
                                    "\" does not render to a lowercase DNS name (placeholders: "
                                    "{name}, {namespace})"));
  if (cfg.failure_deadline <= absl::ZeroDuration())
    problems.emplace_back("failure_deadline must be positive");
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
}

// PRODUCT.md "API" / "Reconciliation" 1: the namespace carries the hierarchy
// labels, managed-by and a label naming its Environment (the uid: a name can
// be 253 characters, too long for a label value; the annotation has it).
kube::Object BuildNamespace(const EnvironmentSpec& env, absl::string_view ns,
                            const OperatorConfig&) {
  J labels = Labels(env, "");
  if (!env.team.empty()) labels.Set(kTeamLabel, env.team);
  if (!env.project.empty()) labels.Set(kProjectLabel, env.project);
  if (!env.environment.empty()) labels.Set(kEnvironmentLabel, env.environment);
  return ToObject(J::Obj({{"apiVersion", "v1"},
                          {"kind", "Namespace"},
                          {"metadata", J::Obj({{"name", ns},
                                               {"labels", std::move(labels)},
                                               {"annotations", Annotations(env)}})}}));
}

// PRODUCT.md "Reconciliation" 2: CPU, memory, storage, pod count; configurable.
kube::Object BuildResourceQuota(const EnvironmentSpec& env, absl::string_view ns,
                                const OperatorConfig& cfg) {
  return ToObject(Manifest("v1", "ResourceQuota", Metadata(env, kQuotaName, ns),
                           J::Obj({{"hard", J::Obj({{"requests.cpu", Q(cfg.quota_cpu)},
                                                    {"requests.memory", Q(cfg.quota_memory)},
                                                    {"limits.memory", Q(cfg.quota_memory)},
                                                    {"requests.storage", Q(cfg.quota_storage)},
                                                    {"pods", Q(cfg.quota_pods)}})}})));
}

// PRODUCT.md "Reconciliation" 3 / operator-AGENTS.md "NetworkPolicy
// Configuration" 1-5: one object per rule, named for it, so `kubectl get
// networkpolicy` reads like the list. Policies add up: a connection passes
// when the source's egress and the destination's ingress both allow it.
std::vector<kube::Object> BuildNetworkPolicies(const EnvironmentSpec& env, absl::string_view ns,
                                               const OperatorConfig& cfg) {
  J all_pods = J::Obj({});
  std::vector<kube::Object> out;
  // 1: default deny-all, ingress and egress, every pod.
  out.push_back(ToObject(
      Policy(env, kDenyAllPolicyName, ns,
             J::Obj({{"podSelector", all_pods}, {"policyTypes", J::Arr({"Ingress", "Egress"})}}))));
  // 2: ingress from the ingress controller's namespace.
  out.push_back(ToObject(Policy(
      env, kIngressControllerPolicyName, ns,
      J::Obj(
          {{"podSelector", all_pods},
           {"policyTypes", J::Arr({"Ingress"})},
           {"ingress",
            J::Arr({J::Obj({{"from", J::Arr({NamespaceSelector(cfg.ingress_namespace)})}})})}}))));
  // 3: pod to pod inside the namespace (db-migrate -> postgres). Its egress
  // half is needed too: with egress denied by 1, the connection would stop at
  // the source.
  out.push_back(ToObject(Policy(
      env, kSameNamespacePolicyName, ns,
      J::Obj(
          {{"podSelector", all_pods},
           {"policyTypes", J::Arr({"Ingress", "Egress"})},
           {"ingress", J::Arr({J::Obj({{"from", J::Arr({J::Obj({{"podSelector", all_pods}})})}})})},
           {"egress",
            J::Arr({J::Obj({{"to", J::Arr({J::Obj({{"podSelector", all_pods}})})}})})}}))));
  // 4: DNS, UDP and TCP 53, to the DNS namespace.
  out.push_back(ToObject(Policy(
      env, kDnsPolicyName, ns,
      J::Obj({{"podSelector", all_pods},
              {"policyTypes", J::Arr({"Egress"})},
              {"egress",
               J::Arr({J::Obj(
                   {{"to", J::Arr({NamespaceSelector(cfg.dns_namespace)})},
                    {"ports", J::Arr({J::Obj({{"protocol", "UDP"}, {"port", 53}}),
                                      J::Obj({{"protocol", "TCP"}, {"port", 53}})})}})})}}))));
  // 5: HTTPS anywhere (image registry, git, npm).
  out.push_back(ToObject(Policy(
      env, kHttpsPolicyName, ns,
      J::Obj({{"podSelector", all_pods},
              {"policyTypes", J::Arr({"Egress"})},
              {"egress", J::Arr({J::Obj({{"ports", J::Arr({J::Obj({{"protocol", "TCP"},
                                                                   {"port", 443}})})}})})}}))));
  return out;
}

// PRODUCT.md "Reconciliation" 4: the postgres data volume.
kube::Object BuildPostgresPvc(const EnvironmentSpec& env, absl::string_view ns,
                              const OperatorConfig& cfg) {
  return ToObject(Pvc(env, kPostgresPvcName, ns, kPostgresName, cfg.postgres_storage, cfg));
}

// PRODUCT.md "Reconciliation" 4: postgres Deployment, memory limit 512Mi.
kube::Object BuildPostgresDeployment(const EnvironmentSpec& env, absl::string_view ns,
                                     const OperatorConfig& cfg) {
  J container = Container(kPostgresName, cfg.postgres_image);
  container
      .Set("env", J::Arr({EnvEntry("POSTGRES_DB", kDbName), EnvEntry("POSTGRES_USER", kDbUser),
                          EnvEntry("POSTGRES_PASSWORD", PostgresPassword(env)),
                          EnvEntry("PGDATA", kPgData)}))
      .Set("ports", J::Arr({ContainerPort("postgres", kPostgresPort)}))
      .Set("resources", Resources(cfg.postgres_cpu_request, cfg.postgres_memory_limit))
      // Ready means accepting connections: the planner starts web only then
      // (PRODUCT.md "Reconciliation" 5).
      .Set("readinessProbe",
           J::Obj({{"exec",
                    J::Obj({{"command", J::Arr({"pg_isready", "-U", kDbUser, "-d", kDbName})}})},
                   {"periodSeconds", 5}}))
      .Set("volumeMounts",
           J::Arr({J::Obj({{"name", "data"}, {"mountPath", "/var/lib/postgresql/data"}})}));
  J pod_spec = J::Obj(
      {{"automountServiceAccountToken", false},
       {"enableServiceLinks", false},
       {"containers", J::Arr({std::move(container)})},
       {"volumes",
        J::Arr({J::Obj({{"name", "data"},
                        {"persistentVolumeClaim", J::Obj({{"claimName", kPostgresPvcName}})}})})}});
  return ToObject(Manifest(
      "apps/v1", "Deployment", Metadata(env, kPostgresName, ns, kPostgresName),
      DeploymentSpec(kPostgresName,
                     PodTemplate(env, kPostgresName, Annotations(env), std::move(pod_spec)))));
}

// PRODUCT.md "Reconciliation" 4: postgres Service, 5432.
kube::Object BuildPostgresService(const EnvironmentSpec& env, absl::string_view ns,
                                  const OperatorConfig&) {
  return ToObject(Manifest("v1", "Service", Metadata(env, kPostgresName, ns, kPostgresName),
                           ServiceSpec(kPostgresName, "postgres", kPostgresPort, kPostgresPort)));
}

bool NeedsWorkspace(const EnvironmentSpec& env) {
  return env.type == EnvironmentType::kDevelopment;
}

// PRODUCT.md "Reconciliation" 6: the shared workspace PVC (the clone and node_modules).
kube::Object BuildWorkspacePvc(const EnvironmentSpec& env, absl::string_view ns,
                               const OperatorConfig& cfg) {
  return ToObject(Pvc(env, kWorkspacePvcName, ns, kWebName, cfg.workspace_storage, cfg));
}

// PRODUCT.md "Reconciliation" 6: the web Deployment.
kube::Object BuildWebDeployment(const EnvironmentSpec& env, absl::string_view ns,
                                const OperatorConfig& cfg) {
  const bool dev = env.type == EnvironmentType::kDevelopment;
  const std::string db_url = DatabaseUrl(env, ns);
  J resources = Resources(cfg.web_cpu_request, cfg.web_memory_limit);
  J app_env = WebEnv(env, {{"DATABASE_URL", db_url}, {"PORT", absl::StrCat(kWebPort)}});
  J mounts = J::Arr({J::Obj({{"name", kWorkspacePvcName}, {"mountPath", kWorkspaceMount}})});
  J probe = J::Obj({{"tcpSocket", J::Obj({{"port", kWebPort}})}, {"periodSeconds", 5}});
  J ports = J::Arr({ContainerPort("http", kWebPort)});

  J init = J::Arr({});
  J web = Container(kWebName, dev ? absl::string_view(cfg.node_image) : env.image);
  J pod_spec = J::Obj({{"automountServiceAccountToken", false}, {"enableServiceLinks", false}});
  if (dev) {
    // Init containers run in this order, each to completion (operator-AGENTS.md).
    const Source* src = env.WebSource();
    Source none;
    if (!src) src = &none;  // ParseEnvironment refuses this; stay total anyway
    init.Push(Container("git-clone", cfg.git_image)
                  .Set("command", J::Arr({"sh", "-c", kGitCloneScript, "git-clone",
                                          src->repository_url, src->branch, src->commit_sha}))
                  .Set("resources", resources)
                  .Set("volumeMounts", mounts));
    // npm's cache on the PVC makes the next rollout's npm ci cheaper.
    J npm_env = WebEnv(env, {{"npm_config_cache", "/workspace/.npm"}});
    init.Push(Container("npm-install", cfg.node_image)
                  .Set("command", J::Arr({"npm", "ci"}))
                  .Set("workingDir", kAppDir)
                  .Set("env", std::move(npm_env))
                  .Set("resources", resources)
                  .Set("volumeMounts", mounts));
    init.Push(Container("db-migrate", cfg.node_image)
                  .Set("command", J::Arr({"npm", "run", "db:migrate"}))
                  .Set("workingDir", kAppDir)
                  .Set("env", app_env)
                  .Set("resources", resources)
                  .Set("volumeMounts", mounts));
    web.Set("command", J::Arr({"npx", "next", "dev", "--turbopack", "--hostname", "0.0.0.0",
                               "--port", absl::StrCat(kWebPort)}))
        .Set("workingDir", kAppDir)
        .Set("env", app_env)
        .Set("ports", ports)
        .Set("resources", resources)
        .Set("readinessProbe", probe)
        .Set("volumeMounts", mounts);
  } else {
    // type deployment: the image's own entrypoint; migrations from the same
    // image, in its working directory.
    init.Push(Container("db-migrate", env.image)
                  .Set("command", J::Arr({"npm", "run", "db:migrate"}))
                  .Set("env", app_env)
                  .Set("resources", resources));
    web.Set("env", app_env)
        .Set("ports", ports)
        .Set("resources", resources)
        .Set("readinessProbe", probe);
  }
  pod_spec.Set("initContainers", std::move(init)).Set("containers", J::Arr({std::move(web)}));
  if (dev)
    pod_spec.Set(
        "volumes",
        J::Arr({J::Obj({{"name", kWorkspacePvcName},
                        {"persistentVolumeClaim", J::Obj({{"claimName", kWorkspacePvcName}})}})}));
  J annotations = Annotations(env);
  annotations.Set(kRevisionAnnotation, WebRevision(env));
  return ToObject(Manifest(
      "apps/v1", "Deployment", Metadata(env, kWebName, ns, kWebName),
      DeploymentSpec(kWebName,
                     PodTemplate(env, kWebName, std::move(annotations), std::move(pod_spec)))));
}

// PRODUCT.md "Reconciliation" 6: the web Service, 80 -> 3000.
kube::Object BuildWebService(const EnvironmentSpec& env, absl::string_view ns,
                             const OperatorConfig&) {
  return ToObject(Manifest("v1", "Service", Metadata(env, kWebName, ns, kWebName),
                           ServiceSpec(kWebName, "http", kWebServicePort, kWebPort)));
}

// PRODUCT.md "Reconciliation" 6: the Ingress (networking.k8s.io/v1, GA since 1.19).
kube::Object BuildIngress(const EnvironmentSpec& env, absl::string_view ns,
                          const OperatorConfig& cfg) {
  J backend = J::Obj(
      {{"service", J::Obj({{"name", kWebName}, {"port", J::Obj({{"number", kWebServicePort}})}})}});
  J rule =
      J::Obj({{"host", IngressHost(env, ns, cfg)},
              {"http", J::Obj({{"paths", J::Arr({J::Obj({{"path", "/"},
                                                         {"pathType", "Prefix"},
                                                         {"backend", std::move(backend)}})})}})}});
  J spec = J::Obj({});
  // Left out, the cluster's default IngressClass applies.
  if (!cfg.ingress_class.empty()) spec.Set("ingressClassName", cfg.ingress_class);
  spec.Set("rules", J::Arr({std::move(rule)}));
  return ToObject(Manifest("networking.k8s.io/v1", "Ingress", Metadata(env, kWebName, ns, kWebName),
                           std::move(spec)));
}

std::string IngressHost(const EnvironmentSpec& env, absl::string_view ns,
                        const OperatorConfig& cfg) {
  return absl::StrReplaceAll(cfg.url_host_template, {{"{name}", env.name}, {"{namespace}", ns}});
}

std::string EnvironmentUrl(const EnvironmentSpec& env, absl::string_view ns,
                           const OperatorConfig& cfg) {
  return absl::StrCat(cfg.url_scheme, "://", IngressHost(env, ns, cfg));
}

std::string PostgresPassword(const EnvironmentSpec& env) {
  return HexSha256(absl::StrCat("catalyst.dev/postgres-password:", env.uid), 32);
}

std::string DatabaseUrl(const EnvironmentSpec& env, absl::string_view ns) {
  // Hex password: nothing to escape. "<svc>.<ns>.svc" resolves through the
  // pod's search path whatever the cluster domain is.
  return absl::StrCat("postgres://", kDbUser, ":", PostgresPassword(env), "@", kPostgresName, ".",
                      ns, ".svc:", kPostgresPort, "/", kDbName);
}

// Inputs of the web pod: a change rolls it (PRODUCT.md "Rules": spec changes roll out).
std::string WebRevision(const EnvironmentSpec& env) {
  std::string in;
  AddField(in, env.type == EnvironmentType::kDevelopment ? "development" : "deployment");
  if (const Source* src = env.WebSource()) {
    AddField(in, src->repository_url);
    AddField(in, src->branch);
    AddField(in, src->commit_sha);
  } else {
    AddField(in, "");
    AddField(in, "");
    AddField(in, "");
  }
  AddField(in, env.image);
  for (const EnvVar& e : env.env_vars) {
    AddField(in, e.name);
    AddField(in, e.value);
  }
  return HexSha256(in, 12);
}

}  // namespace controllers
