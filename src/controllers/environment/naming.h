// Naming: the names and labels the operator gives what it manages — the target
// namespace of an Environment, the objects inside it, and the labels and
// annotation that tie them back to their Environment.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "api/v1alpha1/environment.h"
#include "kube/object.h"

namespace controllers {

using v1alpha1::EnvironmentSpec;
using v1alpha1::kEnvironmentLabel;
using v1alpha1::kProjectLabel;
using v1alpha1::kTeamLabel;

// Labels on every managed object (informers filter on managed-by).
inline constexpr char kManagedByLabel[] = "app.kubernetes.io/managed-by";
inline constexpr char kManagedByValue[] = "kube-operator";
inline constexpr char kPartOfLabel[] = "app.kubernetes.io/part-of";
inline constexpr char kPartOfValue[] = "catalyst-environment";
inline constexpr char kEnvironmentUidLabel[] = "catalyst.dev/environment-uid";
inline constexpr char kAppNameLabel[] = "app.kubernetes.io/name";  // postgres | web
// On the target namespace (docs/contract.md, "Reconciliation" 1): the branch it runs, and what kind
// of namespace it is (the web app labels its team and project namespaces alike).
inline constexpr char kBranchLabel[] = "catalyst.dev/branch";
inline constexpr char kNamespaceTypeLabel[] = "catalyst.dev/namespace-type";
// "<environment namespace>/<environment name>": maps an event on a managed
// object back to its Environment (names may be 253 chars: too long for a label).
inline constexpr char kEnvironmentAnnotation[] = "catalyst.dev/environment";

// On every applied object: a digest of its desired manifest. A different
// digest means the operator wants something else than it last applied
// (e.g. an env var removed), which the subset check alone cannot see.
inline constexpr char kDesiredHashAnnotation[] = "catalyst.dev/desired-hash";

// Object names inside the target namespace.
inline constexpr char kQuotaName[] = "environment-quota";
inline constexpr char kPostgresName[] = "postgres";  // Deployment and Service
inline constexpr char kPostgresPvcName[] = "postgres-data";
inline constexpr char kWebName[] = "web";  // Deployment, Service and Ingress
inline constexpr char kWorkspacePvcName[] = "workspace";
// The NetworkPolicies (manifests.h: the five rules of docs/contract.md, "Network policy", in two).
inline constexpr char kIsolationPolicyName[] = "environment-isolation";
inline constexpr char kWebPolicyName[] = "allow-web";
// docs/contract.md, "Image builds": the build Jobs' pods (app.kubernetes.io/name
// build, catalyst.dev/build <name>) and their egress policy.
inline constexpr char kBuildAppName[] = "build";
inline constexpr char kBuildLabel[] = "catalyst.dev/build";
inline constexpr char kBuildPolicyName[] = "allow-build";
// Image pull credentials: copied from the Project's namespace (docs/contract.md, "Project").
inline constexpr char kRegistrySecretName[] = "registry-credentials";
// The operator's postgres password (key kDbPasswordKey), generated once.
inline constexpr char kDbSecretName[] = "postgres-credentials";
inline constexpr char kDbPasswordKey[] = "password";

// The Catalyst web app's namespace-utils.ts, byte for byte: the web app
// computes an Environment's namespace itself to list its pods (docs/contract.md,
// "Names").
//
// sanitize(s): lowercase; every character outside [a-z0-9-] becomes '-';
// runs of '-' collapse; leading and trailing '-' are trimmed.
std::string SanitizeNamespaceComponent(absl::string_view s);
// gen(parts...): sanitize each part, drop the empty ones, join with '-'; a
// result longer than 63 is cut to 57, a trailing '-' stripped, and "-" + the
// first 5 hex digits of SHA-256 of the whole joined name appended. Empty when
// every part sanitizes to nothing. Two names can share a 5-hex suffix: the
// planner never adopts a namespace another Environment owns (NamespaceConflict).
std::string GenerateNamespace(const std::vector<absl::string_view>& parts);

// docs/contract.md, "Names" (target namespace): gen(team, project, environment) of the
// hierarchy labels when all three are set, else gen(metadata.namespace,
// metadata.name). InvalidArgument when nothing usable remains.
absl::StatusOr<std::string> TargetNamespace(const EnvironmentSpec& env);

// The same from the Environment's metadata alone (no spec needed: deletion
// must work for an Environment whose spec no longer parses).
absl::StatusOr<std::string> TargetNamespaceOf(const kube::Object& env);

// A label value (at most 63 of [A-Za-z0-9._-], alphanumeric at both ends)
// standing for s, e.g. a branch "feature/login" -> "feature-login"; empty
// when nothing usable remains.
std::string SanitizeLabelValue(absl::string_view s);

// Lowercase hex of SHA-256(data), cut to `digits` (at most 64).
std::string HexSha256(absl::string_view data, size_t digits = 64);

// The operator made this namespace for the Environment of env_uid: it carries
// managed-by, namespace-type environment and that uid. Only such a namespace
// is updated, named in status or deleted (docs/contract.md "Tenant isolation").
bool OwnedNamespace(const kube::Object& ns, absl::string_view env_uid);

}  // namespace controllers
