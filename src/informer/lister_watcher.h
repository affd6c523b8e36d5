// ListerWatcher: the two calls a reflector needs, for one resource and one
// selection of it. The real one wraps kube::Client; tests fake it.
#pragma once

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "kube/api_error.h"
#include "kube/client.h"

namespace informer {

class ListerWatcher {
 public:
  virtual ~ListerWatcher() = default;
  virtual absl::StatusOr<kube::ListResult> List(const kube::ListOptions& opts) = 0;
  virtual absl::Status Watch(const kube::WatchOptions& opts, util::Cancellation& cancel,
                             absl::FunctionRef<bool(kube::WatchEvent)> on_event) = 0;
};

// Lists and watches one resource through the client, in one namespace or all
// (""), keeping only what the selectors match, parsing slim (json_parse.h).
class ClientListerWatcher final : public ListerWatcher {
 public:
  ClientListerWatcher(kube::Client* client, kube::Resource resource, std::string ns = {},
                      std::string label_selector = {}, std::string field_selector = {})
      : client_(client),
        resource_(resource),
        ns_(std::move(ns)),
        label_selector_(std::move(label_selector)),
        field_selector_(std::move(field_selector)) {}

  absl::StatusOr<kube::ListResult> List(const kube::ListOptions& opts) override {
    kube::ListOptions o = opts;
    o.label_selector = label_selector_;
    o.field_selector = field_selector_;
    o.slim = true;
    auto list = client_->List(resource_, ns_, o);
    if (!list.ok()) return NameWhatIsMissing(list.status());
    return list;
  }
  absl::Status Watch(const kube::WatchOptions& opts, util::Cancellation& cancel,
                     absl::FunctionRef<bool(kube::WatchEvent)> on_event) override {
    kube::WatchOptions o = opts;
    o.label_selector = label_selector_;
    o.field_selector = field_selector_;
    o.slim = true;
    return NameWhatIsMissing(client_->Watch(resource_, ns_, o, cancel, on_event));
  }

 private:
  // A collection that 404s is a resource the server does not serve (for a
  // custom resource: its CRD is not installed). The server only says "could
  // not find the requested resource"; the log must name what is missing.
  absl::Status NameWhatIsMissing(absl::Status s) const {
    if (!kube::apierrors::IsNotFound(s)) return s;
    auto e = kube::GetApiError(s);
    if (!e) return s;
    e->message =
        resource_.group.empty()
            ? absl::StrCat("the API server does not serve ", resource_.plural, " (", e->message,
                           ")")
            : absl::StrCat("the API server does not serve ", resource_.plural, ".", resource_.group,
                           " (", resource_.group, "/", resource_.version,
                           "): is its CustomResourceDefinition installed? (", e->message, ")");
    return kube::MakeApiError(*e);
  }

  kube::Client* const client_;
  const kube::Resource resource_;
  const std::string ns_, label_selector_, field_selector_;
};

}  // namespace informer
