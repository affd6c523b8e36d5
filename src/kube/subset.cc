#include "kube/subset.h"

#include <optional>
#include <string>

#include "kube/object.h"

namespace kube {

namespace {

// What the API server's omitempty drops: "", false, 0, [] and {}.
bool IsZero(const rapidjson::Value& v) {
  return (v.IsString() && v.GetStringLength() == 0) || v.IsFalse() ||
         (v.IsNumber() && v.GetDouble() == 0) || (v.IsArray() && v.Empty()) ||
         (v.IsObject() && v.ObjectEmpty());
}

// The key server-side apply merges a list element by, for the lists whose
// elements carry one: a volume mount by mountPath, a container port by
// (containerPort, protocol), anything named by name (containers, env,
// volumes, imagePullSecrets, Service ports). Empty: the list is atomic
// (commands, access modes, NetworkPolicy rules and peers, Ingress rules).
std::string MergeKey(const rapidjson::Value& e) {
  if (!e.IsObject()) return "";
  if (absl::string_view mount = kube::StrOf(kube::Member(e, "mountPath")); !mount.empty())
    return std::string(mount);
  if (const rapidjson::Value* port = kube::Member(e, "containerPort"); port && port->IsInt64()) {
    absl::string_view protocol = kube::StrOf(kube::Member(e, "protocol"));
    return std::to_string(port->GetInt64()) + "/" +
           std::string(protocol.empty() ? "TCP" : protocol);
  }
  return std::string(kube::StrOf(kube::Member(e, "name")));
}

// desired's elements each found by key in actual; actual's other elements
// are someone else's (kubectl set env, a mutating webhook), which an apply
// of ours would not remove anyway. Nullopt: the list is not keyed.
std::optional<bool> KeyedSubset(const rapidjson::Value& desired, const rapidjson::Value& actual) {
  if (desired.Empty()) return std::nullopt;
  for (const auto& d : desired.GetArray())
    if (MergeKey(d).empty()) return std::nullopt;
  for (const auto& d : desired.GetArray()) {
    const std::string key = MergeKey(d);
    bool found = false;
    for (const auto& a : actual.GetArray())
      if (MergeKey(a) == key) {
        if (!IsSubset(d, a)) return false;
        found = true;
        break;
      }
    if (!found) return false;
  }
  return true;
}

}  // namespace

bool IsSubset(const rapidjson::Value& desired, const rapidjson::Value& actual) {
  if (desired.IsObject()) {
    if (!actual.IsObject()) return false;
    for (const auto& m : desired.GetObject()) {
      const rapidjson::Value* a =
          kube::Member(actual, absl::string_view(m.name.GetString(), m.name.GetStringLength()));
      // A null in desired asks for the field to be absent: the server drops nulls.
      if (m.value.IsNull()) {
        if (a && !a->IsNull()) return false;
        continue;
      }
      // Absent in actual: fine if desired says the zero value, which the
      // server does not store (an env var's value: ""); client-go's
      // DeepDerivative ignores zero values the same way.
      if (!a) {
        if (!IsZero(m.value)) return false;
        continue;
      }
      if (!IsSubset(m.value, *a)) return false;
    }
    return true;
  }
  if (desired.IsArray()) {
    if (!actual.IsArray()) return false;
    if (std::optional<bool> keyed = KeyedSubset(desired, actual)) return *keyed;
    if (actual.Size() != desired.Size()) return false;
    for (rapidjson::SizeType i = 0; i < desired.Size(); ++i)
      if (!IsSubset(desired[i], actual[i])) return false;
    return true;
  }
  if (desired.IsNumber()) {
    if (!actual.IsNumber()) return false;
    if (desired.IsInt64() && actual.IsInt64()) return desired.GetInt64() == actual.GetInt64();
    if (desired.IsUint64() && actual.IsUint64()) return desired.GetUint64() == actual.GetUint64();
    return desired.GetDouble() == actual.GetDouble();
  }
  // Strings, booleans and null: RapidJSON's equality is exact for these.
  return desired == actual;
}

}  // namespace kube
