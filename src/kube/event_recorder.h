// EventRecorder: records core/v1 Events on an object (client-go's
// record.EventRecorder, without aggregation), best effort: a refused Event is
// logged at debug level and never fails the caller.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "kube/client.h"
#include "kube/object.h"
#include "util/clock.h"

namespace kube {

class EventRecorder {
 public:
  // An Event is a notice, not a log: the reason and the start of the cause.
  static constexpr size_t kMaxMessage = 1024;

  // component: source.component and reportingComponent of every Event.
  EventRecorder(Client* client, std::string component, const util::Clock* clock)
      : client_(client), component_(std::move(component)), clock_(clock) {}

  // An Event in involved's namespace. The message is cut to kMaxMessage
  // bytes between two UTF-8 characters, ending with util::kCutMarker (the
  // API server refuses a string that is not UTF-8); the name
  // is the server's (generateName), so any object name fits. api_version and
  // kind name the involved object when it does not (items of a built-in
  // kind's list carry neither).
  void Record(const Object& involved, absl::string_view type, absl::string_view reason,
              absl::string_view message, absl::string_view api_version = "",
              absl::string_view kind = "") const;

 private:
  Client* const client_;
  const std::string component_;
  const util::Clock* const clock_;
};

}  // namespace kube
