// The Environment unit tests plan, reconcile and cache, built field by field
// with kube::J, so a test names only what it is about:
//
//   kube::Object env = EnvironmentBuilder().Finalizer().ResourceVersion(12).Build();
//   kube::Object next = EnvironmentBuilder(env).Generation(2).Build();  // a new commit
//
// By default: Environment pr-1 in namespace team (key "team/pr-1"), uid u-1,
// generation 1, resourceVersion 7; spec type development, Project p, one
// source "web" from https://github.com/org/repo at branch main; no labels,
// annotations, finalizer or status. The Environments the web app sends, with
// its labels and its preset config, are support/catalyst.h's.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "kube/json_builder.h"
#include "kube/object.h"

namespace testing_support {

class EnvironmentBuilder {
 public:
  EnvironmentBuilder() = default;
  // Every field of env the builder knows (metadata as above, spec, status):
  // to change one field of an Environment a test got back.
  explicit EnvironmentBuilder(const kube::Object& env);

  EnvironmentBuilder& Name(std::string name);
  EnvironmentBuilder& Namespace(std::string ns);
  EnvironmentBuilder& Uid(std::string uid);  // "": none
  EnvironmentBuilder& Generation(int64_t generation);
  EnvironmentBuilder& ResourceVersion(int64_t rv);
  EnvironmentBuilder& Label(std::string key, std::string value);
  // Sets (or replaces) an annotation; RemoveAnnotation drops one.
  EnvironmentBuilder& Annotation(std::string key, std::string value);
  EnvironmentBuilder& RemoveAnnotation(absl::string_view key);
  // The operator's finalizer (catalyst.dev/finalizer).
  EnvironmentBuilder& Finalizer();
  // Being deleted since `since` (metadata.deletionTimestamp).
  EnvironmentBuilder& Deleting(std::string since = "2026-01-01T00:00:00Z");
  EnvironmentBuilder& Type(std::string type);
  EnvironmentBuilder& ProjectRef(std::string project);
  // The whole spec instead of the fields above (e.g. one that does not parse).
  EnvironmentBuilder& Spec(kube::J spec);
  EnvironmentBuilder& Status(kube::J status);
  // status as JSON ("": none), e.g. what a status patch wrote.
  EnvironmentBuilder& StatusJson(absl::string_view json);
  // The status a patch ({"status":{...}}, status.h) writes.
  EnvironmentBuilder& StatusOfPatch(absl::string_view patch);

  kube::Object Build() const;
  std::string Json() const { return Build().Serialize(); }

 private:
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  static void Set(Pairs& pairs, std::string key, std::string value);

  std::string api_version_ = "catalyst.catalyst.dev/v1alpha1";
  std::string name_ = "pr-1";
  std::string namespace_ = "team";
  std::string uid_ = "u-1";
  int64_t generation_ = 1;
  std::string resource_version_ = "7";
  Pairs labels_, annotations_;
  std::vector<std::string> finalizers_;
  std::string deletion_timestamp_;
  std::string type_ = "development";
  std::string project_ = "p";
  std::optional<kube::J> spec_;
  std::optional<kube::J> status_;
};

// o with `value` at path (objects on the way made as needed; a member there
// replaced): a server's or another writer's change to a cached object.
kube::Object With(const kube::Object& o, std::initializer_list<absl::string_view> path,
                  const kube::J& value);

}  // namespace testing_support
