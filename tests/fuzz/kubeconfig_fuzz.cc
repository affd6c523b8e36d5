// libFuzzer target: arbitrary bytes as a kubeconfig (yaml-cpp underneath, so
// this fuzzes its parser through ours) and as an exec plugin's ExecCredential.
// Errors are fine; crashes, hangs, leaks, exceptions escaping and
// out-of-bounds reads are not.
#include <cstddef>
#include <cstdint>

#include "kube/exec_credential.h"
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
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  // A directory that does not exist keeps relative file references from
  // reaching real files. An exec user only builds its token source: nothing
  // here asks it for a token, so no command ever runs.
  (void)kube::ParseKubeconfig(text, "/nonexistent-fuzz-dir", &clock);
  (void)kube::ParseExecCredential(text, kube::kExecCredentialV1);
  return 0;
}
