// A YAML subset parser: enough for kubeconfig files as kubectl and kind write
// them (block mappings and sequences, plain and quoted scalars, comments) and
// for JSON documents. Anchors, tags, multi-document streams and block scalars
// are rejected with an error, never misread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kube {

struct YamlNode {
  enum class Kind { kNull, kScalar, kMap, kSeq };
  Kind kind = Kind::kNull;
  std::string scalar;
  // A mapping, in document order: keys[i] maps to values[i]. (Two vectors, as
  // a pair holding the still-incomplete YamlNode is not allowed.)
  std::vector<std::string> keys;
  std::vector<YamlNode> values;
  std::vector<YamlNode> seq;

  // The value under key, or a null node.
  const YamlNode& operator[](absl::string_view key) const;
  // The scalar text, or "" for anything else.
  const std::string& str() const;
  bool IsNull() const { return kind == Kind::kNull; }
};

absl::StatusOr<YamlNode> ParseYaml(absl::string_view text);

}  // namespace kube
