// tests/webapp/standin.py, the Catalyst web app's stand-in, as a child
// process of an e2e test (tests/webapp/README.md): started on a port, its
// log appended to a file, stopped with SIGTERM.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace e2e {

class WebAppStandin {
 public:
  WebAppStandin() = default;
  ~WebAppStandin() { Stop(); }
  WebAppStandin(const WebAppStandin&) = delete;
  WebAppStandin& operator=(const WebAppStandin&) = delete;

  // Starts it on 127.0.0.1:port (0: any free port) with the admin kubeconfig
  // and flags (--git-root DIR, --secrets-file FILE, ...), its stderr appended
  // to log_path; returns once it says where it listens (port()).
  absl::Status Start(int port, const std::vector<std::string>& flags, const std::string& log_path);
  void Stop();  // SIGTERM and wait; nothing if not running

  int port() const { return port_; }
  std::string url() const;  // http://127.0.0.1:<port>

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace e2e
