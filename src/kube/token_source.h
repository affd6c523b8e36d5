// TokenSource: where the bearer token of each request comes from.
//
// Bound service-account tokens rotate, so a token read from a file is re-read
// at least once a minute and at once after the API server answers 401.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "util/clock.h"

namespace kube {

class TokenSource {
 public:
  virtual ~TokenSource() = default;
  // The token to send now; empty means "send none".
  virtual absl::StatusOr<std::string> Token() = 0;
  // The server refused the last token (401): read it afresh next time.
  virtual void Invalidate() = 0;
};

class StaticTokenSource final : public TokenSource {
 public:
  explicit StaticTokenSource(std::string token) : token_(std::move(token)) {}
  absl::StatusOr<std::string> Token() override { return token_; }
  void Invalidate() override {}

 private:
  const std::string token_;
};

class FileTokenSource final : public TokenSource {
 public:
  FileTokenSource(std::string path, const util::Clock* clock,
                  absl::Duration max_age = absl::Minutes(1));
  absl::StatusOr<std::string> Token() override;
  void Invalidate() override;

 private:
  const std::string path_;
  const util::Clock* const clock_;
  const absl::Duration max_age_;
  std::mutex mu_;
  std::string token_;
  absl::Time read_at_ = absl::InfinitePast();
};

}  // namespace kube
