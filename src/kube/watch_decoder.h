// WatchDecoder: turns the bytes of a watch response into events.
//
// The API server sends one JSON object per line: {"type": ..., "object": ...}.
// Bytes arrive in arbitrary chunks; lines are split here (not by the transport)
// and each complete line is decoded as soon as it is there.
#pragma once

#include <cstddef>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kube/object.h"

namespace kube {

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark, kError };
  Type type = Type::kAdded;
  Object object;  // for kError, the metav1.Status the server sent
};

absl::string_view ToString(WatchEvent::Type t);

// Decodes one line. A malformed line, an unknown type or an event without an
// object is an InvalidArgument error that says what was wrong.
// slim: drop managedFields and the last-applied annotation (json_parse.h).
absl::StatusOr<WatchEvent> DecodeWatchLine(absl::string_view line, bool slim = false);

class WatchDecoder {
 public:
  explicit WatchDecoder(size_t max_line_bytes = 16 << 20, bool slim = false)
      : max_line_(max_line_bytes), slim_(slim) {}

  // Feeds a chunk; calls on_event for each complete line. Stops at the first
  // error (the stream is then unusable and must be re-established) or when
  // on_event returns false.
  absl::Status Feed(absl::string_view chunk, absl::FunctionRef<bool(WatchEvent)> on_event);
  // Bytes of an incomplete trailing line; non-zero at end of stream means truncation.
  size_t pending() const { return partial_.size(); }

 private:
  absl::Status TooLong() const;

  const size_t max_line_;
  const bool slim_;
  std::string partial_;
  bool stopped_ = false;
};

}  // namespace kube
