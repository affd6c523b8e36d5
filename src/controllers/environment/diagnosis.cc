#include "controllers/environment/diagnosis.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "util/utf8.h"

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

bool BoolAt(const Value& v, absl::string_view key) {
  const Value* b = kube::Member(v, key);
  return b && b->IsBool() && b->GetBool();
}

// The end of a termination message (FallbackToLogsOnError: the log tail when
// the container wrote none): the last lines of git, npm or the server, which
// usually name the cause. Empty when there is none. Redacted whole before it
// is cut: a cut through a secret would leave a piece no pattern recognises.
std::string Quote(absl::string_view message, const Redactor& redactor) {
  constexpr size_t kMax = 400;
  const std::string redacted = redactor.Redact(absl::StripAsciiWhitespace(message));
  const absl::string_view r(redacted);
  if (r.empty()) return "";
  if (r.size() <= kMax) return absl::StrCat(": ", r);
  // Cut between two characters, and not inside a marker.
  size_t start = r.size() - util::Utf8Suffix(r, kMax).size();
  for (size_t m = r.find(kRedacted); m != absl::string_view::npos && m < start;
       m = r.find(kRedacted, m + 1))
    if (m + kRedacted.size() > start) start = m + kRedacted.size();
  return absl::StrCat(": ...", r.substr(start));
}

// One container's status -> a diagnosis (kNone when it is fine or just starting).
Diagnosis FromContainer(const Value& cs, bool init, absl::string_view pod,
                        const Redactor& redactor) {
  const std::string name(At(cs, {"name"}));
  const absl::string_view waiting = At(cs, {"state", "waiting", "reason"});
  // The crash this container is in (terminated now) or came back from.
  const Value* last = kube::Member(cs, "lastState");
  last = last ? kube::Member(*last, "terminated") : nullptr;
  const Value* now = kube::Member(cs, "state");
  now = now ? kube::Member(*now, "terminated") : nullptr;
  const Value* crash = now && IntAt(*now, {"exitCode"}) != 0 ? now : last;
  const std::string crash_reason(crash ? At(*crash, {"reason"}) : "");
  const int64_t crash_exit = crash ? IntAt(*crash, {"exitCode"}) : 0;
  const std::string where =
      absl::StrCat(init ? "init container " : "container ", name, " of pod ", pod);
  // Healthy now: an init container that finished, a main container that is ready.
  const bool done = now && IntAt(*now, {"exitCode"}) == 0;
  const bool healthy = init ? done : BoolAt(cs, "ready");
  // No restart count in the messages: it grows every back-off, and a message
  // that changes is a status write (and a watch event) per cycle.
  if (crash && !healthy) {
    // 137 is SIGKILL: the OOM killer's only when the kubelet says so.
    if (crash_reason == "OOMKilled")
      return {
          Diagnosis::Severity::kFailing, "OOMKilled",
          absl::StrCat(where, " was OOMKilled (exit ", crash_exit, "): raise its memory limit")};
    if (crash_exit != 0)
      return {Diagnosis::Severity::kFailing, init ? "InitContainerFailing" : "CrashLoopBackOff",
              absl::StrCat(where, " keeps failing (exit ", crash_exit, ", ",
                           crash_reason.empty() ? "Error" : crash_reason, ")",
                           Quote(At(*crash, {"message"}), redactor))};
  }
  if (waiting == "ImagePullBackOff" || waiting == "ErrImagePull" || waiting == "InvalidImageName")
    return {Diagnosis::Severity::kFailing, "ImagePullBackOff",
            absl::StrCat(where, ": ",
                         At(cs, {"state", "waiting", "message"}).empty()
                             ? std::string(waiting)
                             : redactor.Redact(At(cs, {"state", "waiting", "message"})))};
  if (waiting == "CrashLoopBackOff")
    return {Diagnosis::Severity::kFailing, init ? "InitContainerFailing" : "CrashLoopBackOff",
            absl::StrCat(where, " keeps failing")};
  if (init && !At(cs, {"state", "running", "startedAt"}).empty())
    return {Diagnosis::Severity::kWaiting, "InitContainerRunning",
            absl::StrCat(where, " has not finished")};
  return {};
}

// A pod the scheduler could place nowhere (PodScheduled=False, Unschedulable).
Diagnosis FromPod(const kube::Object& pod, const Redactor& redactor) {
  const Value* conds = pod.Find({"status", "conditions"});
  if (!conds || !conds->IsArray()) return {};
  for (const auto& c : conds->GetArray())
    if (At(c, {"type"}) == "PodScheduled" && At(c, {"status"}) == "False" &&
        At(c, {"reason"}) == "Unschedulable")
      return {Diagnosis::Severity::kFailing, "Unschedulable",
              absl::StrCat("pod ", pod.Name(),
                           " cannot be scheduled: ", redactor.Redact(At(c, {"message"})))};
  return {};
}

// A ReplicaSet that cannot create its pods (ReplicaFailure: FailedCreate),
// e.g. refused by the namespace's ResourceQuota.
Diagnosis FromReplicaSet(const kube::Object& rs, const Redactor& redactor) {
  const Value* conds = rs.Find({"status", "conditions"});
  if (!conds || !conds->IsArray()) return {};
  for (const auto& c : conds->GetArray())
    if (At(c, {"type"}) == "ReplicaFailure" && At(c, {"status"}) == "True")
      return {Diagnosis::Severity::kFailing, std::string(At(c, {"reason"})),
              absl::StrCat("ReplicaSet ", rs.Name(),
                           " cannot create pods: ", redactor.Redact(At(c, {"message"})))};
  return {};
}

}  // namespace

Diagnosis Diagnose(const std::vector<kube::Object>& pods,
                   const std::vector<kube::Object>& replica_sets, const Redactor& redactor) {
  Diagnosis worst;
  auto consider = [&](Diagnosis d) {
    if (static_cast<int>(d.severity) > static_cast<int>(worst.severity)) worst = std::move(d);
  };
  for (const auto& pod : pods) {
    if (pod.Deleting()) continue;  // an old revision on its way out
    consider(FromPod(pod, redactor));
    for (auto list : {"initContainerStatuses", "containerStatuses"}) {
      const Value* statuses = pod.Find({"status", list});
      if (!statuses || !statuses->IsArray()) continue;
      for (const auto& cs : statuses->GetArray())
        consider(FromContainer(cs, absl::string_view(list) == "initContainerStatuses", pod.Name(),
                               redactor));
    }
  }
  for (const auto& rs : replica_sets) consider(FromReplicaSet(rs, redactor));
  return worst;
}

}  // namespace controllers
