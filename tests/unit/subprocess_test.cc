// util::RunProcess's resource limits (the rest of it is exercised through the
// exec credential plugin: exec_plugin_test.cc).
#include "util/subprocess.h"

#include <stdlib.h>
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace util {
namespace {

namespace fs = std::filesystem;

ProcessResult Sh(const std::string& script, std::vector<std::pair<int, uint64_t>> rlimits) {
  auto r = RunProcess({.path = "/bin/sh",
                       .argv = {"sh", "-c", script},
                       .env = {"PATH=/usr/bin:/bin"},
                       .timeout = absl::Seconds(20),
                       .rlimits = std::move(rlimits)});
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : ProcessResult{};
}

TEST(SubprocessTest, TheChildRunsUnderTheResourceLimitsGiven) {
  const ProcessResult r =
      Sh("ulimit -S -d; ulimit -H -d; ulimit -c", {{RLIMIT_DATA, 64 << 20}, {RLIMIT_CORE, 0}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, absl::StrCat(64 << 10, "\n", 64 << 10, "\n0\n")) << "ulimit prints KiB";

  // Inherited by the program's own children, and enforced: a file larger
  // than RLIMIT_FSIZE ends the writer with SIGXFSZ at the limit.
  char tmpl[] = "/tmp/subprocess-test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string file = absl::StrCat(tmpl, "/big");
  const ProcessResult w = Sh(absl::StrCat("head -c 100000 /dev/zero > ", file, "; echo $?"),
                             {{RLIMIT_FSIZE, 4096}, {RLIMIT_CORE, 0}});
  EXPECT_EQ(w.out, absl::StrCat(128 + SIGXFSZ, "\n")) << w.err;
  EXPECT_EQ(fs::file_size(file), 4096u);
  fs::remove_all(tmpl);
}

TEST(SubprocessTest, ALimitAboveTheHardLimitIsTheHardLimit) {
  rlimit cur{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &cur), 0);
  ASSERT_NE(cur.rlim_max, RLIM_INFINITY);
  const ProcessResult r = Sh("ulimit -S -n; ulimit -H -n", {{RLIMIT_NOFILE, cur.rlim_max + 100}});
  EXPECT_EQ(r.out, absl::StrCat(cur.rlim_max, "\n", cur.rlim_max, "\n")) << r.err;
}

TEST(SubprocessTest, ALimitThatCannotBeSetIsAnErrorAndNothingRuns) {
  auto r = RunProcess({.path = "/bin/sh",
                       .argv = {"sh", "-c", "echo ran"},
                       .rlimits = {{-1, 1}}});  // no such resource: EINVAL
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(r.status().message(), "cannot set the resource limits of /bin/sh: Invalid argument");
}

}  // namespace
}  // namespace util
