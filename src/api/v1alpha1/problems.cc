#include "api/v1alpha1/problems.h"

#include "absl/strings/str_cat.h"

namespace v1alpha1 {

std::string Problems::Str(const rapidjson::Value* v, absl::string_view path, size_t max_len) {
  if (!v || v->IsNull()) return "";
  if (!v->IsString()) {
    Add(absl::StrCat(path, " must be a string"));
    return "";
  }
  absl::string_view s(v->GetString(), v->GetStringLength());
  if (s.size() <= max_len) return std::string(s);  // bytes >= characters: surely within
  const size_t chars = CharLength(s);
  if (chars <= max_len) return std::string(s);
  Add(absl::StrCat(path, " is ", chars, " characters long; at most ", max_len));
  // The first max_len characters: stop before the lead byte of the next one.
  size_t n = 0, end = 0;
  for (; end < s.size(); ++end)
    if ((static_cast<unsigned char>(s[end]) & 0xC0) != 0x80 && n++ == max_len) break;
  return std::string(s.substr(0, end));
}

std::vector<std::string> Problems::Strs(const rapidjson::Value* v, absl::string_view path,
                                        size_t max_items, size_t max_len) {
  std::vector<std::string> out;
  const rapidjson::Value* a = Arr(v, path, max_items);
  if (!a) return out;
  for (rapidjson::SizeType i = 0; i < a->Size(); ++i)
    out.push_back(Str(&(*a)[i], absl::StrCat(path, "[", i, "]"), max_len));
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

const rapidjson::Value* Problems::Map(const rapidjson::Value* v, absl::string_view path,
                                      size_t max_props) {
  const rapidjson::Value* o = Obj(v, path);
  if (o && o->MemberCount() > max_props) {
    Add(absl::StrCat(path, " has ", o->MemberCount(), " entries; at most ", max_props));
    return nullptr;
  }
  return o;
}

const rapidjson::Value* Problems::Arr(const rapidjson::Value* v, absl::string_view path,
                                      size_t max_items) {
  if (!v || v->IsNull()) return nullptr;
  if (!v->IsArray()) {
    Add(absl::StrCat(path, " must be a list"));
    return nullptr;
  }
  if (v->Size() > max_items) {
    Add(absl::StrCat(path, " has ", v->Size(), " entries; at most ", max_items));
    return nullptr;
  }
  return v;
}

void Problems::ForEachObject(
    const rapidjson::Value* v, absl::string_view path, size_t max_items,
    absl::FunctionRef<void(const rapidjson::Value& item, const std::string& at)> fn) {
  const rapidjson::Value* a = Arr(v, path, max_items);
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

size_t CharLength(absl::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // every byte but a continuation byte
  return n;
}

}  // namespace v1alpha1
