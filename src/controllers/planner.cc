#include "controllers/planner.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "controllers/builders.h"
#include "controllers/environment.h"
#include "controllers/naming.h"
#include "controllers/subset.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace controllers {
namespace {

namespace r = kube::resources;

struct Condition {
  std::string type, status, reason, message, last_transition;
};

struct Status {
  std::string phase, ns, url;
  int64_t observed_generation = 0;
  std::vector<Condition> conditions;
};

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

Status CurrentStatus(const kube::Object& env) {
  Status s;
  s.phase = std::string(env.Str({"status", "phase"}));
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
  return s;
}

const Condition* Find(const Status& s, absl::string_view type) {
  for (const auto& c : s.conditions)
    if (c.type == type) return &c;
  return nullptr;
}

bool SameIgnoringTimes(const Status& a, const Status& b) {
  if (a.phase != b.phase || a.ns != b.ns || a.url != b.url ||
      a.observed_generation != b.observed_generation || a.conditions.size() != b.conditions.size())
    return false;
  for (size_t i = 0; i < a.conditions.size(); ++i) {
    const auto &x = a.conditions[i], &y = b.conditions[i];
    if (x.type != y.type || x.status != y.status || x.reason != y.reason || x.message != y.message)
      return false;
  }
  return true;
}

std::string StatusPatch(const Status& s, int64_t generation) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&](const char* k, const std::string& v) {
    w.Key(k);
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.StartObject();
  w.Key("status");
  w.StartObject();
  str("phase", s.phase);
  str("namespace", s.ns);
  str("url", s.url);
  w.Key("observedGeneration");
  w.Int64(s.observed_generation);
  w.Key("conditions");
  w.StartArray();
  for (const auto& c : s.conditions) {
    w.StartObject();
    str("type", c.type);
    str("status", c.status);
    str("reason", c.reason);
    str("message", c.message);
    str("lastTransitionTime", c.last_transition);
    w.Key("observedGeneration");
    w.Int64(generation);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

bool HasFinalizer(const kube::Object& env) {
  const auto* f = env.Find({"metadata", "finalizers"});
  if (!f || !f->IsArray()) return false;
  for (const auto& v : f->GetArray())
    if (kube::StrOf(&v) == kFinalizer) return true;
  return false;
}

// Ready enough to go on: at least one ready replica of the current template.
bool DeploymentReady(const std::optional<kube::Object>& d, const kube::Object& desired) {
  if (!d) return false;
  if (d->Int({"status", "observedGeneration"}) < d->Generation()) return false;
  if (d->Int({"status", "readyReplicas"}) <= 0) return false;
  // A rollout in progress: the ready pod may be the old revision.
  if (d->Int({"status", "updatedReplicas"}) <= 0) return false;
  return IsSubset(desired.json(), d->json());
}

// Builds the status from the per-step outcome, keeping transition times of
// conditions that did not change.
class StatusBuilder {
 public:
  StatusBuilder(const Status& current, absl::Time now) : current_(current), now_(Rfc3339(now)) {}
  void Set(absl::string_view type, bool ok, absl::string_view reason, absl::string_view message) {
    Condition c{std::string(type), ok ? "True" : "False", std::string(reason), std::string(message),
                now_};
    if (const Condition* old = Find(current_, type); old && old->status == c.status)
      c.last_transition = old->last_transition;
    out_.conditions.push_back(std::move(c));
  }
  Status& out() { return out_; }

 private:
  const Status& current_;
  const std::string now_;
  Status out_;
};

void Apply(Plan& plan, const ClusterState& state, const kube::Resource& res,
           const kube::Object& desired) {
  auto cached = state.Get(res, desired.Namespace(), desired.Name());
  if (cached && IsSubset(desired.json(), cached->json())) return;
  plan.actions.push_back({Action::Type::kApply, res, std::string(desired.Namespace()),
                          std::string(desired.Name()), desired});
}

}  // namespace

std::string OwnerKey(const kube::Object& managed) {
  return std::string(managed.Annotation(kEnvironmentAnnotation));
}

Plan PlanEnvironment(const PlanInput& in) {
  const kube::Object& env = in.env;
  const Status current = CurrentStatus(env);
  StatusBuilder sb(current, in.now);
  Plan plan;
  auto finish = [&](std::string phase, std::string ns, std::string url) -> Plan {
    Status& s = sb.out();
    s.phase = std::move(phase);
    s.ns = std::move(ns);
    s.url = std::move(url);
    s.observed_generation = env.Generation();
    plan.phase = s.phase;
    plan.target_namespace = s.ns;
    if (!SameIgnoringTimes(s, current)) plan.status_patch = StatusPatch(s, env.Generation());
    if (s.phase != current.phase) {
      const Condition* ready = nullptr;
      for (const auto& c : s.conditions)
        if (c.type == "Ready") ready = &c;
      plan.event = Plan::Event{s.phase == "Failed" ? "Warning" : "Normal", s.phase,
                               ready ? ready->message : s.phase};
    }
    return plan;
  };

  // PRODUCT.md "Deletion": a finalizer deletes the target namespace, waits
  // for it to be gone, then releases the Environment.
  auto spec = ParseEnvironment(env);
  std::optional<std::string> target;
  if (spec.ok())
    if (auto t = TargetNamespace(*spec); t.ok()) target = *t;
  if (env.Deleting()) {
    if (!HasFinalizer(env)) return plan;
    std::optional<kube::Object> ns =
        target ? in.state.Get(r::kNamespaces, "", *target) : std::nullopt;
    // Never delete a namespace this Environment does not own.
    if (ns && ns->Label(kEnvironmentUidLabel) == env.Uid()) {
      if (!ns->Deleting())
        plan.actions.push_back({Action::Type::kDelete, r::kNamespaces, "", *target, {}});
      sb.Set("Ready", false, "Terminating", absl::StrCat("deleting namespace ", *target));
      return finish("Terminating", *target, current.url);
    }
    plan.actions.push_back({Action::Type::kRemoveFinalizer,
                            r::kEnvironments,
                            std::string(env.Namespace()),
                            std::string(env.Name()),
                            {}});
    return plan;  // the object is going away: no status to write
  }
  if (!HasFinalizer(env))
    plan.actions.push_back({Action::Type::kAddFinalizer,
                            r::kEnvironments,
                            std::string(env.Namespace()),
                            std::string(env.Name()),
                            {}});

  // PRODUCT.md rules: an invalid Environment gets Failed with a clear message,
  // no hot retry loop (a spec change brings it back).
  if (!spec.ok() || !target) {
    const std::string why = !spec.ok() ? std::string(spec.status().message())
                                       : std::string(TargetNamespace(*spec).status().message());
    sb.Set("Ready", false, "InvalidSpec", why);
    return finish("Failed", "", "");
  }
  const EnvironmentSpec& e = *spec;
  const std::string& ns = *target;
  const OperatorConfig& cfg = in.config;

  // 1. Namespace — unless one of that name belongs to someone else.
  if (auto existing = in.state.Get(r::kNamespaces, "", ns);
      existing && existing->Label(kEnvironmentUidLabel) != e.uid) {
    sb.Set("NamespaceReady", false, "NamespaceConflict",
           absl::StrCat("namespace ", ns,
                        " exists and is not managed by this Environment; rename the Environment or "
                        "remove the namespace"));
    sb.Set("Ready", false, "NamespaceConflict", sb.out().conditions.back().message);
    return finish("Failed", ns, "");
  } else if (existing && existing->Deleting()) {
    sb.Set("NamespaceReady", false, "NamespaceTerminating",
           absl::StrCat("namespace ", ns, " is still being deleted"));
    sb.Set("Ready", false, "NamespaceTerminating", sb.out().conditions.back().message);
    plan.requeue_after = absl::Seconds(5);
    return finish("Pending", ns, "");
  }
  Apply(plan, in.state, r::kNamespaces, BuildNamespace(e, ns, cfg));
  // 2. ResourceQuota. 3. NetworkPolicy (the five rules).
  Apply(plan, in.state, r::kResourceQuotas, BuildResourceQuota(e, ns, cfg));
  for (const auto& np : BuildNetworkPolicies(e, ns, cfg))
    Apply(plan, in.state, r::kNetworkPolicies, np);
  sb.Set("NamespaceReady", true, "Created", absl::StrCat("namespace ", ns, " is set up"));

  // 4. Postgres Deployment + Service (+ PVC).
  Apply(plan, in.state, r::kPersistentVolumeClaims, BuildPostgresPvc(e, ns, cfg));
  const kube::Object postgres = BuildPostgresDeployment(e, ns, cfg);
  Apply(plan, in.state, r::kDeployments, postgres);
  Apply(plan, in.state, r::kServices, BuildPostgresService(e, ns, cfg));
  const std::string url = EnvironmentUrl(e, ns, cfg);

  // A failing pod, or no progress past the deadline: Failed (PRODUCT.md rules).
  auto not_ready = [&](absl::string_view cond, absl::string_view app, absl::string_view phase,
                       absl::string_view waiting_msg) -> Plan {
    std::string reason = "Progressing";
    std::string message(waiting_msg);
    std::string out_phase(phase);
    const bool applying =
        std::any_of(plan.actions.begin(), plan.actions.end(),
                    [](const Action& a) { return a.type == Action::Type::kApply; });
    if (!in.diagnosis) {
      // Pods are worth a look only once everything is in place.
      if (!applying) plan.diagnose_selector = absl::StrCat(kAppNameLabel, "=", app);
    } else if (in.diagnosis->severity != Diagnosis::Severity::kNone) {
      reason = in.diagnosis->reason;
      message = in.diagnosis->message;
      if (in.diagnosis->severity == Diagnosis::Severity::kFailing) out_phase = "Failed";
    }
    // The deadline runs from when Ready last became False.
    const Condition* ready = Find(current, "Ready");
    absl::Time since = in.now;
    if (ready && ready->status == "False" &&
        absl::ParseTime(absl::RFC3339_full, ready->last_transition, &since, nullptr)) {
      const absl::Duration waited = in.now - since;
      if (waited >= cfg.failure_deadline && out_phase != "Failed") {
        out_phase = "Failed";
        reason = "ProgressDeadlineExceeded";
        message = absl::StrCat(message, " (no progress for ",
                               absl::FormatDuration(cfg.failure_deadline), ")");
      } else if (waited < cfg.failure_deadline) {
        plan.requeue_after = cfg.failure_deadline - waited;
      }
    } else {
      plan.requeue_after = cfg.failure_deadline;
    }
    sb.Set(cond, false, reason, message);
    if (cond == "PostgresReady")
      sb.Set("WebReady", false, "WaitingForPostgres", "web starts once postgres is ready");
    sb.Set("Ready", false, reason, message);
    return finish(out_phase, ns, url);
  };

  // 5. Wait until postgres has readyReplicas > 0 (from the cache).
  auto applying = [&] {
    return std::any_of(plan.actions.begin(), plan.actions.end(),
                       [](const Action& a) { return a.type == Action::Type::kApply; });
  };
  if (applying() || !DeploymentReady(in.state.Get(r::kDeployments, ns, kPostgresName), postgres))
    return not_ready("PostgresReady", "postgres", "Provisioning",
                     "waiting for postgres to be ready");
  sb.Set("PostgresReady", true, "Available", "postgres has a ready replica");

  // 6. Web Deployment, workspace PVC, Service, Ingress.
  if (NeedsWorkspace(e))
    Apply(plan, in.state, r::kPersistentVolumeClaims, BuildWorkspacePvc(e, ns, cfg));
  const kube::Object web = BuildWebDeployment(e, ns, cfg);
  Apply(plan, in.state, r::kDeployments, web);
  Apply(plan, in.state, r::kServices, BuildWebService(e, ns, cfg));
  Apply(plan, in.state, r::kIngresses, BuildIngress(e, ns, cfg));

  // 7. Wait until web has readyReplicas > 0 (from the cache).
  if (applying() || !DeploymentReady(in.state.Get(r::kDeployments, ns, kWebName), web))
    return not_ready("WebReady", "web", "Deploying", "waiting for web to be ready");
  sb.Set("WebReady", true, "Available", "web has a ready replica");

  // 8. phase = Ready, url set, conditions true.
  sb.Set("Ready", true, "Ready", absl::StrCat("environment is ready at ", url));
  return finish("Ready", ns, url);
}

}  // namespace controllers
