// Watch-event decode throughput: a stream of Deployment events (built from a
// Deployment recorded from the local control plane, bench/data/deployment.json)
// fed through WatchDecoder in 64 KiB chunks, as the transport hands them over.
// Prints MB/s, events/s and heap allocations per event on one core.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "alloc_counter.h"
#include "kube/watch_decoder.h"

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : SOURCE_ROOT "/bench/data/deployment.json";
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string object(absl::StripAsciiWhitespace(ss.str()));
  if (object.empty()) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    return 1;
  }
  constexpr int kEvents = 20000;
  std::string stream;
  for (int i = 0; i < kEvents; ++i) {
    // Vary name and resourceVersion so no two lines are the same.
    std::string obj = absl::StrReplaceAll(
        object, {{"\"name\":\"", absl::StrCat("\"name\":\"d", i, "-")},
                 {"\"resourceVersion\":\"", absl::StrCat("\"resourceVersion\":\"", i)}});
    absl::StrAppend(&stream, R"({"type":")", i % 4 ? "MODIFIED" : "ADDED", R"(","object":)", obj,
                    "}\n");
  }

  double best_mbps = 0, best_eps = 0;
  long allocs_per_event = 0;
  for (int round = 0; round < 5; ++round) {
    kube::WatchDecoder decoder;
    long events = 0;
    const long allocs0 = bench::allocations.load();
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t off = 0; off < stream.size(); off += 64 * 1024) {
      auto st =
          decoder.Feed(absl::string_view(stream).substr(off, 64 * 1024), [&](kube::WatchEvent ev) {
            events += !ev.object.Name().empty();
            return true;
          });
      if (!st.ok()) {
        std::fprintf(stderr, "decode error: %s\n", std::string(st.message()).c_str());
        return 1;
      }
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (events != kEvents) return 1;
    best_mbps = std::max(best_mbps, stream.size() / secs / 1e6);
    best_eps = std::max(best_eps, events / secs);
    allocs_per_event = (bench::allocations.load() - allocs0) / events;
  }
  std::printf(
      "watch_decode: %d events, %.0f bytes/event, %.1f MB/s, %.0f events/s, %ld "
      "allocations/event\n",
      kEvents, static_cast<double>(stream.size()) / kEvents, best_mbps, best_eps, allocs_per_event);
  return 0;
}
