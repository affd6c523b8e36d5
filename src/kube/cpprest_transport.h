// The real Transport, on cpprestsdk (HTTP/1.1 over asio and OpenSSL).
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kube/rest_config.h"
#include "kube/transport.h"

namespace kube {

struct CpprestOptions {
  // cpprest's own timeout: an inactivity timer per connection, restarted by
  // every byte. A request's deadline is its HttpRequest::timeout, kept by the
  // transport; this is only the backstop of a request without one. Streams
  // get the long one, which must exceed any watch timeoutSeconds (the
  // informer's watchdog is what notices a silent stream).
  absl::Duration request_idle_timeout = absl::Seconds(60);
  absl::Duration stream_idle_timeout = absl::Minutes(15);
  // cpprest's shared pool runs I/O completions; callers block on their own
  // threads, never on the pool's (a .get() inside the pool can deadlock).
  // Sized once per process: the first transport made decides.
  size_t pool_threads = 4;
};

absl::StatusOr<std::unique_ptr<Transport>> NewCpprestTransport(const RestConfig& config,
                                                               const CpprestOptions& options = {});

}  // namespace kube
