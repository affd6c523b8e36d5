#include "util/log.h"

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "rapidjson/encodings.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace util {
namespace {

StderrSink default_sink(/*json=*/true);
std::atomic<LogSink*> sink{&default_sink};
std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};

// This thread's LogContext fields, outermost first.
thread_local std::vector<LogField> context_fields;

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

// RapidJSON's UTF-8 decoder reads through a stream; this one ends at the end of
// the view (a sequence cut short there reads a 0, which no sequence continues with).
class ViewStream {
 public:
  using Ch = char;
  explicit ViewStream(absl::string_view s) : s_(s) {}
  Ch Peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  Ch Take() { return i_ < s_.size() ? s_[i_++] : (++i_, '\0'); }
  size_t Tell() const { return i_; }

 private:
  absl::string_view s_;
  size_t i_ = 0;
};

// The length of the valid UTF-8 sequence at the start of s, or 0 when it is not
// one (RapidJSON's decoder refuses overlong forms, surrogates and > U+10FFFF).
size_t ValidSequenceLength(absl::string_view s) {
  if (static_cast<unsigned char>(s[0]) < 0x80) return 1;
  ViewStream in(s);
  unsigned codepoint = 0;
  if (!rapidjson::UTF8<>::Decode(in, &codepoint) || in.Tell() > s.size()) return 0;
  return in.Tell();
}

// s with each byte that does not belong to a valid UTF-8 sequence replaced by
// U+FFFD; s itself (no copy) when it is valid, the usual case.
absl::string_view ValidUtf8(absl::string_view s, std::string& scratch) {
  size_t i = 0;
  while (i < s.size()) {
    const size_t n = ValidSequenceLength(s.substr(i));
    if (n == 0) break;
    i += n;
  }
  if (i == s.size()) return s;
  scratch.assign(s.data(), i);
  while (i < s.size()) {
    if (const size_t n = ValidSequenceLength(s.substr(i)); n > 0) {
      scratch.append(s.data() + i, n);
      i += n;
    } else {
      scratch.append("\xEF\xBF\xBD");  // U+FFFD
      ++i;
    }
  }
  return scratch;
}

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void WriteString(JsonWriter& w, absl::string_view s) {
  std::string scratch;
  const absl::string_view valid = ValidUtf8(s, scratch);
  w.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()));
}

void WriteValue(JsonWriter& w, const LogValue& v) {
  std::visit(
      [&w](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          WriteString(w, x);
        } else if constexpr (std::is_same_v<T, int64_t>) {
          w.Int64(x);
        } else if constexpr (std::is_same_v<T, bool>) {
          w.Bool(x);
        } else if (std::isnan(x)) {
          w.String("NaN");
        } else if (std::isinf(x)) {
          w.String(x > 0 ? "+Inf" : "-Inf");
        } else {
          w.Double(x);
        }
      },
      static_cast<const LogValue::variant&>(v));
}

// Text form of a string: bare when that reads unambiguously, else quoted.
void AppendTextString(std::string& out, absl::string_view raw) {
  std::string scratch;
  const absl::string_view s = ValidUtf8(raw, scratch);
  bool quote = s.empty();
  for (unsigned char c : s) quote = quote || c <= ' ' || c == '=' || c == '"' || c == 0x7f;
  if (!quote) {
    out.append(s.data(), s.size());
    return;
  }
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
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
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

LogValue::operator absl::AlphaNum() const {
  if (const auto* s = std::get_if<std::string>(this)) return absl::AlphaNum(*s);
  if (const auto* i = std::get_if<int64_t>(this)) return absl::AlphaNum(*i);
  if (const auto* d = std::get_if<double>(this)) return absl::AlphaNum(*d);
  return absl::AlphaNum(std::get<bool>(*this) ? "true" : "false");
}

std::string FormatJsonLine(LogLevel level, absl::string_view logger, absl::string_view msg,
                           absl::Span<const LogField> fields, absl::string_view time) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("time");
  WriteString(w, time);
  w.Key("level");
  WriteString(w, LevelName(level));
  w.Key("logger");
  WriteString(w, logger);
  w.Key("msg");
  WriteString(w, msg);
  for (const LogField& f : fields) {
    WriteString(w, f.key);  // a key is a string in the writer's grammar too
    WriteValue(w, f.value);
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string FormatTextLine(LogLevel level, absl::string_view logger, absl::string_view msg,
                           absl::Span<const LogField> fields, absl::string_view time) {
  std::string scratch;
  std::string line =
      absl::StrCat(time, " ", LevelName(level), " ", logger, ": ", ValidUtf8(msg, scratch));
  for (const LogField& f : fields) {
    absl::StrAppend(&line, " ", ValidUtf8(f.key, scratch), "=");
    if (const auto* s = std::get_if<std::string>(&f.value)) {
      AppendTextString(line, *s);
    } else {
      absl::StrAppend(&line, f.value);
    }
  }
  return line;
}

void StderrSink::Write(LogLevel level, absl::string_view logger, absl::string_view msg,
                       absl::Span<const LogField> fields) {
  std::string line = json_ ? FormatJsonLine(level, logger, msg, fields, Now())
                           : FormatTextLine(level, logger, msg, fields, Now());
  line += '\n';
  // One write per line keeps lines whole when threads log at once.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

LogContext::LogContext(absl::Span<const LogField> fields) : outer_size_(context_fields.size()) {
  context_fields.insert(context_fields.end(), fields.begin(), fields.end());
}

LogContext::~LogContext() {
  context_fields.erase(context_fields.begin() + static_cast<std::ptrdiff_t>(outer_size_),
                       context_fields.end());
}

void SetLogSink(LogSink* s) { sink.store(s ? s : &default_sink); }
void SetLogLevel(LogLevel level) { min_level.store(static_cast<int>(level)); }
bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= min_level.load(); }

void Log(LogLevel level, absl::string_view logger, absl::string_view msg,
         std::initializer_list<LogField> fields) {
  if (!LogEnabled(level)) return;
  if (context_fields.empty()) {
    sink.load()->Write(level, logger, msg, absl::MakeConstSpan(fields.begin(), fields.size()));
    return;
  }
  std::vector<LogField> all;
  all.reserve(context_fields.size() + fields.size());
  for (const LogField& c : context_fields) {
    bool overridden = false;
    for (const LogField& f : fields) overridden = overridden || f.key == c.key;
    if (!overridden) all.push_back(c);
  }
  all.insert(all.end(), fields.begin(), fields.end());
  sink.load()->Write(level, logger, msg, all);
}

}  // namespace util
