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
#include "api/v1alpha1/resources.h"
#include "controllers/environment/cache_transform.h"
#include "informer/informer.h"
#include "kube/resource.h"
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

// n watch lines ADDED of variants of object; adds their JSON size to *bytes.
std::vector<std::string> AddedLines(const std::string& object, int n, size_t* bytes) {
  std::vector<std::string> lines;
  lines.reserve(n);
  for (int i = 0; i < n; ++i) {
    std::string obj = Vary(object, i);
    *bytes += obj.size();
    lines.push_back(absl::StrCat(R"({"type":"ADDED","object":)", obj, "}"));
  }
  return lines;
}

void MemoryPerObject(const char* kind, const std::string& object, int n) {
  for (bool slim : {false, true}) {
    size_t json_bytes = 0;
    const std::vector<std::string> lines = AddedLines(object, n, &json_bytes);
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

// The operator's cache per Environment: every object the operator owns for
// one Environment as the API server served it (captured with kubectl from a
// Ready development Environment), decoded slim, then also through the
// informers' transform (controllers/cache_transform.h).
void CachePerEnvironment(const std::string& list_json, int n) {
  auto list = kube::Object::Parse(list_json);
  const rapidjson::Value* items = list.ok() ? list->Find({"items"}) : nullptr;
  if (!items || !items->IsArray()) {
    std::fprintf(stderr, "bad bench/data/environment-objects.json\n");
    return;
  }
  double total[3] = {0, 0, 0};
  for (const auto& item : items->GetArray()) {
    const std::string obj = kube::Object::Copy(item).Serialize();
    const kube::Object parsed = kube::Object::Copy(item);
    const std::string kind(parsed.Kind());
    const kube::Resource* res = v1alpha1::ForKind(kind);
    const controllers::ObjectTransform t =
        res ? controllers::CacheTransform(*res) : controllers::ObjectTransform();
    size_t json_bytes = 0;
    const std::vector<std::string> lines = AddedLines(obj, n, &json_bytes);
    // The transformed documents alone, without a store: the rest of the
    // store's share is its key and slot.
    double docs_only = 0;
    {
      std::vector<kube::Object> docs;
      docs.reserve(n);
      const size_t before = mallinfo2().uordblks;
      for (const auto& line : lines)
        docs.push_back(t ? t(kube::DecodeWatchLine(line, true)->object)
                         : kube::DecodeWatchLine(line, true)->object);
      docs_only = static_cast<double>(mallinfo2().uordblks - before) / n;
    }
    double per[3];
    size_t kept_json = 0;
    for (int transform = 0; transform < 3; ++transform) {
      // No index: the operator's informers have none. The third run packs
      // what the transform keeps (informer::Store's packed, the operator's
      // configuration for owned kinds).
      informer::Store store(/*packed=*/transform == 2);
      const size_t before = mallinfo2().uordblks;
      for (const auto& line : lines) {
        kube::Object o = kube::DecodeWatchLine(line, /*slim=*/true)->object;
        if (transform && t) o = t(std::move(o));
        if (transform && &line == &lines.front()) kept_json = o.Serialize().size();
        store.Upsert(o);
      }
      per[transform] = static_cast<double>(mallinfo2().uordblks - before) / n;
      if (transform < 2) total[transform] += per[transform];
    }
    std::printf(
        "cache %-22s %-18s: JSON %5.0f B, kept %5zu B; heap slim %5.0f B, transformed %5.0f B "
        "(document %5.0f B), packed %5.0f B\n",
        kind.c_str(), std::string(parsed.Name()).c_str(), static_cast<double>(json_bytes) / n,
        kept_json, per[0], per[1], docs_only, per[2]);
    if (kind != "Environment") total[2] += per[2] - per[1];
  }
  total[2] += total[1];
  std::printf(
      "cache per Environment (%u objects, store included): slim %.0f B, "
      "transformed %.0f B (%.0f%%), owned kinds packed %.0f B (%.0f%%)\n",
      items->Size(), total[0], total[1], 100.0 * total[1] / total[0], total[2],
      100.0 * total[2] / total[0]);
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
  CachePerEnvironment(ReadFile(SOURCE_ROOT "/bench/data/environment-objects.json"), 2000);

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
