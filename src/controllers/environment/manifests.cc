#include "controllers/environment/manifests.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "controllers/environment/naming.h"
#include "kube/json_builder.h"
#include "kube/quantity.h"

namespace controllers {
namespace {

namespace r = kube::resources;
using kube::J;
using kube::QuantityValue;
using v1alpha1::Container;

std::string EnvironmentRef(const Desired& d) {
  return absl::StrCat(d.env.namespace_, "/", d.env.name);
}

J Labels(const Desired& d, absl::string_view app) {
  J labels = J::Obj({{kManagedByLabel, kManagedByValue},
                     {kPartOfLabel, kPartOfValue},
                     {kEnvironmentUidLabel, d.env.uid}});
  if (!app.empty()) labels.Set(kAppNameLabel, app);
  return labels;
}

J Annotations(const Desired& d) { return J::Obj({{kEnvironmentAnnotation, EnvironmentRef(d)}}); }

// metadata of a namespaced managed object.
J Metadata(const Desired& d, absl::string_view name, absl::string_view app = "") {
  return J::Obj({{"name", name},
                 {"namespace", d.ns},
                 {"labels", Labels(d, app)},
                 {"annotations", Annotations(d)}});
}

J Manifest(absl::string_view api_version, absl::string_view kind, J metadata, J spec) {
  return J::Obj({{"apiVersion", api_version},
                 {"kind", kind},
                 {"metadata", std::move(metadata)},
                 {"spec", std::move(spec)}});
}

J ResourceList(const v1alpha1::ResourceList& l) {
  J out = J::Obj({});
  for (const auto& [name, q] : l) out.Set(name, q);
  return out;
}

J EnvList(const std::vector<v1alpha1::EnvVar>& env) {
  J list = J::Arr({});
  for (const v1alpha1::EnvVar& e : env)
    list.Push(e.value_from ? J::Obj({{"name", e.name}, {"valueFrom", e.value_from}})
                           : J::Obj({{"name", e.name}, {"value", e.value}}));
  return list;
}

// A container in the order of its fields in the Kubernetes API. Its failure
// reason carries its log tail (FallbackToLogsOnError: the last lines of git,
// npm or the server), so the Failed condition can quote the cause.
J RenderContainer(const Container& c) {
  J out = J::Obj({{"name", c.name}, {"image", c.image}});
  if (!c.command.empty()) out.Set("command", J::Strings(c.command));
  if (!c.args.empty()) out.Set("args", J::Strings(c.args));
  if (!c.working_dir.empty()) out.Set("workingDir", c.working_dir);
  if (!c.ports.empty()) {
    J ports = J::Arr({});
    for (const auto& p : c.ports) {
      J port = J::Obj({});
      if (!p.name.empty()) port.Set("name", p.name);
      // protocol is stated: server-side apply keys ports by (containerPort, protocol).
      port.Set("containerPort", p.container_port).Set("protocol", p.protocol.empty() ? "TCP" : p.protocol);
      ports.Push(std::move(port));
    }
    out.Set("ports", std::move(ports));
  }
  if (!c.env.empty()) out.Set("env", EnvList(c.env));
  if (c.resources)
    out.Set("resources", J::Obj({{"requests", ResourceList(c.resources->requests)},
                                 {"limits", ResourceList(c.resources->limits)}}));
  if (c.liveness_probe) out.Set("livenessProbe", c.liveness_probe);
  if (c.readiness_probe) out.Set("readinessProbe", c.readiness_probe);
  if (c.startup_probe) out.Set("startupProbe", c.startup_probe);
  if (!c.volume_mounts.empty()) {
    J mounts = J::Arr({});
    for (const kube::Object& m : c.volume_mounts) mounts.Push(m);
    out.Set("volumeMounts", std::move(mounts));
  }
  out.Set("terminationMessagePolicy", "FallbackToLogsOnError");
  return out;
}

J NamespaceSelector(absl::string_view ns) {
  // kubernetes.io/metadata.name is set by the API server from 1.21 on and
  // cannot be forged by a tenant labelling its own namespace. On 1.20 the
  // platform must add it to the ingress and DNS namespaces (docs).
  return J::Obj({{"namespaceSelector",
                  J::Obj({{"matchLabels", J::Obj({{"kubernetes.io/metadata.name", ns}})}})}});
}

// The TCP port git talks to for url: 443 https, 80 http, 9418 git://, 22
// ssh:// and scp-like git@host:path, or the URL's own port; 0 for none.
int GitPort(absl::string_view url) {
  int port = 0;
  absl::string_view rest = url;
  for (const auto& [scheme, p] : {std::pair<absl::string_view, int>{"https://", 443},
                                  {"http://", 80}, {"git://", 9418}, {"ssh://", 22}})
    if (absl::ConsumePrefix(&rest, scheme)) port = p;
  if (port == 0) return absl::StartsWith(url, "git@") ? 22 : 0;
  // [user@]host[:port]/path
  absl::string_view authority = rest.substr(0, rest.find('/'));
  if (size_t at = authority.rfind('@'); at != absl::string_view::npos)
    authority = authority.substr(at + 1);
  int explicit_port = 0;
  if (size_t colon = authority.rfind(':');
      colon != absl::string_view::npos && authority.find(']', colon) == absl::string_view::npos &&
      absl::SimpleAtoi(authority.substr(colon + 1), &explicit_port) && explicit_port > 0 &&
      explicit_port < 65536)
    return explicit_port;
  return port;
}

J Policy(const Desired& d, absl::string_view name, J spec) {
  return Manifest("networking.k8s.io/v1", "NetworkPolicy", Metadata(d, name), std::move(spec));
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
  quantity("default_cpu_limit", cfg.default_cpu_limit);
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
// labels, the branch, its type, managed-by and a label naming its Environment
// (the uid: a name can be 253 characters, too long for a label value; the
// annotation has it).
kube::Object BuildNamespace(const Desired& d) {
  J labels = Labels(d, "");
  if (!d.env.team.empty()) labels.Set(kTeamLabel, d.env.team);
  if (!d.env.project.empty()) labels.Set(kProjectLabel, d.env.project);
  if (!d.env.environment.empty()) labels.Set(kEnvironmentLabel, d.env.environment);
  if (!d.branch_label.empty()) labels.Set(kBranchLabel, d.branch_label);
  labels.Set(kNamespaceTypeLabel, "environment");
  return J::Obj({{"apiVersion", "v1"},
                 {"kind", "Namespace"},
                 {"metadata", J::Obj({{"name", d.ns},
                                      {"labels", std::move(labels)},
                                      {"annotations", Annotations(d)}})}})
      .ToObject();
}

// PRODUCT.md "Reconciliation" 2: CPU, memory, storage, pod count; the
// Project's defaultQuota sets the CPU and memory (and then limits.cpu).
kube::Object BuildResourceQuota(const Desired& d) {
  const Quota& q = d.quota;
  J hard = J::Obj({{"requests.cpu", q.requests_cpu},
                   {"requests.memory", q.requests_memory},
                   {"limits.memory", q.limits_memory}});
  if (!q.limits_cpu.empty()) hard.Set("limits.cpu", q.limits_cpu);
  hard.Set("requests.storage", q.requests_storage).Set("pods", q.pods);
  return Manifest("v1", "ResourceQuota", Metadata(d, kQuotaName), J::Obj({{"hard", std::move(hard)}}))
      .ToObject();
}

// PRODUCT.md "Reconciliation" 3 / operator-AGENTS.md "NetworkPolicy
// Configuration" 1-5: one object per rule, named for it, so `kubectl get
// networkpolicy` reads like the list. Policies add up: a connection passes
// when the source's egress and the destination's ingress both allow it.
std::vector<kube::Object> BuildNetworkPolicies(const Desired& d, const OperatorConfig& cfg) {
  J all_pods = J::Obj({});
  std::vector<kube::Object> out;
  // 1: default deny-all, ingress and egress, every pod.
  out.push_back(
      Policy(d, kDenyAllPolicyName,
             J::Obj({{"podSelector", all_pods}, {"policyTypes", J::Arr({"Ingress", "Egress"})}}))
          .ToObject());
  // 2: ingress from the ingress controller's namespace, to the web pods'
  // port only (not postgres, not other ports); none in workspace mode.
  J web_pods = J::Obj({{"matchLabels", J::Obj({{kAppNameLabel, d.main.name}})}});
  J from_ingress = J::Arr({});
  if (d.http)
    from_ingress.Push(J::Obj(
        {{"from", J::Arr({NamespaceSelector(cfg.ingress_namespace)})},
         {"ports", J::Arr({J::Obj({{"protocol", "TCP"},
                                   {"port", d.main.service_ports.front().target}})})}}));
  out.push_back(Policy(d, kIngressControllerPolicyName,
                       J::Obj({{"podSelector", web_pods},
                               {"policyTypes", J::Arr({"Ingress"})},
                               {"ingress", std::move(from_ingress)}}))
                    .ToObject());
  // 3: pod to pod inside the namespace (db-migrate -> postgres). Its egress
  // half is needed too: with egress denied by 1, the connection would stop at
  // the source.
  out.push_back(
      Policy(d, kSameNamespacePolicyName,
             J::Obj({{"podSelector", all_pods},
                     {"policyTypes", J::Arr({"Ingress", "Egress"})},
                     {"ingress",
                      J::Arr({J::Obj({{"from", J::Arr({J::Obj({{"podSelector", all_pods}})})}})})},
                     {"egress",
                      J::Arr({J::Obj({{"to", J::Arr({J::Obj({{"podSelector", all_pods}})})}})})}}))
          .ToObject());
  // 4: DNS, UDP and TCP 53, to the DNS namespace.
  out.push_back(
      Policy(d, kDnsPolicyName,
             J::Obj({{"podSelector", all_pods},
                     {"policyTypes", J::Arr({"Egress"})},
                     {"egress",
                      J::Arr({J::Obj({{"to", J::Arr({NamespaceSelector(cfg.dns_namespace)})},
                                      {"ports", J::Arr({J::Obj({{"protocol", "UDP"}, {"port", 53}}),
                                                        J::Obj({{"protocol", "TCP"},
                                                                {"port", 53}})})}})})}}))
          .ToObject());
  // git-clone over another transport than HTTPS (ssh://, git@, git://,
  // http://): exactly the port its URL needs, for the pod that clones.
  if (const int port = GitPort(d.repository_url); port != 0 && port != 443)
    out.push_back(
        Policy(d, kGitPolicyName,
               J::Obj({{"podSelector", web_pods},
                       {"policyTypes", J::Arr({"Egress"})},
                       {"egress", J::Arr({J::Obj({{"ports", J::Arr({J::Obj(
                                                                {{"protocol", "TCP"},
                                                                 {"port", port}})})}})})}}))
            .ToObject());
  // 5: HTTPS anywhere (image registry, git, npm).
  out.push_back(
      Policy(d, kHttpsPolicyName,
             J::Obj({{"podSelector", all_pods},
                     {"policyTypes", J::Arr({"Egress"})},
                     {"egress", J::Arr({J::Obj({{"ports", J::Arr({J::Obj(
                                                              {{"protocol", "TCP"},
                                                               {"port", 443}})})}})})}}))
          .ToObject());
  return out;
}

// PRODUCT.md "The real client": the Project namespace's pull credentials,
// usable by the environment's pods (a Secret is only usable in its namespace).
kube::Object BuildRegistrySecret(const Desired& d, const kube::Object& source) {
  J secret = J::Obj({{"apiVersion", "v1"},
                     {"kind", "Secret"},
                     {"metadata", Metadata(d, kRegistrySecretName)}});
  if (absl::string_view type = source.Str({"type"}); !type.empty()) secret.Set("type", type);
  if (const auto* data = source.Find({"data"}); data && data->IsObject())
    secret.Set("data", kube::Object::Copy(*data));
  return secret.ToObject();
}

kube::Object BuildDbSecret(const Desired& d, absl::string_view password) {
  return J::Obj({{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", Metadata(d, kDbSecretName, kPostgresName)},
                 {"type", "Opaque"},
                 {"data", J::Obj({{kDbPasswordKey, absl::Base64Escape(password)}})}})
      .ToObject();
}

kube::Object BuildClaim(const Desired& d, const ClaimObject& c, const OperatorConfig& cfg) {
  J modes = c.claim.access_modes.empty() ? J::Arr({"ReadWriteOnce"})
                                         : J::Strings(c.claim.access_modes);
  J spec = J::Obj({{"accessModes", std::move(modes)},
                   {"resources", J::Obj({{"requests", J::Obj({{"storage", c.claim.storage}})}})}});
  // Left out, the DefaultStorageClass admission plugin fills it in.
  const std::string& sc = c.claim.storage_class.empty() ? cfg.storage_class : c.claim.storage_class;
  if (!sc.empty()) spec.Set("storageClassName", sc);
  return Manifest("v1", "PersistentVolumeClaim", Metadata(d, c.name, c.app), std::move(spec))
      .ToObject();
}

// One replica; Recreate because the pod mounts ReadWriteOnce volumes, which
// a second pod on another node could not attach during a rolling update.
// (Switching an existing Deployment from RollingUpdate to Recreate by apply
// is refused: the defaulted rollingUpdate block stays behind; so every
// workload uses Recreate from the start.)
kube::Object BuildDeployment(const Desired& d, const Workload& w) {
  J init = J::Arr({});
  for (const Container& c : w.init_containers) init.Push(RenderContainer(c));
  J pod = J::Obj({{"automountServiceAccountToken", false}, {"enableServiceLinks", false}});
  if (!w.init_containers.empty()) pod.Set("initContainers", std::move(init));
  pod.Set("containers", J::Arr({RenderContainer(w.container)}));
  if (!w.volumes.empty()) {
    J volumes = J::Arr({});
    for (const PodVolume& v : w.volumes)
      volumes.Push(v.claim.empty()
                       ? J::Obj({{"name", v.name}, {"emptyDir", J::Obj({})}})
                       : J::Obj({{"name", v.name},
                                 {"persistentVolumeClaim", J::Obj({{"claimName", v.claim}})}}));
    pod.Set("volumes", std::move(volumes));
  }
  if (d.pull_secret)
    pod.Set("imagePullSecrets", J::Arr({J::Obj({{"name", kRegistrySecretName}})}));
  J tmpl = J::Obj({{"metadata", J::Obj({{"labels", Labels(d, w.name)},
                                        {"annotations", Annotations(d)}})},
                   {"spec", std::move(pod)}});
  return Manifest("apps/v1", "Deployment", Metadata(d, w.name, w.name),
                  J::Obj({{"replicas", 1},
                          {"revisionHistoryLimit", 3},
                          {"selector", J::Obj({{"matchLabels", J::Obj({{kAppNameLabel, w.name}})}})},
                          {"strategy", J::Obj({{"type", "Recreate"}})},
                          {"template", std::move(tmpl)}}))
      .ToObject();
}

kube::Object BuildService(const Desired& d, const Workload& w) {
  J ports = J::Arr({});
  // protocol is stated: server-side apply keys ports by (port, protocol).
  for (const ServicePort& p : w.service_ports) {
    J port = J::Obj({});
    if (!p.name.empty()) port.Set("name", p.name);
    port.Set("port", p.port).Set("targetPort", p.target).Set("protocol", p.protocol);
    ports.Push(std::move(port));
  }
  return Manifest("v1", "Service", Metadata(d, w.name, w.name),
                  J::Obj({{"type", "ClusterIP"},
                          {"selector", J::Obj({{kAppNameLabel, w.name}})},
                          {"ports", std::move(ports)}}))
      .ToObject();
}

// PRODUCT.md "Reconciliation" 6: the Ingress (networking.k8s.io/v1, GA since 1.19).
kube::Object BuildIngress(const Desired& d, const OperatorConfig& cfg) {
  J backend = J::Obj({{"service", J::Obj({{"name", d.main.name},
                                          {"port", J::Obj({{"number", d.main.service_ports.front().port}})}})}});
  J rule =
      J::Obj({{"host", IngressHost(d, cfg)},
              {"http", J::Obj({{"paths", J::Arr({J::Obj({{"path", "/"},
                                                         {"pathType", "Prefix"},
                                                         {"backend", std::move(backend)}})})}})}});
  J spec = J::Obj({});
  // Left out, the cluster's default IngressClass applies.
  if (!cfg.ingress_class.empty()) spec.Set("ingressClassName", cfg.ingress_class);
  spec.Set("rules", J::Arr({std::move(rule)}));
  return Manifest("networking.k8s.io/v1", "Ingress", Metadata(d, d.main.name, d.main.name),
                  std::move(spec))
      .ToObject();
}

std::vector<Built> BuildAll(const Desired& d, const OperatorConfig& cfg,
                            const kube::Object& registry_source) {
  std::vector<Built> out;
  out.push_back({&r::kNamespaces, BuildNamespace(d)});
  out.push_back({&r::kResourceQuotas, BuildResourceQuota(d)});
  for (kube::Object& np : BuildNetworkPolicies(d, cfg)) out.push_back({&r::kNetworkPolicies, np});
  if (registry_source) out.push_back({&r::kSecrets, BuildRegistrySecret(d, registry_source)});
  for (const ClaimObject& c : d.claims) out.push_back({&r::kPersistentVolumeClaims, BuildClaim(d, c, cfg)});
  for (const Workload& w : d.services) {
    out.push_back({&r::kDeployments, BuildDeployment(d, w)});
    if (!w.service_ports.empty()) out.push_back({&r::kServices, BuildService(d, w)});
  }
  out.push_back({&r::kDeployments, BuildDeployment(d, d.main)});
  if (d.http) {
    out.push_back({&r::kServices, BuildService(d, d.main)});
    out.push_back({&r::kIngresses, BuildIngress(d, cfg)});
  }
  return out;
}

std::string IngressHost(const Desired& d, const OperatorConfig& cfg) {
  return absl::StrReplaceAll(cfg.url_host_template, {{"{name}", d.env.name}, {"{namespace}", d.ns}});
}

std::string EnvironmentUrl(const Desired& d, const OperatorConfig& cfg) {
  if (!d.http) return "";
  return absl::StrCat(cfg.url_scheme, "://", IngressHost(d, cfg));
}

}  // namespace controllers
