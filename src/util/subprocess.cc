#include "util/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace util {
namespace {

// Closes the descriptors it holds, whichever way RunProcess returns.
struct Fds {
  int fd[7] = {-1, -1, -1, -1, -1, -1, -1};
  ~Fds() {
    for (int f : fd)
      if (f >= 0) close(f);
  }
  void Close(int& f) {
    if (f >= 0) close(f);
    f = -1;
  }
};

int ReadSome(int fd, char* buf, size_t size) {
  for (;;) {
    const ssize_t n = read(fd, buf, size);
    if (n >= 0 || errno != EINTR) return static_cast<int>(n);
  }
}

// Kills the child's process group (a plugin's own children too) and reaps it.
void Kill(pid_t pid) {
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

std::string FindProgram(const std::string& command, const std::string& path_env) {
  if (command.empty()) return "";
  if (command.find('/') != std::string::npos) return command;
  for (absl::string_view dir : absl::StrSplit(path_env, ':')) {
    std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", command);
    struct stat st {};
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return "";
}

absl::StatusOr<ProcessResult> RunProcess(const ProcessOptions& o) {
  using SteadyClock = std::chrono::steady_clock;
  const auto deadline = SteadyClock::now() + absl::ToChronoNanoseconds(o.timeout);
  // Everything the child needs is prepared here: after fork only
  // async-signal-safe calls are allowed (other threads may hold malloc's lock).
  std::vector<char*> argv, envp;
  std::vector<std::string> args = o.argv, env = o.env;
  if (args.empty()) args.push_back(o.path);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  Fds fds;
  int& out_r = fds.fd[0];
  int& out_w = fds.fd[1];
  int& err_r = fds.fd[2];
  int& err_w = fds.fd[3];
  int& exec_r = fds.fd[4];  // the child's errno if execve fails; EOF once it succeeded
  int& exec_w = fds.fd[5];
  int& null_fd = fds.fd[6];
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  out_r = p[0], out_w = p[1];
  if (pipe2(p, O_CLOEXEC) != 0) return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  err_r = p[0], err_w = p[1];
  if (pipe2(p, O_CLOEXEC) != 0) return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  exec_r = p[0], exec_w = p[1];
  null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) return absl::InternalError(absl::StrCat("/dev/null: ", strerror(errno)));

  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid == 0) {
    setpgid(0, 0);
    // The operator blocks SIGTERM/SIGINT for its signal thread, and a library
    // may ignore SIGPIPE: neither is the plugin's business.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; ++s) sigaction(s, &dfl, nullptr);
    // dup2 leaves the new descriptors without close-on-exec.
    if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_w, STDOUT_FILENO) < 0 ||
        dup2(err_w, STDERR_FILENO) < 0)
      _exit(127);
    execve(o.path.c_str(), argv.data(), envp.data());
    const int e = errno;
    (void)!write(exec_w, &e, sizeof e);
    _exit(127);
  }
  // Also from here: a kill of the group must not race the child's setpgid.
  setpgid(pid, pid);
  fds.Close(out_w);
  fds.Close(err_w);
  fds.Close(exec_w);
  fds.Close(null_fd);

  int exec_errno = 0;
  if (ReadSome(exec_r, reinterpret_cast<char*>(&exec_errno), sizeof exec_errno) ==
      sizeof exec_errno) {
    Kill(pid);
    return absl::NotFoundError(absl::StrCat("cannot execute ", o.path, ": ", strerror(exec_errno)));
  }
  fds.Close(exec_r);

  ProcessResult r;
  char buf[65536];
  while (out_r >= 0 || err_r >= 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) {
      Kill(pid);
      return absl::DeadlineExceededError(
          absl::StrCat(o.path, " did not finish within ", absl::FormatDuration(o.timeout)));
    }
    pollfd pfd[2] = {{out_r, POLLIN, 0}, {err_r, POLLIN, 0}};
    const int ready = poll(pfd, 2, static_cast<int>(std::min<int64_t>(left.count() + 1, 1000)));
    if (ready < 0 && errno != EINTR) {
      Kill(pid);
      return absl::InternalError(absl::StrCat("poll: ", strerror(errno)));
    }
    if (ready <= 0) continue;
    if (pfd[0].revents != 0) {
      const int n = ReadSome(out_r, buf, sizeof buf);
      if (n <= 0) {
        fds.Close(out_r);
      } else if (r.out.size() + n > o.max_stdout) {
        Kill(pid);
        return absl::ResourceExhaustedError(
            absl::StrCat(o.path, " printed more than ", o.max_stdout, " bytes"));
      } else {
        r.out.append(buf, n);
      }
    }
    if (pfd[1].revents != 0) {
      const int n = ReadSome(err_r, buf, sizeof buf);
      if (n <= 0) {
        fds.Close(err_r);
      } else {
        const size_t keep = std::min(static_cast<size_t>(n), o.max_stderr - r.err.size());
        r.err.append(buf, keep);
        if (keep < static_cast<size_t>(n)) r.err_truncated = true;
      }
    }
  }
  // Both pipes closed: the child is exiting (or closed them and lingers,
  // which the deadline still bounds).
  int status = 0;
  for (;;) {
    const pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR)
      return absl::InternalError(absl::StrCat("waitpid: ", strerror(errno)));
    if (SteadyClock::now() >= deadline) {
      Kill(pid);
      return absl::DeadlineExceededError(
          absl::StrCat(o.path, " did not finish within ", absl::FormatDuration(o.timeout)));
    }
    poll(nullptr, 0, 5);
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.term_signal = WTERMSIG(status);
  return r;
}

}  // namespace util
