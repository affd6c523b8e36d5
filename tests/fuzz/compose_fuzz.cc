// libFuzzer target: arbitrary bytes as a tenant's compose file (ConvertCompose:
// yaml-cpp, merge keys, interpolation, the subset), then the confinement its
// output goes through in the operator. Refusals are fine; crashes, hangs,
// leaks and exceptions escaping are not, and neither is an output the
// confinement refuses: the converter must only write what may be applied.
#include <cstddef>
#include <cstdint>
#include <string>

#include "controllers/environment/compose.h"
#include "controllers/environment/rendered.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto out = controllers::ConvertCompose(
      {.yaml = text,
       .source = "compose.yaml",
       .built_images = {{"web",
                         "registry.example/p/web-pr-1@sha256:"
                         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}});
  if (!out.ok()) return 0;
  auto confined = controllers::ConfineRendered(*out, "env-ns");
  if (!confined.ok()) __builtin_trap();
  return 0;
}
