// J: a JSON value written as nested initializer lists, so a manifest in the
// code reads like the YAML it stands for:
//
//   J::Obj({{"apiVersion", "v1"}, {"kind", "Namespace"},
//           {"metadata", J::Obj({{"name", ns}})}}).ToObject()
//
// Members keep the order they are given in. A kube::Object (or a member of
// one) can be embedded: it is copied when the value is built.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/string_view.h"
#include "kube/object.h"
#include "rapidjson/document.h"

namespace kube {

class J {
 public:
  struct Member;
  using Array = std::vector<J>;
  using Members = std::vector<Member>;

  // Implicit on purpose. Defined below J::Member: clang with libstdc++ wants
  // Member complete wherever the variant's members are built or destroyed.
  J(const char* s);          // NOLINT
  J(std::string s);          // NOLINT
  J(absl::string_view s);    // NOLINT
  J(int v);                  // NOLINT
  J(int64_t v);              // NOLINT
  J(bool v);                 // NOLINT
  J(Object o);               // NOLINT: embeds a copy of o
  static J Obj(std::initializer_list<Member> members);
  static J Arr(std::initializer_list<J> items);
  static J Arr(Array items);
  static J Strings(const std::vector<std::string>& items);

  // Adds a member to an object (for the optional ones).
  J& Set(std::string key, J value);
  // Appends to an array.
  J& Push(J value);

  rapidjson::Value ToValue(rapidjson::Document::AllocatorType& a) const;
  Object ToObject() const;
  std::string Serialize() const { return ToObject().Serialize(); }

 private:
  explicit J(Array a);
  explicit J(Members m);
  std::variant<bool, int64_t, std::string, Array, Members, Object> v_;
};

struct J::Member {
  std::string key;
  J value;
};

inline J::J(const char* s) : v_(std::string(s)) {}
inline J::J(std::string s) : v_(std::move(s)) {}
inline J::J(absl::string_view s) : v_(std::string(s)) {}
inline J::J(int v) : v_(static_cast<int64_t>(v)) {}
inline J::J(int64_t v) : v_(v) {}
inline J::J(bool v) : v_(v) {}
inline J::J(Object o) : v_(std::move(o)) {}
inline J::J(Array a) : v_(std::move(a)) {}
inline J::J(Members m) : v_(std::move(m)) {}
inline J J::Arr(std::initializer_list<J> items) { return J(Array(items)); }
inline J J::Arr(Array items) { return J(std::move(items)); }

}  // namespace kube
