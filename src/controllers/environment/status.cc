#include "controllers/environment/status.h"

#include "controllers/environment/redact.h"
#include "kube/json_builder.h"

namespace controllers {
namespace {

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

}  // namespace

const Condition* Status::Find(absl::string_view type) const {
  for (const auto& c : conditions)
    if (c.type == type) return &c;
  return nullptr;
}

bool Status::SameIgnoringTimes(const Status& b) const {
  if (phase != b.phase || ns != b.ns || url != b.url ||
      observed_generation != b.observed_generation || conditions.size() != b.conditions.size() ||
      builds != b.builds)
    return false;
  for (size_t i = 0; i < conditions.size(); ++i) {
    const auto &x = conditions[i], &y = b.conditions[i];
    if (x.type != y.type || x.status != y.status || x.reason != y.reason || x.message != y.message)
      return false;
  }
  return true;
}

Status ReadStatus(const kube::Object& env) {
  Status s;
  s.phase = v1alpha1::ParsePhase(env.Str({"status", "phase"}));
  s.ns = std::string(env.Str({"status", "namespace"}));
  s.url = std::string(env.Str({"status", "url"}));
  s.observed_generation = env.Int({"status", "observedGeneration"});
  if (const auto* conds = env.Find({"status", "conditions"}); conds && conds->IsArray())
    for (const auto& c : conds->GetArray())
      s.conditions.push_back({std::string(kube::StrOf(kube::Member(c, "type"))),
                              std::string(kube::StrOf(kube::Member(c, "status"))),
                              std::string(kube::StrOf(kube::Member(c, "reason"))),
                              std::string(kube::StrOf(kube::Member(c, "message"))),
                              std::string(kube::StrOf(kube::Member(c, "lastTransitionTime")))});
  if (const auto* builds = env.Find({"status", "builds"}); builds && builds->IsArray())
    for (const auto& b : builds->GetArray()) {
      auto str = [&](const char* k) { return std::string(kube::StrOf(kube::Member(b, k))); };
      s.builds.push_back({str("name"), str("commit"), str("image"), str("digest"), str("state"),
                          str("job"), str("message")});
    }
  return s;
}

std::string StatusPatch(const Status& s, int64_t generation) {
  using kube::J;
  J conditions = J::Arr({});
  for (const auto& c : s.conditions)
    conditions.Push(J::Obj({{"type", c.type},
                            {"status", c.status},
                            {"reason", c.reason},
                            {"message", c.message},
                            {"lastTransitionTime", c.last_transition},
                            {"observedGeneration", generation}}));
  // A list replaces the one there (merge patch); none: removed.
  J builds = J::Arr({});
  for (const BuildStatus& b : s.builds) {
    J one = J::Obj({{"name", b.name}, {"state", b.state}});
    for (const auto& [k, v] : {std::pair{"commit", &b.commit}, std::pair{"image", &b.image},
                               std::pair{"digest", &b.digest}, std::pair{"job", &b.job},
                               std::pair{"message", &b.message}})
      if (!v->empty()) one.Set(k, *v);
    builds.Push(std::move(one));
  }
  return J::Obj({{"status",
                  J::Obj({{"phase", s.phase ? v1alpha1::PhaseName(*s.phase) : ""},
                          {"namespace", s.ns},
                          {"url", s.url},
                          {"observedGeneration", s.observed_generation},
                          {"conditions", std::move(conditions)},
                          {"builds", s.builds.empty() ? J(kube::Object()) : std::move(builds)}})}})
      .Serialize();
}

StatusBuilder::StatusBuilder(const Status& current, absl::Time now, bool new_generation)
    : current_(current), now_(Rfc3339(now)), new_generation_(new_generation) {
  out_.builds = current.builds;
}

// Every message passes the patterns of redact.h and the size cap, whatever
// made it: a diagnosis is redacted with the Environment's known secrets where
// it is made (the reconciler), but a message also quotes the spec, a Project
// or the API server, and nothing in a status should carry a credential or
// grow without bound (the Event and the log line quote this message).
void StatusBuilder::Set(absl::string_view type, bool ok, absl::string_view reason,
                        absl::string_view message) {
  Condition c{std::string(type), ok ? "True" : "False", std::string(reason),
              CapMessage(Redactor::PatternsOnly().Redact(message), kStatusMessageMax), now_};
  const bool restart = new_generation_ && !ok && type == kReady;
  if (const Condition* old = current_.Find(type); old && old->status == c.status && !restart)
    c.last_transition = old->last_transition;
  out_.conditions.push_back(std::move(c));
}

void StatusBuilder::Keep(absl::string_view type) {
  if (const Condition* old = current_.Find(type)) out_.conditions.push_back(*old);
}

void StatusBuilder::NotReadyAsLast() {
  const Condition last = out_.conditions.back();
  Set(kReady, false, last.reason, last.message);
}

}  // namespace controllers
