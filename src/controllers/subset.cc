#include "controllers/subset.h"

#include "kube/object.h"

namespace controllers {

namespace {

// What the API server's omitempty drops: "", false, 0, [] and {}.
bool IsZero(const rapidjson::Value& v) {
  return (v.IsString() && v.GetStringLength() == 0) || v.IsFalse() ||
         (v.IsNumber() && v.GetDouble() == 0) || (v.IsArray() && v.Empty()) ||
         (v.IsObject() && v.ObjectEmpty());
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
    if (!actual.IsArray() || actual.Size() != desired.Size()) return false;
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

}  // namespace controllers
