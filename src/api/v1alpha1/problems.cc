#include "api/v1alpha1/problems.h"

#include "absl/strings/str_cat.h"

namespace v1alpha1 {

std::string Problems::Str(const rapidjson::Value* v, absl::string_view path) {
  if (!v || v->IsNull()) return "";
  if (!v->IsString()) {
    Add(absl::StrCat(path, " must be a string"));
    return "";
  }
  return std::string(v->GetString(), v->GetStringLength());
}

std::vector<std::string> Problems::Strs(const rapidjson::Value* v, absl::string_view path) {
  std::vector<std::string> out;
  const rapidjson::Value* a = Arr(v, path);
  if (!a) return out;
  for (rapidjson::SizeType i = 0; i < a->Size(); ++i)
    out.push_back(Str(&(*a)[i], absl::StrCat(path, "[", i, "]")));
  return out;
}

std::optional<int64_t> Problems::Int(const rapidjson::Value* v, absl::string_view path) {
  if (!v || v->IsNull()) return std::nullopt;
  if (!v->IsInt64()) {
    Add(absl::StrCat(path, " must be an integer"));
    return std::nullopt;
  }
  return v->GetInt64();
}

const rapidjson::Value* Problems::Obj(const rapidjson::Value* v, absl::string_view path) {
  if (!v || v->IsNull()) return nullptr;
  if (!v->IsObject()) {
    Add(absl::StrCat(path, " must be an object"));
    return nullptr;
  }
  return v;
}

const rapidjson::Value* Problems::Arr(const rapidjson::Value* v, absl::string_view path) {
  if (!v || v->IsNull()) return nullptr;
  if (!v->IsArray()) {
    Add(absl::StrCat(path, " must be a list"));
    return nullptr;
  }
  return v;
}

void Problems::ForEachObject(
    const rapidjson::Value* v, absl::string_view path,
    absl::FunctionRef<void(const rapidjson::Value& item, const std::string& at)> fn) {
  const rapidjson::Value* a = Arr(v, path);
  if (!a) return;
  for (rapidjson::SizeType i = 0; i < a->Size(); ++i) {
    const std::string at = absl::StrCat(path, "[", i, "]");
    if (const rapidjson::Value* item = Obj(&(*a)[i], at)) fn(*item, at);
  }
}

bool HasSpaceOrControl(absl::string_view s) {
  for (unsigned char c : s)
    if (c <= ' ' || c == 0x7f) return true;
  return false;
}

}  // namespace v1alpha1
