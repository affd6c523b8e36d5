// RunProcess: runs a program (fork/exec, no shell) and collects what it
// prints, with bounds on time and output — for credential plugins, whose
// output is small and which must not hang or flood the operator.
//
// Safe to call from several threads at once: the pipes are close-on-exec, so
// a process started by another thread meanwhile does not hold them open.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace util {

struct ProcessOptions {
  std::string path;                            // the program; no $PATH lookup (see FindProgram)
  std::vector<std::string> argv;               // argv[0] included
  std::vector<std::string> env;                // the whole environment, NAME=value each
  absl::Duration timeout = absl::Seconds(30);  // real time; the process is killed after it
  size_t max_stdout = 1 << 20;                 // more is an error: the process is killed
  size_t max_stderr = 4096;  // more is dropped (kept reading, so the child never blocks)
  // Resource limits (RLIMIT_*, value) set in the child before exec, soft and
  // hard alike (never above the hard limit the operator has): bounds on what a
  // program run on hostile input may use, inherited by its own children.
  std::vector<std::pair<int, uint64_t>> rlimits;
};

struct ProcessResult {
  int exit_code = -1;   // when it exited
  int term_signal = 0;  // when a signal ended it
  std::string out;      // stdout
  std::string err;      // stderr, up to max_stderr bytes
  bool err_truncated = false;
};

// Stdin is /dev/null. The child starts with every signal unblocked and at its
// default action (the operator blocks SIGTERM in all threads) in a process
// group of its own, which is killed whole on timeout.
//
// Errors: DeadlineExceeded (timeout), ResourceExhausted (stdout too long),
// NotFound (the program cannot be executed: missing or not executable),
// Internal (pipes, fork, a resource limit that cannot be set). A program that
// runs and fails is not an error here.
absl::StatusOr<ProcessResult> RunProcess(const ProcessOptions& options);

// The program a command names: itself when it contains a '/', else the first
// executable file of that name in the directories of path_env ($PATH's
// syntax, "" meaning the current directory); "" when there is none.
std::string FindProgram(const std::string& command, const std::string& path_env);

}  // namespace util
