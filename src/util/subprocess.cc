#include "util/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
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

namespace {

using SteadyClock = std::chrono::steady_clock;

// The child's pipes (stdout, stderr, and one that carries a failed setrlimit's
// or execve's errno and reaches EOF once the exec succeeded), /dev/null for stdin.
struct Child {
  Fds fds;
  int& out_r = fds.fd[0];
  int& out_w = fds.fd[1];
  int& err_r = fds.fd[2];
  int& err_w = fds.fd[3];
  int& exec_r = fds.fd[4];
  int& exec_w = fds.fd[5];
  int& null_fd = fds.fd[6];
  pid_t pid = -1;
};

// In the child, after fork: tells the parent which stage failed and why, and
// ends the child. Async-signal-safe.
[[noreturn]] void Report(int fd, int stage) {
  const int msg[2] = {stage, errno};
  (void)!write(fd, msg, sizeof msg);
  _exit(127);
}

absl::Status Pipe(int& r, int& w) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  r = p[0], w = p[1];
  return absl::OkStatus();
}

// Forks and execs o.path; a failed exec is reported, the child reaped.
absl::Status Start(const ProcessOptions& o, Child& c) {
  // Everything the child needs is prepared here: after fork only
  // async-signal-safe calls are allowed (other threads may hold malloc's lock).
  std::vector<char*> argv, envp;
  std::vector<std::string> args = o.argv, env = o.env;
  if (args.empty()) args.push_back(o.path);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::pair<int, rlim_t>> limits;
  for (const auto& [resource, value] : o.rlimits)
    limits.emplace_back(resource, static_cast<rlim_t>(value));
  for (auto [r, w] :
       {std::pair<int*, int*>{&c.out_r, &c.out_w}, {&c.err_r, &c.err_w}, {&c.exec_r, &c.exec_w}})
    if (absl::Status s = Pipe(*r, *w); !s.ok()) return s;
  c.null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (c.null_fd < 0) return absl::InternalError(absl::StrCat("/dev/null: ", strerror(errno)));
  c.pid = fork();
  if (c.pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (c.pid == 0) {
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
    if (dup2(c.null_fd, STDIN_FILENO) < 0 || dup2(c.out_w, STDOUT_FILENO) < 0 ||
        dup2(c.err_w, STDERR_FILENO) < 0)
      _exit(127);
    // A limit that cannot be set must not leave the program unbounded: the
    // child reports it (stage 1) and does not run the program.
    for (const auto& [resource, value] : limits) {
      rlimit cur{};
      if (getrlimit(resource, &cur) != 0) Report(c.exec_w, 1);
      const rlim_t v = cur.rlim_max == RLIM_INFINITY ? value : std::min(value, cur.rlim_max);
      const rlimit want{v, v};
      if (setrlimit(resource, &want) != 0) Report(c.exec_w, 1);
    }
    execve(o.path.c_str(), argv.data(), envp.data());
    Report(c.exec_w, 0);
  }
  // Also from here: a kill of the group must not race the child's setpgid.
  setpgid(c.pid, c.pid);
  for (int* f : {&c.out_w, &c.err_w, &c.exec_w, &c.null_fd}) c.fds.Close(*f);
  int failed[2] = {0, 0};  // stage (0 exec, 1 setrlimit), errno
  if (ReadSome(c.exec_r, reinterpret_cast<char*>(failed), sizeof failed) == sizeof failed) {
    Kill(c.pid);
    if (failed[0] == 1)
      return absl::InternalError(
          absl::StrCat("cannot set the resource limits of ", o.path, ": ", strerror(failed[1])));
    return absl::NotFoundError(absl::StrCat("cannot execute ", o.path, ": ", strerror(failed[1])));
  }
  c.fds.Close(c.exec_r);
  return absl::OkStatus();
}

absl::Status TooLate(const ProcessOptions& o) {
  return absl::DeadlineExceededError(
      absl::StrCat(o.path, " did not finish within ", absl::FormatDuration(o.timeout)));
}

// Reads stdout (bounded: over the limit is an error) and stderr (truncated)
// until both close or the deadline passes.
absl::Status Collect(const ProcessOptions& o, Child& c, SteadyClock::time_point deadline,
                     ProcessResult& r) {
  char buf[65536];
  while (c.out_r >= 0 || c.err_r >= 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) return TooLate(o);
    pollfd pfd[2] = {{c.out_r, POLLIN, 0}, {c.err_r, POLLIN, 0}};
    const int ready = poll(pfd, 2, static_cast<int>(std::min<int64_t>(left.count() + 1, 1000)));
    if (ready < 0 && errno != EINTR)
      return absl::InternalError(absl::StrCat("poll: ", strerror(errno)));
    if (ready <= 0) continue;
    if (pfd[0].revents != 0) {
      const int n = ReadSome(c.out_r, buf, sizeof buf);
      if (n <= 0)
        c.fds.Close(c.out_r);
      else if (r.out.size() + n > o.max_stdout)
        return absl::ResourceExhaustedError(
            absl::StrCat(o.path, " printed more than ", o.max_stdout, " bytes"));
      else
        r.out.append(buf, n);
    }
    if (pfd[1].revents != 0) {
      const int n = ReadSome(c.err_r, buf, sizeof buf);
      if (n <= 0) {
        c.fds.Close(c.err_r);
      } else {
        const size_t keep = std::min(static_cast<size_t>(n), o.max_stderr - r.err.size());
        r.err.append(buf, keep);
        if (keep < static_cast<size_t>(n)) r.err_truncated = true;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ProcessResult> RunProcess(const ProcessOptions& o) {
  const auto deadline = SteadyClock::now() + absl::ToChronoNanoseconds(o.timeout);
  Child c;
  if (absl::Status s = Start(o, c); !s.ok()) return s;
  ProcessResult r;
  if (absl::Status s = Collect(o, c, deadline, r); !s.ok()) {
    Kill(c.pid);
    return s;
  }
  // Both pipes closed: the child is exiting (or closed them and lingers,
  // which the deadline still bounds).
  int status = 0;
  for (;;) {
    const pid_t w = waitpid(c.pid, &status, WNOHANG);
    if (w == c.pid) break;
    if (w < 0 && errno != EINTR)
      return absl::InternalError(absl::StrCat("waitpid: ", strerror(errno)));
    if (SteadyClock::now() >= deadline) {
      Kill(c.pid);
      return TooLate(o);
    }
    poll(nullptr, 0, 5);
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.term_signal = WTERMSIG(status);
  return r;
}

}  // namespace util
