// Every log line written while a LogCapture lives, at every level, as the
// JSON lines the operator writes: for tests that a secret is never logged.
#pragma once

#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "util/log.h"

namespace testing_support {

class LogCapture final : public util::LogSink {
 public:
  LogCapture() {
    for (util::LogLevel l : {util::LogLevel::kDebug, util::LogLevel::kInfo, util::LogLevel::kWarn})
      if (util::LogEnabled(l)) {
        level_ = l;
        break;
      }
    util::SetLogSink(this);
    util::SetLogLevel(util::LogLevel::kDebug);
  }
  ~LogCapture() override {
    util::SetLogLevel(level_);
    util::SetLogSink(nullptr);
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  void Write(util::LogLevel level, absl::string_view logger, absl::string_view msg,
             absl::Span<const util::LogField> fields) override {
    std::lock_guard l(mu_);
    absl::StrAppend(&text_, util::FormatJsonLine(level, logger, msg, fields, "t"), "\n");
  }
  std::string text() const {
    std::lock_guard l(mu_);
    return text_;
  }

 private:
  util::LogLevel level_ = util::LogLevel::kError;
  mutable std::mutex mu_;
  std::string text_;
};

}  // namespace testing_support
