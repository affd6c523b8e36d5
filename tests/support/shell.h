// Shell: runs a shell command in a test (fixture repositories, fake tools),
// and quotes a string for one.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"

namespace testing_support {

// Runs cmd with sh; its exit code (-1 when it did not exit) and, into out,
// what it printed on stdout and stderr.
inline int Shell(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = popen(absl::StrCat("(", cmd, ") 2>&1").c_str(), "r");
  if (!p) return -1;
  std::string text;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) text.append(buf, n);
  const int status = pclose(p);
  if (out) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// s as one single-quoted shell word.
inline std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace testing_support
