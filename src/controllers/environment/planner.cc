#include "controllers/environment/planner.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/v1alpha1/environment.h"
#include "api/v1alpha1/project.h"
#include "api/v1alpha1/resources.h"
#include "controllers/environment/event_mapping.h"
#include "controllers/environment/manifests.h"
#include "controllers/environment/naming.h"
#include "controllers/environment/render_sync.h"
#include "controllers/environment/resolve.h"
#include "controllers/environment/status.h"
#include "kube/subset.h"

namespace controllers {
namespace {

namespace r = kube::resources;
using v1alpha1::Phase;

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
  return kube::IsSubset(desired.json(), d->json());
}

// The kinds an Environment owns inside its namespace, pruned when no longer desired.
// The chart's kinds beyond them (docs/contract.md, "Rendered charts") too.
constexpr const kube::Resource* kOwnedKinds[] = {&r::kDeployments,
                                                 &r::kServices,
                                                 &r::kPersistentVolumeClaims,
                                                 &r::kNetworkPolicies,
                                                 &r::kResourceQuotas,
                                                 &r::kIngresses,
                                                 &r::kSecrets,
                                                 &r::kConfigMaps,
                                                 &r::kServiceAccounts,
                                                 &r::kStatefulSets,
                                                 &r::kJobs,
                                                 &r::kCronJobs,
                                                 &r::kPodDisruptionBudgets,
                                                 &r::kHorizontalPodAutoscalers};

// A workload of a chart is ready when every replica of its current template
// is (Deployments, StatefulSets), a Job when it completed; other kinds are
// ready once applied.
bool RolledOut(const kube::Resource& res, const std::optional<kube::Object>& o) {
  if (!o) return false;
  if (&res == &r::kJobs || res.plural == r::kJobs.plural) {
    const int64_t completions =
        o->Find({"spec", "completions"}) ? o->Int({"spec", "completions"}) : 1;
    return o->Int({"status", "succeeded"}) >= completions;
  }
  if (res.plural != r::kDeployments.plural && res.plural != r::kStatefulSets.plural) return true;
  if (o->Int({"status", "observedGeneration"}) < o->Generation()) return false;
  const int64_t replicas = o->Find({"spec", "replicas"}) ? o->Int({"spec", "replicas"}) : 1;
  const int64_t updated = o->Int({"status", "updatedReplicas"});
  if (updated < replicas || o->Int({"status", "readyReplicas"}) < replicas) return false;
  // As `kubectl rollout status`: no pod of an old revision left, and (a
  // Deployment) the new ones available; a StatefulSet at its update revision.
  if (res.plural == r::kStatefulSets.plural)
    return o->Str({"spec", "updateStrategy", "type"}) == "OnDelete" ||
           o->Str({"status", "currentRevision"}) == o->Str({"status", "updateRevision"}) ||
           o->Str({"status", "updateRevision"}).empty();
  return o->Int({"status", "replicas"}) <= updated &&
         o->Int({"status", "availableReplicas"}) >= replicas;
}

std::string KindName(const kube::Object& o) { return absl::StrCat(o.Str({"kind"}), "/", o.Name()); }

// What status.builds[].message keeps of a failure's log tail.
constexpr size_t kBuildMessageMax = 2048;

// A Job's condition of this type is True (Complete, Failed); its message.
std::optional<std::string> JobCondition(const kube::Object& job, absl::string_view type) {
  const auto* conds = job.Find({"status", "conditions"});
  if (!conds || !conds->IsArray()) return std::nullopt;
  for (const auto& c : conds->GetArray())
    if (kube::StrOf(kube::Member(c, "type")) == type &&
        kube::StrOf(kube::Member(c, "status")) == "True")
      return absl::StrCat(kube::StrOf(kube::Member(c, "reason")), ": ",
                          kube::StrOf(kube::Member(c, "message")));
  return std::nullopt;
}

// docs/contract.md, "Image builds": the template's values with
// global.images.<build> = {repository, tag, digest} merged in (the chart's
// own keys beside them kept; ours win).
std::string ValuesWithImages(const std::string& values, const std::vector<ImageBuild>& builds) {
  if (builds.empty()) return values;
  rapidjson::Document doc;
  doc.Parse(values.c_str(), values.size());
  if (doc.HasParseError() || !doc.IsObject()) doc.SetObject();
  auto& a = doc.GetAllocator();
  auto child = [&](rapidjson::Value& parent, const char* key) -> rapidjson::Value& {
    auto it = parent.FindMember(key);
    if (it == parent.MemberEnd() || !it->value.IsObject()) {
      if (it != parent.MemberEnd()) parent.RemoveMember(it);
      parent.AddMember(rapidjson::Value(key, a), rapidjson::Value(rapidjson::kObjectType), a);
      it = parent.FindMember(key);
    }
    return it->value;
  };
  rapidjson::Value& images = child(child(doc, "global"), "images");
  for (const ImageBuild& b : builds) {
    images.RemoveMember(b.name.c_str());
    rapidjson::Value one(rapidjson::kObjectType);
    one.AddMember("repository", rapidjson::Value(b.repository.c_str(), a), a);
    one.AddMember("tag", rapidjson::Value(b.tag.c_str(), a), a);
    one.AddMember("digest", rapidjson::Value(b.digest.c_str(), a), a);
    images.AddMember(rapidjson::Value(b.name.c_str(), a), one, a);
  }
  return kube::Object::Copy(doc).Serialize();
}

// The Project an Environment refers to, as found in the cache.
struct ProjectLookup {
  std::optional<kube::Object> object;
  std::vector<std::string> looked_in;
  // Found, but in a namespace of another team than the Environment's.
  std::optional<kube::Object> refused;
};

class Planner {
 public:
  explicit Planner(const PlanInput& in)
      : in_(in),
        env_(in.env),
        current_(ReadStatus(in.env)),
        new_generation_(current_.observed_generation != in.env.Generation()),
        sb_(current_, in.now, new_generation_) {}
  Plan Run();

 private:
  Plan Finish(Phase phase, std::string ns, std::string url);
  Plan Deletion();
  Plan Failed(absl::string_view reason, absl::string_view why, std::string ns = "");
  ProjectLookup LookUpProject(const v1alpha1::EnvironmentSpec& spec) const;
  bool SameTeam(absl::string_view project_namespace) const;
  // Server-side apply of desired when the cache differs. A precondition uid
  // (not part of the digest) makes the server refuse a different object of
  // that name; create: POST, never taking over what exists.
  // fields: also when the cache lacks a field of desired (drift); off for a
  // chart's objects, whose fields the caches need not keep (cache_transform.h).
  void Apply(const kube::Resource& res, const kube::Object& desired,
             absl::string_view precondition_uid = "", bool create = false, bool fields = true);
  void Prune(const Desired& d, const std::vector<Built>& desired);
  Plan Release(const Desired& d, std::vector<Built> desired);
  // The template's builds: nullopt once every image is built (d's builds
  // then carry their digests), else the pass's plan (Building, Failed).
  std::optional<Plan> Builds(Desired& d);
  void DbCredentials(const Desired& d);
  bool Applying() const;
  // This object is being applied: what the cache shows of it is not current.
  bool Applying(const kube::Resource& res, absl::string_view name) const;
  Plan NotReady(absl::string_view cond, absl::string_view app, Phase phase,
                absl::string_view waiting_msg, const std::string& ns, const std::string& url);
  // namespace_cached: the cache holds the Environment's namespace.
  Plan Provision(Desired d, const kube::Object& registry, bool namespace_cached);
  void TeamSecrets(Desired& d);

  const PlanInput& in_;
  const kube::Object& env_;
  const Status current_;
  const bool new_generation_;  // the spec changed since the status was written
  StatusBuilder sb_;
  Plan plan_;
  // SecretsSynced, set last (after Ready) by Finish: {ok, reason, message}, or keep.
  struct SecretsCondition {
    bool keep = false;
    bool ok = false;
    std::string reason, message;
  };
  std::optional<SecretsCondition> secrets_condition_;
};

Plan Planner::Finish(Phase phase, std::string ns, std::string url) {
  if (const auto& c = secrets_condition_; c && c->keep)
    sb_.Keep(kSecretsSynced);
  else if (c)
    sb_.Set(kSecretsSynced, c->ok, c->reason, c->message);
  Status& s = sb_.out();
  s.phase = phase;
  s.ns = std::move(ns);
  s.url = std::move(url);
  s.observed_generation = env_.Generation();
  plan_.phase = phase;
  plan_.target_namespace = s.ns;
  if (!s.SameIgnoringTimes(current_)) plan_.status_patch = StatusPatch(s, env_.Generation());
  if (s.phase != current_.phase) {
    const Condition* ready = s.Find(kReady);
    plan_.event = Plan::Event{phase == Phase::kFailed ? "Warning" : "Normal",
                              std::string(v1alpha1::PhaseName(phase)),
                              ready ? ready->message : std::string(v1alpha1::PhaseName(phase))};
  }
  return std::move(plan_);
}

// docs/contract.md, "Reconciliation", "Rules": an invalid Environment gets Failed with a clear
// message, no hot retry loop (a spec change brings it back).
Plan Planner::Failed(absl::string_view reason, absl::string_view why, std::string ns) {
  sb_.Set(kReady, false, reason, why);
  return Finish(Phase::kFailed, std::move(ns), "");
}

// docs/contract.md, "Reconciliation", "Rules" (deletion): a finalizer deletes the target namespace,
// waits for it to be gone, then releases the Environment. What is deleted is what the Environment
// owns (its uid label), whatever its spec says now; a namespace not in the cache yet (created just
// before the delete) is asked for.
Plan Planner::Deletion() {
  if (!HasFinalizer(env_)) return std::move(plan_);
  std::vector<std::string> going;
  for (const kube::Object& ns : in_.state.Owned(r::kNamespaces, env_.Uid())) {
    if (!OwnedNamespace(ns, env_.Uid())) continue;
    going.emplace_back(ns.Name());
    if (!ns.Deleting())
      plan_.actions.push_back({Action::Type::kDelete, r::kNamespaces, "", std::string(ns.Name())});
  }
  if (!going.empty()) {
    sb_.Set(kReady, false, "Terminating",
            absl::StrCat("deleting namespace ", absl::StrJoin(going, ", ")));
    return Finish(Phase::kTerminating, going.front(), current_.url);
  }
  if (auto target = TargetNamespaceOf(env_); target.ok())
    plan_.actions.push_back(
        {Action::Type::kDeleteIfOwned, r::kNamespaces, "", *target, {}, std::string(env_.Uid())});
  plan_.actions.push_back({Action::Type::kRemoveFinalizer, v1alpha1::kEnvironments,
                           std::string(env_.Namespace()), std::string(env_.Name())});
  return std::move(plan_);  // the object is going away: no status to write
}

ProjectLookup Planner::LookUpProject(const v1alpha1::EnvironmentSpec& spec) const {
  ProjectLookup out;
  for (const std::string& ns : ProjectNamespaces(env_)) {
    out.looked_in.push_back(ns);
    auto found = in_.state.Get(v1alpha1::kProjects, ns, spec.project_ref);
    if (found && SameTeam(ns)) {
      out.object = std::move(found);
      break;
    }
    if (found && !out.refused) out.refused = std::move(found);
  }
  return out;
}

// docs/contract.md "Tenant isolation": an Environment's labels are its
// author's to write, its namespace's labels are the web app's. A Project is
// read from its own namespace, or from the team namespace of the team its
// namespace (a project namespace) belongs to — never by label alone.
bool Planner::SameTeam(absl::string_view project_namespace) const {
  if (project_namespace == env_.Namespace()) return true;
  const auto own = in_.state.Get(r::kNamespaces, "", env_.Namespace());
  const auto team = in_.state.Get(r::kNamespaces, "", project_namespace);
  if (!own || !team || own->Label(kNamespaceTypeLabel) != "project" ||
      team->Label(kNamespaceTypeLabel) != "team")
    return false;
  const std::string t = SanitizeNamespaceComponent(own->Label(kTeamLabel));
  return !t.empty() && t == SanitizeNamespaceComponent(team->Label(kTeamLabel));
}

// Applied when the cached object lacks something of the desired manifest
// (drift, a deletion) or was applied from another desired manifest (its
// digest differs: what the operator no longer wants goes too).
void Planner::Apply(const kube::Resource& res, const kube::Object& desired,
                    absl::string_view precondition_uid, bool create, bool fields) {
  const std::string digest = HexSha256(desired.Serialize(), 16);
  auto cached = in_.state.Get(res, desired.Namespace(), desired.Name());
  if (cached && cached->Annotation(kDesiredHashAnnotation) == digest &&
      (!fields || kube::IsSubset(desired.json(), cached->json())))
    return;
  rapidjson::Document body;
  body.CopyFrom(desired.json(), body.GetAllocator());
  rapidjson::Value& meta = body["metadata"];
  if (!meta.HasMember("annotations"))
    meta.AddMember("annotations", rapidjson::Value(rapidjson::kObjectType), body.GetAllocator());
  meta["annotations"].AddMember(rapidjson::StringRef(kDesiredHashAnnotation),
                                rapidjson::Value(digest.c_str(), body.GetAllocator()),
                                body.GetAllocator());
  if (!precondition_uid.empty())
    meta.AddMember("uid",
                   rapidjson::Value(precondition_uid.data(),
                                    static_cast<rapidjson::SizeType>(precondition_uid.size()),
                                    body.GetAllocator()),
                   body.GetAllocator());
  plan_.actions.push_back({create ? Action::Type::kCreate : Action::Type::kApply, res,
                           std::string(desired.Namespace()), std::string(desired.Name()),
                           kube::Object::Copy(body)});
}

bool Planner::Applying() const {
  return std::any_of(plan_.actions.begin(), plan_.actions.end(),
                     [](const Action& a) { return a.type == Action::Type::kApply; });
}

bool Planner::Applying(const kube::Resource& res, absl::string_view name) const {
  return std::any_of(plan_.actions.begin(), plan_.actions.end(), [&](const Action& a) {
    return a.type == Action::Type::kApply && a.resource.plural == res.plural && a.name == name;
  });
}

// Declarative both ways: an object of the Environment's that its desired
// state no longer has (a service removed, a mode switched, a namespace left
// behind by a renamed hierarchy) is deleted.
void Planner::Prune(const Desired& d, const std::vector<Built>& desired) {
  absl::flat_hash_set<std::string> keep;
  for (const Built& b : desired)
    keep.insert(absl::StrCat(b.resource->plural, "/", b.object.Namespace(), "/", b.object.Name()));
  if (d.db_credentials)
    keep.insert(absl::StrCat(r::kSecrets.plural, "/", d.ns, "/", kDbSecretName));
  if (!d.team_secrets_hash.empty())  // applied, or kept as cached
    keep.insert(absl::StrCat(r::kSecrets.plural, "/", d.ns, "/", kTeamSecretName));
  for (const kube::Object& ns : in_.state.Owned(r::kNamespaces, d.env.uid))
    if (ns.Name() != d.ns && !ns.Deleting() && OwnedNamespace(ns, d.env.uid))
      plan_.actions.push_back({Action::Type::kDelete, r::kNamespaces, "", std::string(ns.Name())});
  for (const kube::Resource* res : kOwnedKinds)
    for (const kube::Object& o : in_.state.Owned(*res, d.env.uid))
      if (o.Namespace() == d.ns && !o.Deleting() &&
          !keep.contains(absl::StrCat(res->plural, "/", o.Namespace(), "/", o.Name())))
        plan_.actions.push_back({Action::Type::kDelete, *res, d.ns, std::string(o.Name())});
}

// The postgres password, made once: a random one, or for an Environment the
// operator set up before it kept passwords in a Secret, the one its postgres
// Deployment still names (initdb used it; the data keeps it). Created, never
// applied: a later pass (or another replica) must not replace it.
void Planner::DbCredentials(const Desired& d) {
  if (in_.state.Get(r::kSecrets, d.ns, kDbSecretName)) return;
  std::string password = in_.fresh_password;
  if (auto pg = in_.state.Get(r::kDeployments, d.ns, kPostgresName))
    if (const auto* cs = pg->Find({"spec", "template", "spec", "containers"});
        cs && cs->IsArray() && !cs->Empty())
      if (const auto* env = kube::Member((*cs)[0], "env"); env && env->IsArray())
        for (const auto& e : env->GetArray())
          if (kube::StrOf(kube::Member(e, "name")) == "POSTGRES_PASSWORD" &&
              !kube::StrOf(kube::Member(e, "value")).empty())
            password = std::string(kube::StrOf(kube::Member(e, "value")));
  plan_.actions.push_back(
      {Action::Type::kCreate, r::kSecrets, d.ns, kDbSecretName, BuildDbSecret(d, password)});
}

// A failing pod, or no progress past the deadline: Failed (docs/contract.md, "Reconciliation",
// "Rules").
Plan Planner::NotReady(absl::string_view cond, absl::string_view app, Phase phase,
                       absl::string_view waiting_msg, const std::string& ns,
                       const std::string& url) {
  std::string reason = "Progressing";
  std::string message(waiting_msg);
  Phase out_phase = phase;
  // Pods are worth a look only once everything is in place.
  std::optional<Diagnosis> diagnosis;
  if (in_.diagnose && !app.empty() && !Applying())
    diagnosis = in_.diagnose(ns, absl::StrCat(kAppNameLabel, "=", app));
  if (diagnosis && diagnosis->severity != Diagnosis::Severity::kNone) {
    reason = diagnosis->reason;
    message = diagnosis->message;
    if (diagnosis->severity == Diagnosis::Severity::kFailing) out_phase = Phase::kFailed;
  }
  // The deadline runs from when Ready last became False, or the spec last changed.
  const OperatorConfig& cfg = in_.config;
  const Condition* ready = current_.Find(kReady);
  absl::Time since = in_.now;
  if (!new_generation_ && ready && ready->status == "False" &&
      absl::ParseTime(absl::RFC3339_full, ready->last_transition, &since, nullptr)) {
    const absl::Duration waited = in_.now - since;
    if (waited >= cfg.failure_deadline && out_phase != Phase::kFailed) {
      out_phase = Phase::kFailed;
      reason = "ProgressDeadlineExceeded";
      message = absl::StrCat(message, " (no progress for ",
                             absl::FormatDuration(cfg.failure_deadline), ")");
    } else if (waited < cfg.failure_deadline) {
      plan_.requeue_after = cfg.failure_deadline - waited;
    }
  } else {
    plan_.requeue_after = cfg.failure_deadline;
  }
  sb_.Set(cond, false, reason, message);
  if (cond == kPostgresReady)
    sb_.Set(kWebReady, false, "WaitingForPostgres", "web starts once postgres is ready");
  sb_.Set(kReady, false, reason, message);
  return Finish(out_phase, ns, url);
}

// docs/contract.md, "The team's secrets": for an Environment the web app gave
// an id, Secret catalyst-secrets holds what the web app last answered (a
// failed fetch keeps the last good data, and so does a restart until the
// first answer: the cached Secret stays as it is); the web container reads it
// and its pod template carries a hash of it. SecretsSynced says how the last
// fetch went; it never holds Ready back.
void Planner::TeamSecrets(Desired& d) {
  const absl::string_view id = env_.Annotation(kEnvironmentIdAnnotation);
  if (id.empty()) return;  // none: a Secret made earlier is pruned
  std::optional<controllers::TeamSecrets> t = in_.state.Secrets(env_.Key());
  if (t && t->environment_id != id) t.reset();
  secrets_condition_ = t ? SecretsCondition{false, t->synced, t->reason, t->message}
                         : SecretsCondition{.keep = true};
  std::vector<std::pair<std::string, std::string>> data;
  if (t && t->data) {
    data = *t->data;
    d.team_secrets = data;
  } else if (auto cached = in_.state.Get(r::kSecrets, d.ns, kTeamSecretName);
             cached && cached->Label(kEnvironmentUidLabel) == d.env.uid) {
    if (const auto* m = cached->Find({"data"}); m && m->IsObject())
      for (const auto& kv : m->GetObject())
        data.emplace_back(kube::StrOf(&kv.name), kube::StrOf(&kv.value));
    std::sort(data.begin(), data.end());
  } else {
    return;  // nothing heard, nothing kept: no Secret to read yet
  }
  std::string all;
  for (const auto& [k, v] : data) absl::StrAppend(&all, k, "=", v, "\n");
  d.team_secrets_hash = HexSha256(all, 16);
}

// docs/contract.md, "Reconciliation" 1-8, from the namespace on (each step cites its number).
Plan Planner::Provision(Desired d, const kube::Object& registry, bool namespace_cached) {
  const OperatorConfig& cfg = in_.config;
  std::vector<Built> desired = BuildAll(d, cfg, registry);
  // docs/contract.md, "Reconciliation" 1: the namespace, alone in the first
  // pass of a new Environment: the web app shows it first, so in a burst every
  // new Environment's namespace comes before the deeper steps of older ones.
  // The namespace's ADD event queues the rest behind the namespaces still to
  // make (the queue is FIFO); no status yet, so the pass costs no more
  // requests than one doing it all.
  if (!namespace_cached) {
    // POST: a namespace someone made in the meantime stays theirs (409).
    for (const Built& b : desired)
      if (b.resource == &r::kNamespaces) Apply(*b.resource, b.object, "", /*create=*/true);
    plan_.phase = Phase::kProvisioning;
    plan_.target_namespace = d.ns;
    return std::move(plan_);
  }
  // docs/contract.md, "Reconciliation" 2 (ResourceQuota) and 3 (NetworkPolicy, the five
  // rules of "Network policy"), and the pull credentials the pods will name.
  // The namespace's uid is a precondition: one deleted and made again by
  // someone else since the cache saw it is not taken over.
  const auto cached_ns = in_.state.Get(r::kNamespaces, "", d.ns);
  for (const Built& b : desired)
    if (b.resource == &r::kNamespaces)
      Apply(*b.resource, b.object, cached_ns ? cached_ns->Uid() : "");
    else if (b.resource == &r::kResourceQuotas || b.resource == &r::kNetworkPolicies ||
             b.resource == &r::kSecrets)
      Apply(*b.resource, b.object);
  if (d.db_credentials) DbCredentials(d);
  sb_.Set(kNamespaceReady, true, "Created", absl::StrCat("namespace ", d.ns, " is set up"));
  if (!d.builds.empty()) {
    if (std::optional<Plan> building = Builds(d)) return std::move(*building);
    desired = BuildAll(d, cfg, registry);  // with the built images, without finished Jobs
  } else {
    sb_.out().builds.clear();
  }
  if (d.chart) return Release(d, desired);
  Prune(d, desired);

  // docs/contract.md, "Reconciliation" 4: the services (postgres by default): claims, Deployments,
  // Services.
  auto owned_by = [](const Built& b, absl::string_view app) {
    return b.object.Label(kAppNameLabel) == app;
  };
  std::vector<std::pair<std::string, kube::Object>> service_deployments;
  for (const Workload& w : d.services)
    for (const Built& b : desired)
      if (owned_by(b, w.name)) {
        Apply(*b.resource, b.object);
        if (b.resource == &r::kDeployments) service_deployments.emplace_back(w.name, b.object);
      }
  const std::string url = EnvironmentUrl(d, cfg);

  // docs/contract.md, "Reconciliation" 5: wait until every service has readyReplicas > 0 (from the
  // cache). Only its own Deployment's apply holds a step back: a repaired NetworkPolicy or Service
  // does not make a Ready Environment Provisioning again.
  for (const auto& [name, deployment] : service_deployments)
    if (Applying(r::kDeployments, name) ||
        !DeploymentReady(in_.state.Get(r::kDeployments, d.ns, name), deployment))
      return NotReady(kPostgresReady, name, Phase::kProvisioning,
                      absl::StrCat("waiting for ", name, " to be ready"), d.ns, url);
  if (d.services.empty())
    sb_.Set(kPostgresReady, true, "NotConfigured", "the config names no services");
  else
    sb_.Set(kPostgresReady, true, "Available",
            absl::StrCat(d.services.size() == 1 ? d.services.front().name : "every service",
                         " has a ready replica"));

  // docs/contract.md, "Reconciliation" 6: the web (or workspace) Deployment, its volumes, Service
  // and Ingress.
  kube::Object main;
  for (const Built& b : desired)
    if (owned_by(b, d.main.name)) {
      Apply(*b.resource, b.object);
      if (b.resource == &r::kDeployments) main = b.object;
    }

  // docs/contract.md, "Reconciliation" 7: wait until it has readyReplicas > 0 (from the cache).
  if (Applying(r::kDeployments, d.main.name) ||
      !DeploymentReady(in_.state.Get(r::kDeployments, d.ns, d.main.name), main))
    return NotReady(kWebReady, d.main.name, Phase::kDeploying,
                    absl::StrCat("waiting for ", d.main.name, " to be ready"), d.ns, url);
  sb_.Set(kWebReady, true, "Available", absl::StrCat(d.main.name, " has a ready replica"));

  // docs/contract.md, "Reconciliation" 8: phase = Ready, url set, conditions true.
  sb_.Set(kReady, true, "Ready",
          url.empty() ? absl::StrCat("environment is ready in namespace ", d.ns)
                      : absl::StrCat("environment is ready at ", url));
  return Finish(Phase::kReady, d.ns, url);
}

// docs/contract.md, "Image builds": a Job per build, until status.builds
// holds its digest; a finished Job's pods are read once (its termination
// message) and the answer kept in the status, after which the Job goes.
// A failed build is final for its Job (a new commit or build setting makes
// a new one): Failed, quoting its log tail.
std::optional<Plan> Planner::Builds(Desired& d) {
  std::vector<BuildStatus> statuses;
  std::vector<std::string> running;
  absl::flat_hash_set<std::string> jobs;  // the current builds' Jobs
  for (ImageBuild& b : d.builds) {
    const kube::Object job = BuildJob(d, b, in_.config);
    const std::string name(job.Name());
    jobs.insert(name);
    // The same image of the same commit: what the status knows of it
    // (whichever Job made it: a changed flag does not build it again).
    const BuildStatus* prev = nullptr;
    for (const BuildStatus& c : current_.builds)
      if (c.name == b.name && c.commit == b.ref && c.image == b.Image()) prev = &c;
    BuildStatus s{b.name, b.ref, b.Image(), "", "Running", name, ""};
    const auto cached = in_.state.Get(r::kJobs, d.ns, name);
    if (prev && prev->state == "Succeeded" && IsImageDigest(prev->digest)) {
      s = *prev;
    } else if (prev && prev->state == "Failed" && prev->job == name && !new_generation_) {
      s = *prev;  // final until the Environment changes (a new commit, a retry)
    } else if (prev && prev->state == "Failed" && prev->job == name) {
      // A new generation retries: the failed Job goes first, and the status
      // forgets it (job empty), so its result is not read again.
      if (cached && !cached->Deleting())
        plan_.actions.push_back({Action::Type::kDelete, r::kJobs, d.ns, name});
      s.job.clear();
    } else if (cached && prev && prev->state == "Running" && prev->job.empty()) {
      // The failed attempt's Job, not gone from the cache yet: waited for.
      s.job.clear();
      if (!JobCondition(*cached, "Complete") && !JobCondition(*cached, "Failed") &&
          !cached->Deleting())
        s.job = name;  // the new attempt, already made
      plan_.requeue_after = absl::Seconds(1);
    } else {
      Apply(r::kJobs, job, "", false, /*fields=*/false);
      const auto complete = cached ? JobCondition(*cached, "Complete") : std::nullopt;
      const auto fail = cached ? JobCondition(*cached, "Failed") : std::nullopt;
      if (!Applying(r::kJobs, name) && (complete || fail)) {
        const std::optional<BuildResult> got =
            in_.read_build ? in_.read_build(d.ns, cached->Uid()) : std::nullopt;
        if (complete && got && got->succeeded && IsImageDigest(got->message)) {
          s.state = "Succeeded";
          s.digest = got->message;
        } else if (complete && got && got->succeeded) {
          s.state = "Failed";
          s.message = absl::StrCat("its termination message is not an image digest: \"",
                                   got->message, "\"");
        } else if (got) {
          s.state = "Failed";
          s.message = got->message.empty() && fail ? *fail : got->message;
        } else {
          plan_.requeue_after = absl::Seconds(5);  // its pods could not be listed: again soon
        }
      }
    }
    // A failure's log tail is quoted in a condition too: the status entry
    // keeps the end of it.
    s.message = CapMessage(s.message, kBuildMessageMax);
    if (s.state == "Succeeded") {
      b.digest = s.digest;
      b.recorded = prev != nullptr;  // the status says so already: the Job can go
    }
    statuses.push_back(std::move(s));
  }
  // An earlier commit's or setting's Job still running holds its share of
  // the quota: it goes now, not when everything is built.
  for (const kube::Object& o : in_.state.Owned(r::kJobs, d.env.uid))
    if (o.Namespace() == d.ns && !o.Label(kBuildLabel).empty() && !o.Deleting() &&
        !jobs.contains(o.Name()))
      plan_.actions.push_back({Action::Type::kDelete, r::kJobs, d.ns, std::string(o.Name())});
  sb_.out().builds = statuses;
  const BuildStatus* failed = nullptr;
  for (const BuildStatus& s : sb_.out().builds)
    if (s.state == "Failed" && !failed)
      failed = &s;
    else if (s.state == "Running")
      running.push_back(s.job.empty() ? s.name : absl::StrCat(s.name, " (Job ", s.job, ")"));
  if (failed) {
    const std::string why =
        absl::StrCat("build ", failed->name, " of ", failed->commit, " failed: ", failed->message);
    sb_.Set(kBuilt, false, "BuildFailed", why);
    return Failed("BuildFailed", why, d.ns);
  }
  if (!running.empty()) {
    const std::string why = absl::StrCat("building ", absl::StrJoin(running, ", "));
    sb_.Set(kBuilt, false, "Building", why);
    sb_.Set(kReady, false, "Building", why);
    // The URL stays while a running web (an earlier commit's) serves it.
    return Finish(Phase::kBuilding, d.ns, EnvironmentUrl(d, in_.config));
  }
  std::vector<std::string> made;
  for (const ImageBuild& b : d.builds) made.push_back(absl::StrCat(b.name, ": ", b.Pinned()));
  sb_.Set(kBuilt, true, "Built", absl::StrJoin(made, ", "));
  // Production: the main container (and its init steps) run the built image.
  for (const ImageBuild& b : d.builds)
    if (b.name == d.main_from_build) {
      const std::string placeholder = b.Image();
      if (d.main.container.image == placeholder) d.main.container.image = b.Pinned();
      for (v1alpha1::Container& c : d.main.init_containers)
        if (c.image == placeholder) c.image = b.Pinned();
    }
  return std::nullopt;
}

// docs/contract.md, "Helm mode": the rendered chart in place of steps 4-7.
// Until the render of this request is in, what an earlier one made stays
// (nothing is pruned); a failed render keeps it too.
Plan Planner::Release(const Desired& d, std::vector<Built> desired) {
  const Chart& c = *d.chart;
  const bool compose = c.type == "docker-compose";
  RenderRequest request{.type = compose ? c.type : "helm",
                        .env_key = std::string(env_.Key()),
                        .ns = d.ns,
                        .release = d.env.name,
                        .url = c.url,
                        .branch = c.branch,
                        .commit = c.commit,
                        .chart_path = c.path,
                        .values_json = ValuesWithImages(c.values, d.builds),
                        .installation_id = d.installation_id};
  for (const ImageBuild& b : d.builds) request.images.emplace_back(b.name, b.Pinned());
  if (compose) {
    request.default_cpu_limit = d.quota.limits_cpu.empty() ? "" : in_.config.default_cpu_limit;
    request.pull_secret = d.pull_secret;
  }
  const std::shared_ptr<const RenderOutcome> out = in_.state.Rendered(request.env_key);
  sb_.Set(kPostgresReady, true, "NotConfigured",
          compose ? "compose mode: the compose file brings its services"
                  : "helm mode: the chart brings its services");
  const std::string chart =
      absl::StrCat(compose ? "compose file " : "chart ", c.path.empty() ? "." : c.path, " of ",
                   c.url, " at ", c.commit.empty() ? c.branch : c.commit);
  if (!out || out->digest != request.Digest()) {
    plan_.render = std::move(request);
    sb_.Set(kRendered, false, "Rendering", absl::StrCat("rendering ", chart));
    sb_.Set(kWebReady, false, "Rendering", absl::StrCat("rendering ", chart));
    sb_.Set(kReady, false, "Rendering", absl::StrCat("rendering ", chart));
    return Finish(Phase::kDeploying, d.ns, "");
  }
  if (!out->status.ok()) {
    plan_.render = std::move(request);  // retried while the cause may pass (render_sync.h)
    const std::string why = absl::StrCat(chart, ": ", out->status.message());
    // A cause that may pass (the network, the web app, the environment
    // namespace's `default` ServiceAccount not made yet, as at nearly every
    // first render of a new namespace) is waited for like a workload: Failed
    // only past the failure deadline. What the same request would fail on
    // again is Failed at once.
    if (RenderRetryable(out->status.code())) {
      sb_.Set(kRendered, false, "RenderRetrying", why);
      return NotReady(kWebReady, "", Phase::kDeploying, why, d.ns, "");
    }
    sb_.Set(kRendered, false, "RenderFailed", why);
    sb_.Set(kWebReady, false, "RenderFailed", why);
    return Failed("RenderFailed", why, d.ns);
  }
  std::vector<std::string> names;
  const size_t base = desired.size();
  for (const RenderedObject& o : out->objects) {
    desired.push_back({o.resource, BuildRendered(d, o.object)});
    names.push_back(KindName(o.object));
  }
  for (size_t i = base; i < desired.size(); ++i)
    Apply(*desired[i].resource, desired[i].object, "", false, /*fields=*/false);
  Prune(d, desired);
  sb_.Set(kRendered, true, "Rendered",
          absl::StrCat("commit ", out->commit, ": ",
                       names.empty() ? "no objects" : absl::StrJoin(names, ", ")));
  std::vector<std::string> waiting;
  for (size_t i = base; i < desired.size(); ++i) {
    const Built& b = desired[i];
    if (Applying(*b.resource, b.object.Name()) ||
        !RolledOut(*b.resource, in_.state.Get(*b.resource, d.ns, b.object.Name())))
      waiting.push_back(KindName(b.object));
  }
  if (!waiting.empty())
    return NotReady(kWebReady, "", Phase::kDeploying,
                    absl::StrCat("waiting for ", absl::StrJoin(waiting, ", ")), d.ns, "");
  sb_.Set(kWebReady, true, "Available",
          compose ? "every service of the compose file is ready"
                  : "every workload of the chart is ready");
  sb_.Set(kReady, true, "Ready", absl::StrCat("environment is ready in namespace ", d.ns));
  return Finish(Phase::kReady, d.ns, "");
}

Plan Planner::Run() {
  if (env_.Deleting()) return Deletion();
  if (!HasFinalizer(env_))
    plan_.actions.push_back({Action::Type::kAddFinalizer, v1alpha1::kEnvironments,
                             std::string(env_.Namespace()), std::string(env_.Name())});
  auto spec = v1alpha1::ParseEnvironment(env_);
  if (!spec.ok()) return Failed("InvalidSpec", spec.status().message());
  auto target = TargetNamespace(*spec);
  if (!target.ok()) return Failed("InvalidSpec", target.status().message());
  const std::string& ns = *target;

  // docs/contract.md, "Project": the Project supplies the repository, the
  // template config and the quota.
  std::optional<v1alpha1::ProjectSpec> project;
  kube::Object registry;
  if (!spec->project_ref.empty()) {
    ProjectLookup found = LookUpProject(*spec);
    if (found.object) {
      auto parsed = v1alpha1::ParseProject(*found.object);
      if (!parsed.ok())
        return Failed("InvalidProject",
                      absl::StrCat("Project ", found.object->Namespace(), "/", found.object->Name(),
                                   " is invalid: ", parsed.status().message()));
      project = std::move(*parsed);
      sb_.Set(kProjectResolved, true, "Found",
              absl::StrCat("Project ", project->namespace_, "/", project->name));
      // The team's pull credentials, unless it is one of the operator's own copies.
      if (auto s = in_.config.registry_credentials
                       ? in_.state.RegistryCredentials(project->namespace_)
                       : std::nullopt;
          s && s->Label(kManagedByLabel) != kManagedByValue)
        registry = *s;
    } else if (found.refused) {
      sb_.Set(kProjectResolved, false, "ProjectNotInTeam",
              absl::StrCat("Project ", found.refused->Namespace(), "/", found.refused->Name(),
                           " belongs to another team than namespace ", env_.Namespace(),
                           " (Namespace labels ", kTeamLabel, " and ", kNamespaceTypeLabel,
                           "); it is not used"));
    } else {
      sb_.Set(kProjectResolved, false, "ProjectNotFound",
              absl::StrCat("Project ", spec->project_ref, " not found in namespace ",
                           absl::StrJoin(found.looked_in, " or ")));
    }
  }
  // A helm Environment's workload is its Project's chart: while the Project
  // is missing (or refused) it waits, nothing pruned, rather than turning
  // into one built from its own spec.config (docs/contract.md, "Project").
  if (!project && !spec->project_ref.empty() && current_.Find(kRendered)) {
    sb_.NotReadyAsLast();
    return Finish(Phase::kPending, ns, "");
  }
  auto desired = Resolve({*spec, ns, project ? &*project : nullptr, in_.config, bool(registry)});
  // Without a Project, the hierarchy labels the web app trusts (its git-token
  // check reads them) come from the Environment's namespace, not from labels
  // the Environment's author wrote.
  if (desired.ok() && !project) {
    const auto own = in_.state.Get(r::kNamespaces, "", env_.Namespace());
    desired->env.team = own ? std::string(own->Label(kTeamLabel)) : "";
    desired->env.project = own ? std::string(own->Label(kProjectLabel)) : "";
  }
  if (!desired.ok() && !project && !spec->project_ref.empty()) {
    // Nothing is created until the Project exists (its informer brings the
    // Environment back); an Environment complete on its own goes ahead.
    sb_.NotReadyAsLast();
    return Finish(Phase::kPending, ns, "");
  }
  if (!desired.ok()) return Failed("InvalidSpec", desired.status().message());
  TeamSecrets(*desired);

  // 1. Namespace — unless one of that name belongs to someone else (never
  // named in status.namespace: the web app lists that namespace's pods as the
  // Environment's; docs/contract.md "Tenant isolation") or is going away.
  const std::optional<kube::Object> existing = in_.state.Get(r::kNamespaces, "", ns);
  const bool owned = existing && OwnedNamespace(*existing, spec->uid);
  if (existing && existing->Deleting()) {
    // An Environment recreated under the same name waits for its old namespace.
    sb_.Set(kNamespaceReady, false, "NamespaceTerminating",
            absl::StrCat("namespace ", ns, " is still being deleted"));
    sb_.NotReadyAsLast();
    plan_.requeue_after = absl::Seconds(5);
    return Finish(Phase::kPending, owned ? ns : "", "");
  } else if (existing && !owned) {
    sb_.Set(
        kNamespaceReady, false, "NamespaceConflict",
        absl::StrCat("namespace ", ns,
                     " exists and is not managed by this Environment; rename the Environment or "
                     "remove the namespace"));
    sb_.NotReadyAsLast();
    return Finish(Phase::kFailed, "", "");
  }
  return Provision(*desired, registry, existing.has_value());
}

}  // namespace

Plan PlanEnvironment(const PlanInput& in) { return Planner(in).Run(); }

}  // namespace controllers
