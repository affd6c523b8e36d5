// libFuzzer target: arbitrary bytes as a tenant's rendered chart
// (ConfineRendered: yaml-cpp's events to JSON, aliases and merges expanded,
// then the confinement rules). Refusals are fine; crashes, hangs, leaks,
// exceptions escaping are not, and neither is an accepted object outside the
// namespace or off the allowlist.
#include <cstddef>
#include <cstdint>

#include "controllers/environment/rendered.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Smaller expansion bounds than the operator's keep each run fast; the
  // code paths are the same.
  controllers::RenderLimits limits;
  limits.max_values = 100'000;
  limits.max_text = 1 << 20;
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto got = controllers::ConfineRendered(text, "env-ns", limits);
  if (!got.ok()) return 0;
  if (got->size() > limits.max_objects) __builtin_trap();
  for (const controllers::RenderedObject& o : *got) {
    if (o.resource == nullptr || !o.resource->namespaced || o.object.Namespace() != "env-ns" ||
        o.object.Name().empty())
      __builtin_trap();
  }
  return 0;
}
