// Step 1-3 objects of an Environment (docs/contract.md, "Reconciliation"): the
// namespace, its quota, its NetworkPolicies, and the Secrets in it.
#include <string>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "controllers/environment/egress.h"
#include "controllers/environment/manifests.h"
#include "controllers/environment/manifests_common.h"
#include "controllers/environment/naming.h"
#include "kube/json_builder.h"

namespace controllers {
namespace {

using internal::Annotations;
using internal::Labels;
using internal::Manifest;
using internal::Metadata;
using kube::J;

J NamespaceSelector(absl::string_view ns) {
  // kubernetes.io/metadata.name is set by the API server from 1.21 on and
  // cannot be forged by a tenant labelling its own namespace. On 1.20 the
  // platform must add it to the ingress and DNS namespaces (docs).
  return J::Obj({{"namespaceSelector",
                  J::Obj({{"matchLabels", J::Obj({{"kubernetes.io/metadata.name", ns}})}})}});
}

// docs/contract.md "Tenant isolation": "anywhere" is every address but the
// link-local ranges (cloud metadata) and the platform's own CIDRs.
J Anywhere(const OperatorConfig& cfg) {
  const EgressExcept except = ParseEgressExcept(cfg.egress_except_cidrs).value_or(EgressExcept{});
  return J::Arr(
      {J::Obj({{"ipBlock", J::Obj({{"cidr", "0.0.0.0/0"}, {"except", J::Strings(except.v4)}})}}),
       J::Obj({{"ipBlock", J::Obj({{"cidr", "::/0"}, {"except", J::Strings(except.v6)}})}})});
}

J TcpPort(int port) { return J::Arr({J::Obj({{"protocol", "TCP"}, {"port", port}})}); }

// The web app's namespace (the flag, else the second label of a Service
// host <svc>.<ns>[.svc...]) and port, for git-clone's egress rule to it; an
// empty namespace when neither tells.
std::pair<std::string, int> WebEndpoint(const OperatorConfig& cfg) {
  const int port = GitPort(cfg.web_url);
  if (!cfg.web_namespace.empty()) return {cfg.web_namespace, port};
  absl::string_view host = cfg.web_url;
  if (size_t s = host.find("://"); s != absl::string_view::npos) host.remove_prefix(s + 3);
  host = host.substr(0, host.find_first_of(":/"));
  std::vector<absl::string_view> labels = absl::StrSplit(host, '.');
  if (labels.size() >= 2 && (labels.size() == 2 || labels[2] == "svc"))
    return {std::string(labels[1]), port};
  return {"", port};
}

J Policy(const Desired& d, absl::string_view name, J spec) {
  return Manifest("networking.k8s.io/v1", "NetworkPolicy", Metadata(d, name), std::move(spec));
}

}  // namespace

// docs/contract.md, "Reconciliation" 1: the namespace carries the hierarchy
// labels, the branch, its type, managed-by and a label naming its Environment
// (the uid: a name can be 253 characters, too long for a label value; the
// annotation has it).
kube::Object BuildNamespace(const Desired& d) {
  J labels = Labels(d, "");
  // The web app's git-token check reads the Project from these two: where the
  // operator found it wins over the Environment's own labels.
  const std::string& team = d.project_namespace.empty() ? d.env.team : d.project_namespace;
  const std::string& project = d.project_name.empty() ? d.env.project : d.project_name;
  if (!team.empty()) labels.Set(kTeamLabel, team);
  if (!project.empty()) labels.Set(kProjectLabel, project);
  if (!d.env.environment.empty()) labels.Set(kEnvironmentLabel, d.env.environment);
  if (!d.branch_label.empty()) labels.Set(kBranchLabel, d.branch_label);
  labels.Set(kNamespaceTypeLabel, "environment");
  // docs/contract.md "Tenant isolation": Pod Security admission refuses pods
  // below baseline (privileged, host namespaces, hostPath...) in the namespace
  // and warns (and audits) what falls short of restricted.
  labels.Set("pod-security.kubernetes.io/enforce", "baseline")
      .Set("pod-security.kubernetes.io/warn", "restricted")
      .Set("pod-security.kubernetes.io/audit", "restricted");
  return J::Obj({{"apiVersion", "v1"},
                 {"kind", "Namespace"},
                 {"metadata", J::Obj({{"name", d.ns},
                                      {"labels", std::move(labels)},
                                      {"annotations", Annotations(d)}})}})
      .ToObject();
}

// docs/contract.md, "Reconciliation" 2: CPU, memory, storage, pod count; the
// Project's defaultQuota sets the CPU and memory (and then limits.cpu).
kube::Object BuildResourceQuota(const Desired& d) {
  const Quota& q = d.quota;
  J hard = J::Obj({{"requests.cpu", q.requests_cpu},
                   {"requests.memory", q.requests_memory},
                   {"limits.memory", q.limits_memory}});
  if (!q.limits_cpu.empty()) hard.Set("limits.cpu", q.limits_cpu);
  hard.Set("requests.storage", q.requests_storage).Set("pods", q.pods);
  return Manifest("v1", "ResourceQuota", Metadata(d, kQuotaName),
                  J::Obj({{"hard", std::move(hard)}}))
      .ToObject();
}

// docs/contract.md, "Reconciliation" 3 and "Network policy" 1-5, in two
// objects (each costs a write per Environment):
//
// - environment-isolation selects every pod, for ingress and egress: that is
//   rule 1 (deny-all; a selected pod admits only what some policy allows),
//   with rules 3 (same namespace, both halves: with egress isolated, ingress
//   alone would still stop db-migrate -> postgres at its source), 4 (DNS, UDP
//   and TCP 53, to the DNS namespace) and 5 (HTTPS anywhere: Anywhere(), not
//   the metadata address or the platform's ranges);
// - allow-web selects the web pods only: rule 2 (the ingress controller's
//   namespace, to the web port only: not postgres, not other ports; none in
//   workspace mode) and, for a repository cloned over ssh, git:// or http://,
//   exactly the port its URL needs, to Anywhere() too (git-clone runs in that
//   pod: a NetworkPolicy selects pods, not containers, so the app shares it).
//
// Policies add up: a connection passes when the source's egress and the
// destination's ingress both allow it.
namespace {

// A clone's egress beyond HTTPS: the ports its URLs name, and the web app
// (its git token; docs/contract.md, "Private repositories").
std::vector<J> CloneEgress(const Desired& d, const OperatorConfig& cfg,
                           const std::vector<std::string>& urls) {
  std::vector<J> egress;
  std::vector<int> ports;
  for (const std::string& url : urls)
    if (const int git = GitPort(url); git != 0 && git != 443 && !absl::c_linear_search(ports, git))
      ports.push_back(git);
  for (int port : ports)
    egress.push_back(J::Obj({{"to", Anywhere(cfg)}, {"ports", TcpPort(port)}}));
  if (const auto [web_ns, web_port] = WebEndpoint(cfg);
      !d.installation_id.empty() && !web_ns.empty() && web_port != 0)
    egress.push_back(
        J::Obj({{"to", J::Arr({NamespaceSelector(web_ns)})},
                {"ports", J::Arr({J::Obj({{"protocol", "TCP"}, {"port", web_port}})})}}));
  return egress;
}

}  // namespace

std::vector<kube::Object> BuildNetworkPolicies(const Desired& d, const OperatorConfig& cfg) {
  J all_pods = J::Obj({});
  J same_namespace = J::Arr({J::Obj({{"podSelector", all_pods}})});
  J isolation =
      J::Obj({{"podSelector", all_pods},
              {"policyTypes", J::Arr({"Ingress", "Egress"})},
              {"ingress", J::Arr({J::Obj({{"from", same_namespace}})})},
              {"egress",
               J::Arr({J::Obj({{"to", same_namespace}}),
                       J::Obj({{"to", J::Arr({NamespaceSelector(cfg.dns_namespace)})},
                               {"ports", J::Arr({J::Obj({{"protocol", "UDP"}, {"port", 53}}),
                                                 J::Obj({{"protocol", "TCP"}, {"port", 53}})})}}),
                       J::Obj({{"to", Anywhere(cfg)}, {"ports", TcpPort(443)}})})}});
  J from_ingress = J::Arr({});
  if (d.http)
    from_ingress.Push(
        J::Obj({{"from", J::Arr({NamespaceSelector(cfg.ingress_namespace)})},
                {"ports", J::Arr({J::Obj({{"protocol", "TCP"},
                                          {"port", d.main.service_ports.front().target}})})}}));
  J web =
      J::Obj({{"podSelector", J::Obj({{"matchLabels", J::Obj({{kAppNameLabel, d.main.name}})}})}});
  std::vector<J> egress = CloneEgress(d, cfg, {d.repository_url});
  if (!egress.empty()) {
    J rules = J::Arr({});
    for (J& rule : egress) rules.Push(std::move(rule));
    web.Set("policyTypes", J::Arr({"Ingress", "Egress"}))
        .Set("ingress", std::move(from_ingress))
        .Set("egress", std::move(rules));
  } else {
    web.Set("policyTypes", J::Arr({"Ingress"})).Set("ingress", std::move(from_ingress));
  }
  std::vector<kube::Object> out = {
      Policy(d, kIsolationPolicyName, std::move(isolation)).ToObject()};
  // Helm and compose mode have no web workload of the operator's: allow-web
  // would select the pods of the chart's that carry app.kubernetes.io/name
  // "" (d.main has no name) and give them the clone's egress.
  if (!d.chart) out.push_back(Policy(d, kWebPolicyName, std::move(web)).ToObject());
  // docs/contract.md, "Image builds": the build pods clone as git-clone does
  // and push to the registry's port (HTTPS is allowed to every pod already).
  if (!d.builds.empty()) {
    std::vector<std::string> urls;
    for (const ImageBuild& b : d.builds) urls.push_back(b.url);
    std::vector<J> rules = CloneEgress(d, cfg, urls);
    const int registry = GitPort(absl::StrCat("https://", cfg.registry));
    if (registry != 0 && registry != 443)
      rules.push_back(J::Obj({{"to", Anywhere(cfg)}, {"ports", TcpPort(registry)}}));
    J list = J::Arr({});
    for (J& rule : rules) list.Push(std::move(rule));
    out.push_back(
        Policy(
            d, kBuildPolicyName,
            J::Obj({{"podSelector",
                     J::Obj({{"matchExpressions",
                              J::Arr({J::Obj({{"key", kBuildLabel}, {"operator", "Exists"}})})}})},
                    {"policyTypes", J::Arr({"Egress"})},
                    {"egress", std::move(list)}}))
            .ToObject());
  }
  return out;
}

// docs/contract.md, "Project": the Project namespace's pull credentials,
// usable by the environment's pods (a Secret is only usable in its namespace).
kube::Object BuildRegistrySecret(const Desired& d, const kube::Object& source) {
  J secret = J::Obj(
      {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", Metadata(d, kRegistrySecretName)}});
  if (absl::string_view type = source.Str({"type"}); !type.empty()) secret.Set("type", type);
  if (const auto* data = source.Find({"data"}); data && data->IsObject())
    secret.Set("data", kube::Object::Copy(*data));
  return secret.ToObject();
}

kube::Object BuildTeamSecret(const Desired& d) {
  J data = J::Obj({});
  for (const auto& [k, v] : *d.team_secrets) data.Set(k, v);
  return J::Obj({{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", Metadata(d, kTeamSecretName)},
                 {"type", "Opaque"},
                 {"data", std::move(data)}})
      .ToObject();
}

kube::Object BuildDbSecret(const Desired& d, absl::string_view password) {
  return J::Obj({{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", Metadata(d, kDbSecretName, kPostgresName)},
                 {"type", "Opaque"},
                 {"data", J::Obj({{kDbPasswordKey, absl::Base64Escape(password)}})}})
      .ToObject();
}

}  // namespace controllers
