// Informer figures: heap bytes per cached object against its JSON size (slim
// and full parsing), and the latency from a watch line's arrival to the
// handler, through decode, store and handler, with 10,000 objects cached.
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "informer/informer.h"
#include "kube/watch_decoder.h"

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return std::string(absl::StripAsciiWhitespace(ss.str()));
}

std::string Vary(const std::string& object, int i) {
  return absl::StrReplaceAll(
      object, {{"\"name\":\"", absl::StrCat("\"name\":\"o", i, "-")},
               {"\"resourceVersion\":\"", absl::StrCat("\"resourceVersion\":\"", i)}});
}

void MemoryPerObject(const char* kind, const std::string& object, int n) {
  for (bool slim : {false, true}) {
    std::vector<std::string> lines;
    size_t json_bytes = 0;
    for (int i = 0; i < n; ++i) {
      std::string obj = Vary(object, i);
      json_bytes += obj.size();
      lines.push_back(absl::StrCat(R"({"type":"ADDED","object":)", obj, "}"));
    }
    informer::Store store;
    store.AddIndex("namespace", informer::ByNamespace);
    // RapidJSON's pools come from malloc, not operator new: ask malloc.
    const size_t before = mallinfo2().uordblks;
    for (const auto& line : lines) store.Upsert(kube::DecodeWatchLine(line, slim)->object);
    const double per_object = static_cast<double>(mallinfo2().uordblks - before) / n;
    std::printf(
        "cache %-11s %-4s: %d objects, JSON %.0f B/object, heap %.0f B/object (%.2fx JSON)\n", kind,
        slim ? "slim" : "full", n, static_cast<double>(json_bytes) / n, per_object,
        per_object / (static_cast<double>(json_bytes) / n));
  }
}

// A handler that timestamps each add.
class Timer : public informer::EventHandler {
 public:
  void OnAdd(const kube::Object&) override { at = std::chrono::steady_clock::now(); }
  void OnUpdate(const kube::Object&, const kube::Object&) override {
    at = std::chrono::steady_clock::now();
  }
  void OnDelete(const kube::Object&) override {}
  std::chrono::steady_clock::time_point at;
};

}  // namespace

int main() {
  const std::string deployment = ReadFile(SOURCE_ROOT "/bench/data/deployment.json");
  const std::string environment = ReadFile(SOURCE_ROOT "/bench/data/environment.json");
  if (deployment.empty() || environment.empty()) {
    std::fprintf(stderr, "missing bench/data files\n");
    return 1;
  }
  MemoryPerObject("Deployment", deployment, 10000);
  MemoryPerObject("Environment", environment, 10000);

  // Event → handler: decode a line, upsert into a store of 10,000, call the handler.
  informer::Store store;
  for (int i = 0; i < 10000; ++i)
    store.Upsert(kube::DecodeWatchLine(
                     absl::StrCat(R"({"type":"ADDED","object":)", Vary(deployment, i), "}"), true)
                     ->object);
  Timer handler;
  kube::WatchDecoder decoder(16 << 20, /*slim=*/true);
  std::vector<double> us;
  for (int i = 0; i < 2000; ++i) {
    std::string line =
        absl::StrCat(R"({"type":"MODIFIED","object":)", Vary(deployment, i % 10000), "}\n");
    const auto t0 = std::chrono::steady_clock::now();
    (void)decoder.Feed(line, [&](kube::WatchEvent ev) {
      auto old = store.Upsert(ev.object);
      handler.OnUpdate(*old, ev.object);
      return true;
    });
    us.push_back(std::chrono::duration<double, std::micro>(handler.at - t0).count());
  }
  std::sort(us.begin(), us.end());
  std::printf(
      "watch event -> handler (slim decode + store of 10000 + handler): p50 %.1f us, p99 %.1f us\n",
      us[us.size() / 2], us[us.size() * 99 / 100]);
  return 0;
}
