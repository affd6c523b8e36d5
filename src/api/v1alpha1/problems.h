// Problems: every mistake found in an object, collected so one status update
// tells the user all of them (docs/contract.md, "Reconciliation", "Rules": an
// invalid Environment gets Failed with a clear message), each naming its field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "rapidjson/document.h"

namespace v1alpha1 {

class Problems {
 public:
  void Add(std::string msg) { msgs_.push_back(std::move(msg)); }
  bool empty() const { return msgs_.empty(); }
  size_t size() const { return msgs_.size(); }
  absl::Status ToStatus() const { return absl::InvalidArgumentError(absl::StrJoin(msgs_, "; ")); }

  // Every string, list and map is read with its bound (bounds.h), the one the
  // CRD declares: what is over it is a problem naming the field, so an object
  // stored before the CRD had the bound is refused as the server now would.

  // The string at v (absent or null: empty). A non-string is a problem named
  // by path; one longer than max_len characters too (and only its first
  // max_len characters are returned, so no message quotes more).
  std::string Str(const rapidjson::Value* v, absl::string_view path, size_t max_len);
  // A list of at most max_items strings (absent: empty), each as Str.
  std::vector<std::string> Strs(const rapidjson::Value* v, absl::string_view path, size_t max_items,
                                size_t max_len);
  // An integer (absent: nullopt).
  std::optional<int64_t> Int(const rapidjson::Value* v, absl::string_view path);
  // v as an object; absent or null: nullptr; another type: a problem and nullptr.
  const rapidjson::Value* Obj(const rapidjson::Value* v, absl::string_view path);
  // v as an object of free keys (a map) of at most max_props members; more: a
  // problem and nullptr (nothing of it is read).
  const rapidjson::Value* Map(const rapidjson::Value* v, absl::string_view path, size_t max_props);
  // v as an array of at most max_items; as Map.
  const rapidjson::Value* Arr(const rapidjson::Value* v, absl::string_view path, size_t max_items);
  // Calls fn(item, "path[i]") for each element of the list at v (at most
  // max_items, as Arr) that is an object; anything else is a problem named by
  // its path.
  void ForEachObject(
      const rapidjson::Value* v, absl::string_view path, size_t max_items,
      absl::FunctionRef<void(const rapidjson::Value& item, const std::string& at)> fn);

 private:
  std::vector<std::string> msgs_;
};

// Space or a control character: never valid in an image, URL or branch.
bool HasSpaceOrControl(absl::string_view s);

// Characters (Unicode code points) of UTF-8 text, as OpenAPI's maxLength
// counts them.
size_t CharLength(absl::string_view s);

}  // namespace v1alpha1
