#include "controllers/environment/cache_transform.h"

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "api/v1alpha1/resources.h"
#include "rapidjson/document.h"

namespace controllers {
namespace {

namespace r = kube::resources;
using rapidjson::SizeType;
using rapidjson::Value;

// A tree of kept member names. A node marked whole keeps the member's entire
// value; otherwise only its listed children. Arrays are transparent: a node
// applies to each element, and elements are never dropped (the subset check
// compares array lengths).
struct FieldMask {
  std::string name;
  bool whole = false;
  std::vector<FieldMask> children;

  const FieldMask* Child(absl::string_view key) const {
    for (const FieldMask& c : children)
      if (c.name == key) return &c;
    return nullptr;
  }
  FieldMask* Child(absl::string_view key) {
    for (FieldMask& c : children)
      if (c.name == key) return &c;
    return nullptr;
  }
  void Add(absl::string_view dotted) {
    FieldMask* node = this;
    for (absl::string_view part : absl::StrSplit(dotted, '.')) {
      if (node->whole) return;  // an ancestor is kept entire already
      FieldMask* next = node->Child(part);
      if (!next) {
        node->children.push_back({std::string(part), false, {}});
        next = &node->children.back();
      }
      node = next;
    }
    node->whole = true;
    node->children.clear();
  }
};

FieldMask Mask(std::initializer_list<std::initializer_list<absl::string_view>> path_lists) {
  FieldMask root;
  for (const auto& paths : path_lists)
    for (absl::string_view p : paths) root.Add(p);
  return root;
}

// What every cached object keeps: identity, the resourceVersion the store
// and handlers compare, the labels and annotations the builders set and the
// planner reads (environment-uid, the owning Environment's key), deletion.
constexpr std::initializer_list<absl::string_view> kMetadata = {
    "apiVersion",           "kind",
    "metadata.name",        "metadata.namespace",
    "metadata.uid",         "metadata.resourceVersion",
    "metadata.generation",  "metadata.labels",
    "metadata.annotations", "metadata.deletionTimestamp"};

// The container fields the Deployment builders set (init containers alike);
// server defaults beside them (imagePullPolicy, terminationMessagePath, the
// probes' thresholds) are dropped.
constexpr absl::string_view kContainerFields[] = {
    "name",         "image",          "terminationMessagePolicy",
    "command",      "args",           "workingDir",
    "env",          "envFrom",        "ports",
    "resources",    "readinessProbe", "livenessProbe",
    "startupProbe", "volumeMounts",   "securityContext"};

FieldMask DeploymentMask() {
  FieldMask m =
      Mask({kMetadata,
            {"spec.replicas", "spec.revisionHistoryLimit", "spec.selector", "spec.strategy",
             "spec.template.metadata.labels", "spec.template.metadata.annotations",
             "spec.template.spec.automountServiceAccountToken",
             "spec.template.spec.enableServiceLinks", "spec.template.spec.volumes",
             "spec.template.spec.imagePullSecrets", "spec.template.spec.securityContext",
             // What DeploymentReady and a chart's rollout (planner.cc) read.
             "status.observedGeneration", "status.readyReplicas", "status.updatedReplicas",
             "status.replicas", "status.availableReplicas"}});
  for (absl::string_view list : {"containers", "initContainers"})
    for (absl::string_view field : kContainerFields)
      m.Add(std::string("spec.template.spec.") + std::string(list) + "." + std::string(field));
  return m;
}

const FieldMask* MaskFor(const kube::Resource& res) {
  auto is = [&](const kube::Resource& other) {
    return res.group == other.group && res.plural == other.plural;
  };
  // Built once, read-only afterwards: safe from every informer's thread.
  if (is(r::kDeployments)) {
    static const auto* m = new FieldMask(DeploymentMask());
    return m;
  }
  if (is(r::kServices)) {
    // Not clusterIP(s), ipFamilies, sessionAffinity, status.
    static const auto* m =
        new FieldMask(Mask({kMetadata, {"spec.type", "spec.selector", "spec.ports"}}));
    return m;
  }
  if (is(r::kPersistentVolumeClaims)) {
    // Not volumeName, volumeMode, status (phase, capacity), finalizers.
    static const auto* m = new FieldMask(
        Mask({kMetadata, {"spec.accessModes", "spec.resources", "spec.storageClassName"}}));
    return m;
  }
  if (is(r::kNetworkPolicies) || is(r::kResourceQuotas) || is(r::kIngresses)) {
    // The spec is all the operator's (a quota's status, hard and used, is not).
    static const auto* m = new FieldMask(Mask({kMetadata, {"spec"}}));
    return m;
  }
  if (is(r::kNamespaces)) {
    // Ownership and the hierarchy are labels; not spec.finalizers or status.
    static const auto* m = new FieldMask(Mask({kMetadata}));
    return m;
  }
  if (is(v1alpha1::kProjects)) {
    // The spec is what Environments read; its status is not the operator's.
    static const auto* m = new FieldMask(Mask({kMetadata, {"spec"}}));
    return m;
  }
  if (is(r::kSecrets)) {
    // registry-credentials only (the informer's field selector): the copy
    // compares type and data.
    static const auto* m = new FieldMask(Mask({kMetadata, {"type", "data"}}));
    return m;
  }
  if (is(v1alpha1::kEnvironments)) {
    // The spec and status whole; the finalizer is the operator's, and
    // creationTimestamp times create -> Ready.
    static const auto* m = new FieldMask(
        Mask({kMetadata, {"metadata.finalizers", "metadata.creationTimestamp", "spec", "status"}}));
    return m;
  }
  return nullptr;
}

// The bytes a RapidJSON pool hands out when a document receives the events
// below (GenericDocument's SAX side): member and element arrays are
// allocated at their exact size, strings inline up to a short length.
class PoolSizer {
 public:
  using Ch = char;
  bool Null() { return true; }
  bool Bool(bool) { return true; }
  bool Int(int) { return true; }
  bool Uint(unsigned) { return true; }
  bool Int64(int64_t) { return true; }
  bool Uint64(uint64_t) { return true; }
  bool Double(double) { return true; }
  bool String(const Ch*, SizeType n, bool) {
    // A Value's payload holds sizeof(Value) - 3 characters inline (ShortString).
    if (n > sizeof(Value) - 3) bytes_ += Align(n + 1);
    return true;
  }
  bool Key(const Ch* s, SizeType n, bool copy) { return String(s, n, copy); }
  bool StartObject() { return true; }
  bool EndObject(SizeType n) {
    bytes_ += Align(n * sizeof(Value::Member));
    return true;
  }
  bool StartArray() { return true; }
  bool EndArray(SizeType n) {
    bytes_ += Align(n * sizeof(Value));
    return true;
  }
  size_t bytes() const { return bytes_; }

 private:
  static size_t Align(size_t n) { return (n + 7) & ~size_t{7}; }
  size_t bytes_ = 0;
};

// Sends v to a SAX handler, strings always copied (the source goes away).
template <typename Handler>
bool Emit(const Value& v, Handler& h) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      return h.Null();
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return h.Bool(v.GetBool());
    case rapidjson::kStringType:
      return h.String(v.GetString(), v.GetStringLength(), true);
    case rapidjson::kNumberType:
      if (v.IsInt()) return h.Int(v.GetInt());
      if (v.IsUint()) return h.Uint(v.GetUint());
      if (v.IsInt64()) return h.Int64(v.GetInt64());
      if (v.IsUint64()) return h.Uint64(v.GetUint64());
      return h.Double(v.GetDouble());
    case rapidjson::kArrayType:
      if (!h.StartArray()) return false;
      for (const Value& e : v.GetArray())
        if (!Emit(e, h)) return false;
      return h.EndArray(v.Size());
    case rapidjson::kObjectType:
      if (!h.StartObject()) return false;
      for (const auto& m : v.GetObject())
        if (!h.Key(m.name.GetString(), m.name.GetStringLength(), true) || !Emit(m.value, h))
          return false;
      return h.EndObject(v.MemberCount());
  }
  return false;
}

// Sends what mask keeps of v. A value not of the shape the mask expects (a
// scalar where it lists members) is sent whole: the subset check decides.
template <typename Handler>
bool EmitMasked(const Value& v, const FieldMask& mask, Handler& h) {
  if (mask.whole) return Emit(v, h);
  if (v.IsArray()) {
    if (!h.StartArray()) return false;
    for (const Value& e : v.GetArray())
      if (!EmitMasked(e, mask, h)) return false;
    return h.EndArray(v.Size());
  }
  if (!v.IsObject()) return Emit(v, h);
  if (!h.StartObject()) return false;
  SizeType kept = 0;
  for (const auto& m : v.GetObject()) {
    const FieldMask* child =
        mask.Child(absl::string_view(m.name.GetString(), m.name.GetStringLength()));
    if (!child) continue;
    if (!h.Key(m.name.GetString(), m.name.GetStringLength(), true) ||
        !EmitMasked(m.value, *child, h))
      return false;
    ++kept;
  }
  return h.EndObject(kept);
}

kube::Object Project(const kube::Object& in, const FieldMask& mask) {
  if (!in) return in;
  PoolSizer sizer;
  EmitMasked(in.json(), mask, sizer);
  // One chunk that fits: no second chunk, no slack (the decoder's pool was
  // sized for the whole object).
  auto doc = kube::Object::NewDocument(sizer.bytes());
  auto generate = [&](rapidjson::Document& d) { return EmitMasked(in.json(), mask, d); };
  doc->Populate(generate);
  return kube::Object::Adopt(std::move(doc));
}

}  // namespace

ObjectTransform CacheTransform(const kube::Resource& res) {
  const FieldMask* mask = MaskFor(res);
  if (!mask) return {};
  return [mask](kube::Object o) { return Project(o, *mask); };
}

}  // namespace controllers
