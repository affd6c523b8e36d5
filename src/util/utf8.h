// Cutting text to a byte budget without splitting a UTF-8 sequence: the API
// server refuses a status or an Event whose strings are not valid UTF-8, and
// a log pipeline shows a split character as garbage.
#pragma once

#include <cstddef>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace util {

// A continuation byte (10xxxxxx): never where a character starts.
inline bool Utf8Continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The longest prefix of s of at most max bytes that ends between two
// characters (bytes that are not UTF-8 count as characters of their own).
inline absl::string_view Utf8Prefix(absl::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t end = max;
  // A character is at most 4 bytes: back up over at most 3 continuation bytes.
  for (int i = 0; i < 3 && end > 0 && Utf8Continuation(s[end]); ++i) --end;
  return s.substr(0, end);
}

// The longest suffix of s of at most max bytes that starts on a character.
inline absl::string_view Utf8Suffix(absl::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t start = s.size() - max;
  for (int i = 0; i < 3 && start < s.size() && Utf8Continuation(s[start]); ++i) ++start;
  return s.substr(start);
}

// What ends a message cut to fit (a status condition's, an Event's).
inline constexpr absl::string_view kCutMarker = " [truncated]";

// s if it fits in max bytes; else its head, cut between two characters, and
// marker, together at most max bytes (the marker alone if max leaves no room).
inline std::string CutUtf8(absl::string_view s, size_t max, absl::string_view marker = kCutMarker) {
  if (s.size() <= max) return std::string(s);
  if (marker.size() >= max) return std::string(Utf8Prefix(marker, max));
  return absl::StrCat(Utf8Prefix(s, max - marker.size()), marker);
}

}  // namespace util
