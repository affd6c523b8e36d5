// libFuzzer target: arbitrary text as a kubeconfig. Errors are fine; crashes,
// hangs and out-of-bounds reads are not.
#include <cstddef>
#include <cstdint>

#include "kube/kubeconfig.h"

namespace {
class ZeroClock final : public util::Clock {
 public:
  absl::Time Now() const override { return absl::UnixEpoch(); }
  void SleepFor(absl::Duration) const override {}
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ZeroClock clock;
  // An empty dir keeps relative file references from reaching real files.
  (void)kube::ParseKubeconfig(absl::string_view(reinterpret_cast<const char*>(data), size),
                              "/nonexistent-fuzz-dir", &clock);
  return 0;
}
