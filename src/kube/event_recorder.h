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
  // component: source.component and reportingComponent of every Event.
  EventRecorder(Client* client, std::string component, const util::Clock* clock)
      : client_(client), component_(std::move(component)), clock_(clock) {}

  // An Event in involved's namespace. The message is cut to 1 KiB; the name
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
