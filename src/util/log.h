// Structured logging: one JSON object per line (time, level, logger, msg,
// fields), or a readable text line. The process has one sink, set at start.
#pragma once

#include <initializer_list>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace util {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

struct LogField {
  LogField(absl::string_view k, absl::string_view v) : key(k), value(v) {}
  LogField(absl::string_view k, const std::string& v) : key(k), value(v) {}
  LogField(absl::string_view k, const char* v) : key(k), value(v) {}
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
  LogField(absl::string_view k, T v) : key(k), value(std::to_string(v)) {}
  std::string key;
  std::string value;
};

class LogSink {
 public:
  virtual ~LogSink() = default;
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

// Formats one JSON log line (no newline); exposed for tests.
std::string FormatJsonLine(LogLevel level, absl::string_view logger, absl::string_view msg,
                           absl::Span<const LogField> fields, absl::string_view time);

// Set once at start, before other threads run. Default: JSON to stderr at info.
void SetLogSink(LogSink* sink);
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

void Log(LogLevel level, absl::string_view logger, absl::string_view msg,
         std::initializer_list<LogField> fields = {});

}  // namespace util
