// Naming: the names and labels the operator gives what it manages — the target
// namespace of an Environment, the objects inside it, and the labels and
// annotation that tie them back to their Environment.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controllers/environment.h"

namespace controllers {

// Labels on every managed object (informers filter on managed-by).
inline constexpr char kManagedByLabel[] = "app.kubernetes.io/managed-by";
inline constexpr char kManagedByValue[] = "kube-operator";
inline constexpr char kPartOfLabel[] = "app.kubernetes.io/part-of";
inline constexpr char kPartOfValue[] = "catalyst-environment";
inline constexpr char kEnvironmentUidLabel[] = "catalyst.dev/environment-uid";
inline constexpr char kAppNameLabel[] = "app.kubernetes.io/name";  // postgres | web
// "<environment namespace>/<environment name>": maps an event on a managed
// object back to its Environment (names may be 253 chars: too long for a label).
inline constexpr char kEnvironmentAnnotation[] = "catalyst.dev/environment";
// On the web pod template: changes with what the pod runs, so a spec change rolls it.
inline constexpr char kRevisionAnnotation[] = "catalyst.dev/revision";

// Object names inside the target namespace.
inline constexpr char kQuotaName[] = "environment-quota";
inline constexpr char kPostgresName[] = "postgres";  // Deployment and Service
inline constexpr char kPostgresPvcName[] = "postgres-data";
inline constexpr char kWebName[] = "web";  // Deployment, Service and Ingress
inline constexpr char kWorkspacePvcName[] = "workspace";
// NetworkPolicies, one per operator-AGENTS.md "NetworkPolicy Configuration" rule.
inline constexpr char kDenyAllPolicyName[] = "default-deny-all";
inline constexpr char kIngressControllerPolicyName[] = "allow-ingress-controller";
inline constexpr char kSameNamespacePolicyName[] = "allow-same-namespace";
inline constexpr char kDnsPolicyName[] = "allow-dns-egress";
inline constexpr char kHttpsPolicyName[] = "allow-https-egress";

// PRODUCT.md "API" (target namespace): "<team>-<project>-<environment>" when
// all three hierarchy labels are set, else "<metadata.namespace>-<metadata.name>".
//
// The result is always a DNS-1123 label of at most 63 characters. The joined
// name is kept as is when it already is one; otherwise it is lowercased,
// every other character becomes '-', runs of '-' collapse, ends are trimmed,
// and a suffix "-" + 10 hex digits of SHA-256(joined name) is appended (the
// stem cut to fit). The suffix is also added when the name, though valid,
// already ends like a suffix ("-" + 10 hex digits) or is a system namespace
// (default, kube-*): so a suffixed result never equals a kept one, and
// distinct joined names map to distinct namespaces (up to a 40-bit hash
// collision). Two Environments whose joined names are equal — the label form
// of one spelling the fallback form of another — do share a namespace by
// PRODUCT.md's format; the planner must check the namespace's
// catalyst.dev/environment-uid label before adopting it.
//
// InvalidArgument when nothing usable remains (no letter or digit at all).
absl::StatusOr<std::string> TargetNamespace(const EnvironmentSpec& env);

// The name-level rule on its own, for a joined name.
absl::StatusOr<std::string> NamespaceNameFor(absl::string_view joined);

// Lowercase hex of SHA-256(data), cut to `digits` (at most 64).
std::string HexSha256(absl::string_view data, size_t digits = 64);

}  // namespace controllers
