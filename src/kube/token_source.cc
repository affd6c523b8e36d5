#include "kube/token_source.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace kube {

FileTokenSource::FileTokenSource(std::string path, const util::Clock* clock, absl::Duration max_age)
    : path_(std::move(path)), clock_(clock), max_age_(max_age) {}

absl::StatusOr<std::string> FileTokenSource::Token() {
  std::lock_guard l(mu_);
  const absl::Time now = clock_->Now();
  if (now - read_at_ < max_age_) return token_;
  std::ifstream in(path_);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in) {
    // Keep using the last good token: a rotation replaces the file atomically,
    // but a missing file must not turn every request into a 401.
    if (!token_.empty()) return token_;
    return absl::UnavailableError(absl::StrCat("cannot read token file ", path_));
  }
  token_ = std::string(absl::StripAsciiWhitespace(ss.str()));
  read_at_ = now;
  return token_;
}

void FileTokenSource::Invalidate() {
  std::lock_guard l(mu_);
  read_at_ = absl::InfinitePast();
}

}  // namespace kube
