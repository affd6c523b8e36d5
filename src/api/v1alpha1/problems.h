// Problems: every mistake found in an object, collected so one status update
// tells the user all of them (PRODUCT.md "Rules": an invalid Environment gets
// Failed with a clear message), each naming its field.
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

  // The string at v (absent or null: empty). A non-string is a problem named by path.
  std::string Str(const rapidjson::Value* v, absl::string_view path);
  // A list of strings (absent: empty).
  std::vector<std::string> Strs(const rapidjson::Value* v, absl::string_view path);
  // An integer (absent: nullopt).
  std::optional<int64_t> Int(const rapidjson::Value* v, absl::string_view path);
  // v as an object; absent or null: nullptr; another type: a problem and nullptr.
  const rapidjson::Value* Obj(const rapidjson::Value* v, absl::string_view path);
  // v as an array; as Obj.
  const rapidjson::Value* Arr(const rapidjson::Value* v, absl::string_view path);
  // Calls fn(item, "path[i]") for each element of the list at v that is an
  // object; anything else is a problem named by its path.
  void ForEachObject(
      const rapidjson::Value* v, absl::string_view path,
      absl::FunctionRef<void(const rapidjson::Value& item, const std::string& at)> fn);

 private:
  std::vector<std::string> msgs_;
};

// Space or a control character: never valid in an image, URL or branch.
bool HasSpaceOrControl(absl::string_view s);

}  // namespace v1alpha1
