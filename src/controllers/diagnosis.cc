#include "controllers/diagnosis.h"

#include "absl/strings/str_cat.h"

namespace controllers {
namespace {

using rapidjson::Value;

absl::string_view At(const Value& v, std::initializer_list<absl::string_view> path) {
  const Value* cur = &v;
  for (auto k : path)
    if (!(cur = kube::Member(*cur, k))) return {};
  return kube::StrOf(cur);
}

int64_t IntAt(const Value& v, std::initializer_list<absl::string_view> path) {
  const Value* cur = &v;
  for (auto k : path)
    if (!(cur = kube::Member(*cur, k))) return 0;
  return cur->IsInt64() ? cur->GetInt64() : 0;
}

// One container's status → a diagnosis (kNone when it is fine or just starting).
Diagnosis FromContainer(const Value& cs, bool init, absl::string_view pod) {
  const std::string name(At(cs, {"name"}));
  const absl::string_view waiting = At(cs, {"state", "waiting", "reason"});
  const absl::string_view last = At(cs, {"lastState", "terminated", "reason"});
  const int64_t last_exit = IntAt(cs, {"lastState", "terminated", "exitCode"});
  const int64_t restarts = IntAt(cs, {"restartCount"});
  const std::string where =
      absl::StrCat(init ? "init container " : "container ", name, " of pod ", pod);
  if (last == "OOMKilled" || (last_exit == 137 && !last.empty()))
    return {Diagnosis::Severity::kFailing, "OOMKilled",
            absl::StrCat(where, " was OOMKilled (exit 137) ", restarts,
                         " times: raise its memory limit")};
  if (waiting == "ImagePullBackOff" || waiting == "ErrImagePull" || waiting == "InvalidImageName")
    return {Diagnosis::Severity::kFailing, "ImagePullBackOff",
            absl::StrCat(where, ": ",
                         At(cs, {"state", "waiting", "message"}).empty()
                             ? std::string(waiting)
                             : std::string(At(cs, {"state", "waiting", "message"})))};
  if (waiting == "CrashLoopBackOff")
    return {Diagnosis::Severity::kFailing, init ? "InitContainerFailing" : "CrashLoopBackOff",
            absl::StrCat(where, " keeps failing (exit ", last_exit, ", ",
                         last.empty() ? "Error" : last, ", ", restarts, " restarts)")};
  if (init && !At(cs, {"state", "running", "startedAt"}).empty())
    return {Diagnosis::Severity::kWaiting, "InitContainerRunning",
            absl::StrCat(where, " has not finished")};
  return {};
}

}  // namespace

Diagnosis Diagnose(const std::vector<kube::Object>& pods) {
  Diagnosis worst;
  auto consider = [&](Diagnosis d) {
    if (static_cast<int>(d.severity) > static_cast<int>(worst.severity)) worst = std::move(d);
  };
  for (const auto& pod : pods) {
    if (pod.Deleting()) continue;  // an old revision on its way out
    for (auto list : {"initContainerStatuses", "containerStatuses"}) {
      const Value* statuses = pod.Find({"status", list});
      if (!statuses || !statuses->IsArray()) continue;
      for (const auto& cs : statuses->GetArray())
        consider(FromContainer(cs, absl::string_view(list) == "initContainerStatuses", pod.Name()));
    }
  }
  return worst;
}

}  // namespace controllers
