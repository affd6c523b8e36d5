#include "controllers/environment/build_result.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace controllers {
namespace {

// A container status's terminated state: {exit code, message, finishedAt}.
struct Terminated {
  int64_t exit_code = 0;
  std::string message, finished;
};

std::optional<Terminated> TerminatedOf(const rapidjson::Value& status) {
  const auto* state = kube::Member(status, "state");
  const auto* t = state ? kube::Member(*state, "terminated") : nullptr;
  if (!t || !t->IsObject()) return std::nullopt;
  Terminated out;
  if (const auto* code = kube::Member(*t, "exitCode"); code && code->IsInt64())
    out.exit_code = code->GetInt64();
  out.message = std::string(kube::StrOf(kube::Member(*t, "message")));
  out.finished = std::string(kube::StrOf(kube::Member(*t, "finishedAt")));
  return out;
}

}  // namespace

std::optional<BuildResult> ReadBuildResult(const std::vector<kube::Object>& pods,
                                           const Redactor& redactor) {
  std::optional<BuildResult> best;
  std::string best_finished;
  auto consider = [&](BuildResult r, const std::string& finished) {
    if (best && finished < best_finished) return;
    r.message = redactor.Redact(absl::StripAsciiWhitespace(r.message));
    best = std::move(r);
    best_finished = finished;
  };
  for (const kube::Object& pod : pods) {
    if (const auto* inits = pod.Find({"status", "initContainerStatuses"});
        inits && inits->IsArray())
      for (const auto& s : inits->GetArray())
        if (auto t = TerminatedOf(s); t && t->exit_code != 0)
          consider({false, absl::StrCat(kube::StrOf(kube::Member(s, "name")), " exited with code ",
                                        t->exit_code, t->message.empty() ? "" : ": ", t->message)},
                   t->finished);
    if (const auto* mains = pod.Find({"status", "containerStatuses"}); mains && mains->IsArray())
      for (const auto& s : mains->GetArray())
        if (auto t = TerminatedOf(s))
          consider({t->exit_code == 0,
                    t->exit_code == 0 ? t->message
                                      : absl::StrCat("exited with code ", t->exit_code,
                                                     t->message.empty() ? "" : ": ", t->message)},
                   t->finished);
  }
  return best;
}

bool IsImageDigest(absl::string_view s) {
  if (s.size() != 71 || s.substr(0, 7) != "sha256:") return false;
  for (char c : s.substr(7))
    if (!absl::ascii_isdigit(c) && (c < 'a' || c > 'f')) return false;
  return true;
}

}  // namespace controllers
