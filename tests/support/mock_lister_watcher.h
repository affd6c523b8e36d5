// A gmock ListerWatcher and helpers to build objects and events.
#pragma once

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "informer/lister_watcher.h"

namespace testing_support {

class MockListerWatcher : public informer::ListerWatcher {
 public:
  MOCK_METHOD(absl::StatusOr<kube::ListResult>, List, (const kube::ListOptions&), (override));
  MOCK_METHOD(absl::Status, Watch,
              (const kube::WatchOptions&, util::Cancellation&,
               absl::FunctionRef<bool(kube::WatchEvent)>),
              (override));
};

inline kube::Object Obj(absl::string_view ns, absl::string_view name, absl::string_view rv,
                        absl::string_view labels_json = "{}") {
  return *kube::Object::Parse(absl::StrCat(R"({"metadata":{"namespace":")", ns, R"(","name":")",
                                           name, R"(","resourceVersion":")", rv, R"(","labels":)",
                                           labels_json, "}}"));
}

inline kube::WatchEvent Event(kube::WatchEvent::Type t, kube::Object o) {
  return kube::WatchEvent{t, std::move(o)};
}

}  // namespace testing_support
