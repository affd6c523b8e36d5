#include "util/log.h"

#include <atomic>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace util {
namespace {

StderrSink default_sink(/*json=*/true);
std::atomic<LogSink*> sink{&default_sink};
std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};

absl::string_view LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

void AppendJsonString(std::string& out, absl::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

std::string Now() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
}

}  // namespace

std::string FormatJsonLine(LogLevel level, absl::string_view logger, absl::string_view msg,
                           absl::Span<const LogField> fields, absl::string_view time) {
  std::string out = "{\"time\":";
  AppendJsonString(out, time);
  out += ",\"level\":";
  AppendJsonString(out, LevelName(level));
  out += ",\"logger\":";
  AppendJsonString(out, logger);
  out += ",\"msg\":";
  AppendJsonString(out, msg);
  for (const auto& f : fields) {
    out += ',';
    AppendJsonString(out, f.key);
    out += ':';
    AppendJsonString(out, f.value);
  }
  out += '}';
  return out;
}

void StderrSink::Write(LogLevel level, absl::string_view logger, absl::string_view msg,
                       absl::Span<const LogField> fields) {
  std::string line;
  if (json_) {
    line = FormatJsonLine(level, logger, msg, fields, Now());
  } else {
    line = absl::StrCat(Now(), " ", LevelName(level), " ", logger, ": ", msg);
    for (const auto& f : fields) absl::StrAppend(&line, " ", f.key, "=", f.value);
  }
  line += '\n';
  // One write per line keeps lines whole when threads log at once.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void SetLogSink(LogSink* s) { sink.store(s ? s : &default_sink); }
void SetLogLevel(LogLevel level) { min_level.store(static_cast<int>(level)); }
bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= min_level.load(); }

void Log(LogLevel level, absl::string_view logger, absl::string_view msg,
         std::initializer_list<LogField> fields) {
  if (!LogEnabled(level)) return;
  sink.load()->Write(level, logger, msg, absl::MakeConstSpan(fields.begin(), fields.size()));
}

}  // namespace util
