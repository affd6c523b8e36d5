// Step 1-3 objects of an Environment (PRODUCT.md "Reconciliation"): the
// namespace, its quota, its NetworkPolicies, and the Secrets in it.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
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

// The TCP port git talks to for url: 443 https, 80 http, 9418 git://, 22
// ssh:// and scp-like git@host:path, or the URL's own port; 0 for none.
int GitPort(absl::string_view url) {
  int port = 0;
  absl::string_view rest = url;
  for (const auto& [scheme, p] : {std::pair<absl::string_view, int>{"https://", 443},
                                  {"http://", 80},
                                  {"git://", 9418},
                                  {"ssh://", 22}})
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
  return Manifest("v1", "ResourceQuota", Metadata(d, kQuotaName),
                  J::Obj({{"hard", std::move(hard)}}))
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
    from_ingress.Push(
        J::Obj({{"from", J::Arr({NamespaceSelector(cfg.ingress_namespace)})},
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
                      J::Arr({J::Obj(
                          {{"to", J::Arr({NamespaceSelector(cfg.dns_namespace)})},
                           {"ports", J::Arr({J::Obj({{"protocol", "UDP"}, {"port", 53}}),
                                             J::Obj({{"protocol", "TCP"}, {"port", 53}})})}})})}}))
          .ToObject());
  // git-clone over another transport than HTTPS (ssh://, git@, git://,
  // http://): exactly the port its URL needs, for the pod that clones.
  if (const int port = GitPort(d.repository_url); port != 0 && port != 443)
    out.push_back(
        Policy(
            d, kGitPolicyName,
            J::Obj({{"podSelector", web_pods},
                    {"policyTypes", J::Arr({"Egress"})},
                    {"egress", J::Arr({J::Obj({{"ports", J::Arr({J::Obj({{"protocol", "TCP"},
                                                                         {"port", port}})})}})})}}))
            .ToObject());
  // 5: HTTPS anywhere (image registry, git, npm).
  out.push_back(
      Policy(d, kHttpsPolicyName,
             J::Obj({{"podSelector", all_pods},
                     {"policyTypes", J::Arr({"Egress"})},
                     {"egress", J::Arr({J::Obj({{"ports", J::Arr({J::Obj({{"protocol", "TCP"},
                                                                          {"port", 443}})})}})})}}))
          .ToObject());
  return out;
}

// PRODUCT.md "The real client": the Project namespace's pull credentials,
// usable by the environment's pods (a Secret is only usable in its namespace).
kube::Object BuildRegistrySecret(const Desired& d, const kube::Object& source) {
  J secret = J::Obj(
      {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", Metadata(d, kRegistrySecretName)}});
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

}  // namespace controllers
