#include "e2e/webapp_standin.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "e2e/harness.h"

namespace e2e {

absl::Status WebAppStandin::Start(int port, const std::vector<std::string>& flags,
                                  const std::string& log_path) {
  Stop();
  std::vector<std::string> argv = {"python3",      SOURCE_ROOT "/tests/webapp/standin.py",
                                   "--port",       absl::StrCat(port),
                                   "--kubeconfig", KubeconfigPath()};
  argv.insert(argv.end(), flags.begin(), flags.end());
  int fds[2];
  if (pipe(fds) != 0) return absl::InternalError("pipe failed");
  pid_ = fork();
  if (pid_ == 0) {
    dup2(fds[1], 1);
    const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(log, 2);
    close(fds[0]);
    std::vector<char*> a;
    for (const std::string& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execvp(a[0], a.data());
    _exit(127);
  }
  close(fds[1]);
  // Its first line, once it listens: "listening <port>".
  std::string line;
  char c;
  while (read(fds[0], &c, 1) == 1 && c != '\n') line.push_back(c);
  close(fds[0]);
  absl::string_view said = line;
  if (!absl::ConsumePrefix(&said, "listening ") || !absl::SimpleAtoi(said, &port_)) {
    Stop();
    return absl::InternalError(
        absl::StrCat("the web app stand-in said \"", line, "\" (its log: ", log_path, ")"));
  }
  return absl::OkStatus();
}

void WebAppStandin::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string WebAppStandin::url() const { return absl::StrCat("http://127.0.0.1:", port_); }

}  // namespace e2e
