// libFuzzer target: arbitrary bytes, in arbitrary chunks, through the watch
// decoder. It must return errors, never crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>

#include "kube/watch_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the chunk size, so splits land everywhere.
  const size_t chunk = 1 + data[0] % 64;
  absl::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  kube::WatchDecoder decoder(/*max_line_bytes=*/4096);
  while (!rest.empty()) {
    absl::string_view piece = rest.substr(0, chunk);
    rest.remove_prefix(piece.size());
    auto st = decoder.Feed(piece, [](kube::WatchEvent ev) {
      // Touch what the reflector reads.
      (void)ev.object.Key();
      (void)ev.object.ResourceVersion();
      return true;
    });
    if (!st.ok()) break;
  }
  return 0;
}
