#include "leaderelection/lease_lock.h"

#include "absl/strings/str_cat.h"
#include "kube/api_error.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace leaderelection {
namespace {

// MicroTime, as the API server writes it.
std::string MicroTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

absl::Time ParseTime(absl::string_view s) {
  absl::Time t = absl::UnixEpoch();
  std::string err;
  if (!s.empty() && !absl::ParseTime(absl::RFC3339_full, s, &t, &err)) return absl::UnixEpoch();
  return t;
}

}  // namespace

std::string LeaseLock::Manifest(const LeaderElectionRecord& r, const std::string& rv) const {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&w](absl::string_view k, absl::string_view v) {
    w.Key(k.data(), k.size());
    w.String(v.data(), v.size());
  };
  w.StartObject();
  str("apiVersion", "coordination.k8s.io/v1");
  str("kind", "Lease");
  w.Key("metadata");
  w.StartObject();
  str("name", name_);
  str("namespace", ns_);
  if (!rv.empty()) str("resourceVersion", rv);
  w.EndObject();
  w.Key("spec");
  w.StartObject();
  str("holderIdentity", r.holder_identity);
  w.Key("leaseDurationSeconds");
  w.Int(r.lease_duration_seconds);
  str("acquireTime", MicroTime(r.acquire_time));
  str("renewTime", MicroTime(r.renew_time));
  w.Key("leaseTransitions");
  w.Int(r.leader_transitions);
  w.EndObject();
  w.EndObject();
  return buf.GetString();
}

absl::StatusOr<LeaderElectionRecord> LeaseLock::FromLease(const kube::Object& lease) {
  const auto* spec = lease.Find({"spec"});
  if (!spec || !spec->IsObject())
    return absl::InvalidArgumentError(absl::StrCat("lease ", lease.Name(), " has no spec"));
  auto num = [spec](const char* key) {
    const auto* v = kube::Member(*spec, key);
    return v && v->IsInt() ? v->GetInt() : 0;
  };
  return LeaderElectionRecord{
      .holder_identity = std::string(kube::StrOf(kube::Member(*spec, "holderIdentity"))),
      .lease_duration_seconds = num("leaseDurationSeconds"),
      .acquire_time = ParseTime(kube::StrOf(kube::Member(*spec, "acquireTime"))),
      .renew_time = ParseTime(kube::StrOf(kube::Member(*spec, "renewTime"))),
      .leader_transitions = num("leaseTransitions"),
  };
}

absl::Status LeaseLock::Remember(const absl::StatusOr<kube::Object>& lease) {
  if (!lease.ok()) return lease.status();
  std::lock_guard<std::mutex> l(mu_);
  resource_version_ = std::string(lease->ResourceVersion());
  return absl::OkStatus();
}

absl::StatusOr<LeaderElectionRecord> LeaseLock::Get() {
  auto lease = client_->Get(kube::resources::kLeases, ns_, name_);
  if (absl::Status s = Remember(lease); !s.ok()) return s;
  return FromLease(*lease);
}

absl::Status LeaseLock::Create(const LeaderElectionRecord& record) {
  return Remember(client_->Create(kube::resources::kLeases, ns_, Manifest(record, "")));
}

absl::Status LeaseLock::Update(const LeaderElectionRecord& record) {
  std::string rv;
  {
    std::lock_guard<std::mutex> l(mu_);
    rv = resource_version_;
  }
  if (rv.empty()) return absl::FailedPreconditionError("lease updated before it was read");
  return Remember(client_->Update(kube::resources::kLeases, ns_, name_, Manifest(record, rv)));
}

}  // namespace leaderelection
