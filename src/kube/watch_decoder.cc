#include "kube/watch_decoder.h"

#include "absl/strings/str_cat.h"
#include "kube/json_parse.h"
#include "rapidjson/error/en.h"

namespace kube {

absl::string_view ToString(WatchEvent::Type t) {
  switch (t) {
    case WatchEvent::Type::kAdded:
      return "ADDED";
    case WatchEvent::Type::kModified:
      return "MODIFIED";
    case WatchEvent::Type::kDeleted:
      return "DELETED";
    case WatchEvent::Type::kBookmark:
      return "BOOKMARK";
    case WatchEvent::Type::kError:
      return "ERROR";
  }
  return "?";
}

absl::StatusOr<WatchEvent> DecodeWatchLine(absl::string_view line, bool slim) {
  // Slim objects lose a good part of their bytes: a smaller pool chunk wastes less.
  auto doc = Object::NewDocument(slim ? line.size() / 2 : line.size() + line.size() / 2);
  rapidjson::ParseResult parsed = ParseJson(*doc, line, slim);
  if (parsed.IsError())
    return absl::InvalidArgumentError(absl::StrCat("watch event: invalid JSON at offset ",
                                                   parsed.Offset(), ": ",
                                                   rapidjson::GetParseError_En(parsed.Code())));
  if (!doc->IsObject()) return absl::InvalidArgumentError("watch event: not a JSON object");
  const absl::string_view type = StrOf(Member(*doc, "type"));
  WatchEvent ev;
  if (type == "ADDED")
    ev.type = WatchEvent::Type::kAdded;
  else if (type == "MODIFIED")
    ev.type = WatchEvent::Type::kModified;
  else if (type == "DELETED")
    ev.type = WatchEvent::Type::kDeleted;
  else if (type == "BOOKMARK")
    ev.type = WatchEvent::Type::kBookmark;
  else if (type == "ERROR")
    ev.type = WatchEvent::Type::kError;
  else
    return absl::InvalidArgumentError(
        absl::StrCat("watch event: unknown type '", type.substr(0, 32), "'"));
  auto* obj = const_cast<rapidjson::Value*>(Member(*doc, "object"));
  if (!obj || !obj->IsObject()) return absl::InvalidArgumentError("watch event: no object");
  // Make the object the document's root without copying it: the envelope's
  // few bytes stay in the pool, the object's nodes are not touched.
  rapidjson::Value object;
  object.Swap(*obj);
  static_cast<rapidjson::Value&>(*doc).Swap(object);
  ev.object = Object::Adopt(std::move(doc));
  return ev;
}

absl::Status WatchDecoder::TooLong() const {
  return absl::ResourceExhaustedError(
      absl::StrCat("watch event longer than ", max_line_, " bytes"));
}

absl::Status WatchDecoder::Feed(absl::string_view chunk,
                                absl::FunctionRef<bool(WatchEvent)> on_event) {
  if (stopped_) return absl::OkStatus();
  while (!chunk.empty()) {
    const size_t nl = chunk.find('\n');
    if (nl == absl::string_view::npos) {
      if (partial_.size() + chunk.size() > max_line_) return TooLong();
      partial_.append(chunk.data(), chunk.size());
      return absl::OkStatus();
    }
    absl::string_view line = chunk.substr(0, nl);
    chunk.remove_prefix(nl + 1);
    if (partial_.size() + line.size() > max_line_) return TooLong();
    if (!partial_.empty()) {
      partial_.append(line.data(), line.size());
      line = partial_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) {
      auto ev = DecodeWatchLine(line, slim_);
      if (!ev.ok()) return ev.status();
      if (!on_event(std::move(*ev))) {
        stopped_ = true;
        partial_.clear();
        return absl::OkStatus();
      }
    }
    partial_.clear();
  }
  return absl::OkStatus();
}

}  // namespace kube
