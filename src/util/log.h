// Structured logging: one JSON object per line (time, level, logger, msg,
// fields), or a readable text line. The process has one sink, set at start.
//
// Field values keep their type: `{"workers", 4}` is the JSON number 4, `{"leader", true}`
// the boolean. A LogContext adds fields to every line its thread logs while it
// lives: the worker pool sets namespace, name and reconcileID around each
// reconcile, as controller-runtime's reconcile logger does.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <type_traits>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace util {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// A field's value: a string, an integer, a double or a boolean, as the caller
// passed it. It is a std::variant (std::visit, std::get work on it).
struct LogValue : std::variant<std::string, int64_t, double, bool> {
  LogValue(absl::string_view v) : variant(std::string(v)) {}  // NOLINT: implicit by design
  LogValue(const std::string& v) : variant(v) {}              // NOLINT
  LogValue(std::string&& v) : variant(std::move(v)) {}        // NOLINT
  LogValue(const char* v) : variant(std::string(v)) {}        // NOLINT
  LogValue(bool v) : variant(v) {}                            // NOLINT
  template <typename T,
            std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  LogValue(T v)  // NOLINT
      : variant(FromInteger(v)) {}
  template <typename T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
  LogValue(T v) : variant(static_cast<double>(v)) {}  // NOLINT

  // Where abseil concatenates (StrCat, StrAppend) a value reads as its text,
  // so a sink that appends fields as text needs nothing else.
  operator absl::AlphaNum() const;  // NOLINT: implicit by design

 private:
  // An unsigned value beyond int64 becomes a double rather than a negative number.
  template <typename T>
  static variant FromInteger(T v) {
    if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(int64_t)) {
      if (v > static_cast<T>(std::numeric_limits<int64_t>::max()))
        return variant(static_cast<double>(v));
    }
    return variant(static_cast<int64_t>(v));
  }
};

struct LogField {
  LogField(absl::string_view k, LogValue v) : key(k), value(std::move(v)) {}
  std::string key;
  LogValue value;
};

class LogSink {
 public:
  virtual ~LogSink() = default;
  // fields: the thread's LogContext fields first, then the call's own.
  virtual void Write(LogLevel level, absl::string_view logger, absl::string_view msg,
                     absl::Span<const LogField> fields) = 0;
};

// A sink writing lines to stderr, as JSON or as text.
class StderrSink final : public LogSink {
 public:
  explicit StderrSink(bool json) : json_(json) {}
  void Write(LogLevel level, absl::string_view logger, absl::string_view msg,
             absl::Span<const LogField> fields) override;

 private:
  const bool json_;
};

// Formats one JSON log line (no newline); exposed for tests. Strings are
// escaped by RapidJSON's writer; bytes that are not UTF-8 become U+FFFD, one
// per byte (as zap, controller-runtime's logger, does); a non-finite double is
// the string "NaN", "+Inf" or "-Inf" (JSON has no such numbers).
std::string FormatJsonLine(LogLevel level, absl::string_view logger, absl::string_view msg,
                           absl::Span<const LogField> fields, absl::string_view time);
// The same as a text line: `time level logger: msg key=value ...`, a string
// quoted when it is empty or holds a space, '=', a quote or a control character.
std::string FormatTextLine(LogLevel level, absl::string_view logger, absl::string_view msg,
                           absl::Span<const LogField> fields, absl::string_view time);

// Fields added to every line logged on this thread while the object lives
// (nested contexts add up; a field of the call itself wins over a context
// field of the same key). Create and destroy on the same thread, in scope order.
class LogContext {
 public:
  explicit LogContext(absl::Span<const LogField> fields);
  ~LogContext();

  LogContext(const LogContext&) = delete;
  LogContext& operator=(const LogContext&) = delete;

 private:
  size_t outer_size_;  // the thread's context fields before this one
};

// Set once at start, before other threads run. Default: JSON to stderr at info.
void SetLogSink(LogSink* sink);
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

void Log(LogLevel level, absl::string_view logger, absl::string_view msg,
         std::initializer_list<LogField> fields = {});

}  // namespace util
