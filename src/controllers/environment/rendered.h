// Rendered: a tenant's rendered Helm chart (`helm template`'s output), parsed
// and confined to its environment namespace before anything is applied
// (docs/contract.md, "Rendered charts"). The chart is hostile input: the
// whole stream is refused, naming the refused objects (the first 8), or every
// object is returned; never a part.
#pragma once

#include <cstddef>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kube/object.h"
#include "kube/resource.h"

namespace controllers {

// One object of the chart, ready to apply.
struct RenderedObject {
  const kube::Resource* resource;  // one of kube::resources: the allowlist's entry for its kind
  kube::Object object;             // JSON; metadata.namespace is the environment namespace
};

struct RenderLimits {
  size_t max_bytes = 4 << 20;  // of the YAML stream
  size_t max_objects = 256;    // after Lists are flattened
  size_t max_depth = 64;       // mappings and sequences nested in one document
  // What the documents expand to, each alias's copy counted again (an alias
  // bomb: a few KiB of anchors naming anchors are gigabytes once expanded).
  size_t max_values = 1'000'000;  // scalars, mappings and sequences
  size_t max_text = 16 << 20;     // bytes of keys and strings
};

// Parses a multi-document YAML stream as `helm template` prints it ("---"
// separators, "# Source: <file>" comments, empty and null documents) into
// JSON, scalars typed as `helm install` and kubectl type them (go-yaml v2, the
// decoder under sigs.k8s.io/yaml: the YAML 1.2 core schema plus 1.1's 0644
// octal, yes/no/on/off and 1_000; a quoted scalar is a string; .inf and .nan
// refused, JSON has neither), and checks every object against the rules of
// docs/contract.md, "Rendered charts": an allowlist of namespaced kinds (each
// at one apiVersion), metadata.namespace absent or ns (absent is set to ns),
// valid and unique names, none of the operator's own, no host namespaces or
// hostPath in pod templates, Services of type ClusterIP only. Objects a
// `kind: List` (or `<Kind>List`) holds are flattened, as kubectl does; test
// hooks (annotation helm.sh/hook: test), which `helm install` never creates,
// are left out. Objects come back in the stream's order.
//
// InvalidArgument: the YAML does not parse, or an object is refused; the
// message names the document (its index and its "# Source:" file) and
// "Kind/name" and why. ResourceExhausted: a limit of `limits`.
absl::StatusOr<std::vector<RenderedObject>> ConfineRendered(absl::string_view yaml,
                                                            absl::string_view ns,
                                                            const RenderLimits& limits = {});

}  // namespace controllers
