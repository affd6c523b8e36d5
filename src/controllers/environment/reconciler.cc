#include "controllers/environment/reconciler.h"

#include <openssl/rand.h>

#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/v1alpha1/resources.h"
#include "controllers/environment/diagnosis.h"
#include "controllers/environment/naming.h"
#include "controllers/environment/planner.h"
#include "controllers/environment/redact.h"
#include "controllers/environment/render_sync.h"
#include "kube/api_error.h"
#include "kube/json_builder.h"
#include "util/log.h"
#include "util/utf8.h"

namespace controllers {
namespace {

namespace r = kube::resources;
constexpr absl::string_view kLogger = "environment";

// A merge patch setting metadata.finalizers, conditional on the
// resourceVersion the decision was made on (409 if it moved on).
std::string FinalizerPatch(const kube::Object& env, bool add) {
  kube::J finalizers = kube::J::Arr({});
  if (const auto* f = env.Find({"metadata", "finalizers"}); f && f->IsArray())
    for (const auto& v : f->GetArray())
      if (kube::StrOf(&v) != kFinalizer) finalizers.Push(kube::StrOf(&v));
  if (add) finalizers.Push(kFinalizer);
  return kube::J::Obj({{"metadata", kube::J::Obj({{"finalizers", std::move(finalizers)},
                                                  {"resourceVersion", env.ResourceVersion()}})}})
      .Serialize();
}

// 32 hex digits from the system's CSPRNG: no character to escape in a URL.
std::string RandomPassword() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) std::abort();  // no entropy: nothing is safe
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

}  // namespace

EnvironmentReconciler::EnvironmentReconciler(kube::Client* client,
                                             const informer::Store* environments,
                                             const ClusterState* state, OperatorConfig config,
                                             const util::Clock* clock, ReconcileObserver* observer,
                                             CacheWriter* written)
    : client_(client),
      environments_(environments),
      state_(state),
      config_(std::move(config)),
      clock_(clock),
      observer_(observer),
      written_(written),
      events_(client, "kube-operator", clock) {}

EnvironmentReconciler::Outcome EnvironmentReconciler::Wrote(const kube::Resource& r,
                                                            absl::StatusOr<kube::Object> answer) {
  if (!answer.ok()) return {Outcome::Kind::kError, answer.status()};
  if (written_) written_->Written(r, *answer);
  return {};
}

EnvironmentReconciler::Outcome EnvironmentReconciler::Execute(const Action& a,
                                                              const kube::Object& env) {
  using K = Outcome::Kind;
  auto done_or_error = [](absl::Status s) {
    return s.ok() ? Outcome{} : Outcome{K::kError, std::move(s)};
  };
  switch (a.type) {
    case Action::Type::kApply:
      return Wrote(
          a.resource,
          client_->Patch(a.resource, a.ns, a.name, kube::PatchType::kApply, a.body.Serialize(),
                         {.field_manager = config_.field_manager, .force = true}));
    case Action::Type::kDelete: {
      absl::Status s =
          client_->Delete(a.resource, a.ns, a.name, {.propagation_policy = "Background"});
      return done_or_error(kube::apierrors::IsNotFound(s) ? absl::OkStatus() : s);
    }
    case Action::Type::kDeleteIfOwned:
      return DeleteIfOwned(a);
    case Action::Type::kCreate: {
      auto created = client_->Create(a.resource, a.ns, a.body.Serialize());
      // Someone's (or ours, not cached yet): what exists goes into the cache,
      // so the next pass judges it (a namespace of another is a conflict).
      if (kube::apierrors::IsAlreadyExists(created.status())) {
        auto existing = client_->Get(a.resource, a.ns, a.name);
        return existing.ok() ? Wrote(a.resource, std::move(existing)) : Outcome{};
      }
      return Wrote(a.resource, std::move(created));
    }
    case Action::Type::kAddFinalizer:
    case Action::Type::kRemoveFinalizer: {
      auto patched = client_->Patch(a.resource, a.ns, a.name, kube::PatchType::kMerge,
                                    FinalizerPatch(env, a.type == Action::Type::kAddFinalizer));
      if (kube::apierrors::IsNotFound(patched.status()))
        return NotFoundOutcome(env, patched.status());
      return Wrote(a.resource, std::move(patched));
    }
  }
  return {};
}

// A namespace the cache does not show (an Environment deleted right after it
// was created: its namespace may not have reached the cache yet). Never one
// this Environment does not own; while it exists, the pass waits for it.
EnvironmentReconciler::Outcome EnvironmentReconciler::DeleteIfOwned(const Action& a) {
  using K = Outcome::Kind;
  auto ns = client_->Get(a.resource, a.ns, a.name);
  if (kube::apierrors::IsNotFound(ns.status())) return {};
  if (!ns.ok()) return {K::kError, ns.status()};
  if (!OwnedNamespace(*ns, a.owner_uid)) return {};
  if (!ns->Deleting())
    if (absl::Status s =
            client_->Delete(a.resource, a.ns, a.name, {.propagation_policy = "Background"});
        !s.ok() && !kube::apierrors::IsNotFound(s))
      return {K::kError, s};
  return {K::kWait, {}};
}

// A write to the Environment itself came back 404 (not_found). Usually it is
// gone (a delete raced the pass). But an Environment can outlive its namespace
// (a namespace finalized while the Environment still had our finalizer: seen
// in e2e runs on kube-apiserver 1.20): it is still stored and listed, and the
// API server refuses every write to it with a 404 for the namespace. Retrying
// that every resync would be a request per pass forever, so it is named.
EnvironmentReconciler::Outcome EnvironmentReconciler::NotFoundOutcome(const kube::Object& env,
                                                                      absl::Status not_found) {
  if (!client_->Get(v1alpha1::kEnvironments, env.Namespace(), env.Name()).ok())
    return {Outcome::Kind::kEnvironmentGone, std::move(not_found)};
  return {Outcome::Kind::kOrphaned,
          absl::NotFoundError(absl::StrCat(
              "namespace ", env.Namespace(),
              " no longer exists but the Environment is still stored, and the API server refuses "
              "changes to it; delete it from storage or recreate the namespace"))};
}

void EnvironmentReconciler::RecordEvent(const kube::Object& env, const std::string& type,
                                        const std::string& reason, const std::string& message) {
  events_.Record(env, type, reason, message, "catalyst.catalyst.dev/v1alpha1", "Environment");
}

// An orphan (NotFoundOutcome) cannot change until someone acts: said once,
// then left alone until the Environment or what the pass read changes, or
// kOrphanRetry passes — not a request every resync.
workqueue::ReconcileResult EnvironmentReconciler::Orphaned(const std::string& key,
                                                           const kube::Object& env,
                                                           std::vector<Mark> reads,
                                                           const absl::Status& why) {
  util::Log(util::LogLevel::kWarn, kLogger, "environment orphaned; not retried for a while",
            {{"environment", key},
             {"error", std::string(why.message())},
             {"retryIn", absl::FormatDuration(kOrphanRetry)}});
  memo_.Remember(key, env, std::move(reads), clock_->Now() + kOrphanRetry);
  return {};
}

// Only a Deployment that is not ready costs API reads: its pods, and when
// none of them shows a cause, its ReplicaSets (pods refused at creation, by
// the quota, show only there). Nullopt when the pods cannot be listed.
// What the diagnosis quotes is redacted of the Environment's secrets (the
// postgres password, the team's secrets: redact.h) before the planner puts
// it in the status, the Event and the log line (docs/contract.md, "Status").
std::optional<Diagnosis> EnvironmentReconciler::Diagnose(const std::string& key,
                                                         absl::string_view ns,
                                                         absl::string_view selector) {
  const kube::ListOptions opts{.label_selector = std::string(selector), .slim = true};
  auto pods = client_->List(r::kPods, ns, opts);
  if (!pods.ok()) return std::nullopt;
  const Redactor redactor(SecretValuesOf(*state_, std::string(ns), key));
  Diagnosis d = controllers::Diagnose(pods->items, {}, redactor);
  if (d.severity == Diagnosis::Severity::kNone)
    if (auto rs = client_->List(r::kReplicaSets, ns, opts); rs.ok())
      d = controllers::Diagnose(pods->items, rs->items, redactor);
  return d;
}

// docs/contract.md, "Image builds": a finished build Job's pods, read once
// (the answer is kept in status.builds); redacted as a diagnosis is.
std::optional<BuildResult> EnvironmentReconciler::ReadBuild(const std::string& key,
                                                            absl::string_view ns,
                                                            absl::string_view job_uid) {
  const kube::ListOptions opts{.label_selector =
                                   absl::StrCat("batch.kubernetes.io/controller-uid=", job_uid)};
  auto pods = client_->List(r::kPods, ns, opts);
  if (!pods.ok()) return std::nullopt;
  std::optional<BuildResult> r =
      ReadBuildResult(pods->items, Redactor(SecretValuesOf(*state_, std::string(ns), key)));
  // Finished, and no pod shows how (deleted, or garbage-collected): there is
  // nothing to wait for.
  return r ? r : BuildResult{false, "its pod is gone: no termination message to read"};
}

// An action the API server refused: retried with backoff by the worker pool.
workqueue::ReconcileResult EnvironmentReconciler::Failed(const std::string& key,
                                                         const kube::Object& env, const Action& a,
                                                         const absl::Status& s) {
  // Conflicts are routine (someone else wrote first): retried, not shouted.
  const bool conflict = kube::apierrors::IsConflict(s);
  util::Log(
      conflict ? util::LogLevel::kDebug : util::LogLevel::kError, kLogger, "action failed",
      {{"environment", key},
       {"object", absl::StrCat(a.resource.plural, "/", a.ns, a.ns.empty() ? "" : "/", a.name)},
       {"error", std::string(s.message())}});
  // An object the server finds invalid will not fix itself: say so on the Environment.
  if (!conflict && kube::apierrors::IsInvalid(s))
    RecordEvent(env, "Warning", "ApplyFailed",
                absl::StrCat(a.resource.plural, "/", a.name, ": ", s.message()));
  return {.status = s};
}

void EnvironmentReconciler::PhaseChanged(const std::string& key, const kube::Object& env,
                                         const Plan& plan) {
  // The line carries what the Event does (a log pipeline splits or drops
  // long lines); the status keeps the longer message.
  util::Log(util::LogLevel::kInfo, kLogger, "phase changed",
            {{"environment", key},
             {"phase", std::string(v1alpha1::PhaseName(plan.phase))},
             {"message", util::CutUtf8(plan.event->message, kube::EventRecorder::kMaxMessage)}});
  RecordEvent(env, plan.event->type, plan.event->reason, plan.event->message);
  // create -> Ready: the spec as created (generation 1) coming up, not a
  // later rollout or a recovery from Failed.
  const std::optional<v1alpha1::Phase> was = v1alpha1::ParsePhase(env.Str({"status", "phase"}));
  absl::Time created;
  std::string err;
  if (observer_ && plan.phase == v1alpha1::Phase::kReady && env.Generation() == 1 &&
      was != v1alpha1::Phase::kFailed && was != v1alpha1::Phase::kReady &&
      absl::ParseTime(absl::RFC3339_full, env.Str({"metadata", "creationTimestamp"}), &created,
                      &err))
    observer_->EnvironmentReady(clock_->Now() - created);
}

workqueue::ReconcileResult EnvironmentReconciler::Reconcile(const std::string& key) {
  auto env = environments_->Get(key);
  if (!env) {
    memo_.Forget(key);
    if (renders_) renders_->Forget(key);
    return {};  // gone: the finalizer already did its work
  }
  if (memo_.Unchanged(key, *env, clock_->Now())) {
    skipped_.fetch_add(1, std::memory_order_relaxed);
    return {};
  }
  RecordingState recording(*state_);
  bool read_pods = false;
  const Plan plan = PlanEnvironment({.env = *env,
                                     .state = recording,
                                     .config = config_,
                                     .now = clock_->Now(),
                                     .diagnose =
                                         [&](absl::string_view ns, absl::string_view selector) {
                                           read_pods = true;
                                           return Diagnose(key, ns, selector);
                                         },
                                     .fresh_password = RandomPassword(),
                                     .read_build =
                                         [&](absl::string_view ns, absl::string_view job_uid) {
                                           read_pods = true;
                                           return ReadBuild(key, ns, job_uid);
                                         }});
  // Pods are not cached: a pass that read them is not remembered.
  if (Settled(plan) && recording.complete() && !read_pods) {
    memo_.Remember(key, *env, recording.TakeReads());
    return {};
  }
  if (plan.render && renders_) renders_->Want(*plan.render);
  for (const Action& a : plan.actions) {
    const Outcome o = Execute(a, *env);
    switch (o.kind) {
      case Outcome::Kind::kDone:
        continue;
      case Outcome::Kind::kOrphaned:
        return Orphaned(key, *env, recording.TakeReads(), o.status);
      case Outcome::Kind::kEnvironmentGone:
        // Deleted since it was cached: nothing more to make for it, or it
        // would be made for nobody; its DELETED event follows.
        return {};
      case Outcome::Kind::kWait:
        // Its namespace is going away; the namespace informer's events and
        // this requeue bring the Environment back.
        return {.requeue_after = absl::Seconds(1)};
      case Outcome::Kind::kError:
        return Failed(key, *env, a, o.status);
    }
  }
  if (plan.status_patch) {
    auto s = client_->Patch(v1alpha1::kEnvironments, env->Namespace(), env->Name(),
                            kube::PatchType::kMerge, *plan.status_patch, {}, "status");
    if (kube::apierrors::IsNotFound(s.status())) {
      if (Outcome o = NotFoundOutcome(*env, s.status()); o.kind == Outcome::Kind::kOrphaned)
        return Orphaned(key, *env, recording.TakeReads(), o.status);
    } else if (!s.ok()) {
      return {.status = s.status()};
    } else if (written_) {
      written_->Written(v1alpha1::kEnvironments, *s);
    }
  }
  if (plan.event) PhaseChanged(key, *env, plan);
  return {.requeue_after = plan.requeue_after};
}

}  // namespace controllers
