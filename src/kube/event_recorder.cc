#include "kube/event_recorder.h"

#include "absl/strings/str_cat.h"
#include "kube/json_builder.h"
#include "util/log.h"
#include "util/utf8.h"

namespace kube {

void EventRecorder::Record(const Object& involved, absl::string_view type, absl::string_view reason,
                           absl::string_view message, absl::string_view api_version,
                           absl::string_view kind) const {
  const std::string ts = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", clock_->Now(), absl::UTCTimeZone());
  const std::string body =
      J::Obj(
          {{"apiVersion", "v1"},
           {"kind", "Event"},
           // The server appends 5 random characters (cutting the prefix to
           // fit), so a 253-character object name still makes a valid name.
           {"metadata", J::Obj({{"generateName", absl::StrCat(involved.Name().substr(0, 200), ".")},
                                {"namespace", involved.Namespace()}})},
           {"involvedObject",
            J::Obj({{"apiVersion", api_version.empty() ? involved.ApiVersion() : api_version},
                    {"kind", kind.empty() ? involved.Kind() : kind},
                    {"name", involved.Name()},
                    {"namespace", involved.Namespace()},
                    {"uid", involved.Uid()},
                    {"resourceVersion", involved.ResourceVersion()}})},
           {"type", type},
           {"reason", reason},
           {"message", util::CutUtf8(message, kMaxMessage)},
           {"firstTimestamp", ts},
           {"lastTimestamp", ts},
           {"count", 1},
           {"source", J::Obj({{"component", component_}})},
           {"reportingComponent", component_}})
          .Serialize();
  if (auto s = client_->Create(resources::kEvents, involved.Namespace(), body); !s.ok())
    util::Log(util::LogLevel::kDebug, "events", "event not recorded",
              {{"object", involved.Key()}, {"error", std::string(s.status().message())}});
}

}  // namespace kube
