// The git-clone init container's script (controllers/environment/git_clone.h), run with
// sh and git against a local repository as the init container would run it.
#include "controllers/environment/git_clone.h"

#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "support/shell.h"

namespace controllers {
namespace {

namespace fs = std::filesystem;

// Runs a shell command; its exit code and output (stdout and stderr).
using testing_support::Shell;

using testing_support::Quote;

class GitCloneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/git-clone-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // An upstream with main (two commits) and a feature branch.
    const std::string git = "git -c user.email=t@t -c user.name=t -c init.defaultBranch=main";
    std::string out;
    ASSERT_EQ(
        Shell(absl::StrCat("set -e; cd ", dir_, "; mkdir up; cd up; ", git, " init -q; ",
                           "echo one > a.txt; ", git, " add a.txt; ", git,
                           " commit -qm one; echo two > a.txt; ", git, " commit -qam two; ", git,
                           " checkout -qb feature; echo f > f.txt; ", git, " add f.txt; ", git,
                           " commit -qm feature; ", git, " checkout -q main"),
              &out),
        0)
        << out;
    url_ = absl::StrCat("file://", dir_, "/up");
    first_ = Rev("main~1");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Rev(const std::string& ref) {
    std::string out;
    EXPECT_EQ(Shell(absl::StrCat("git -C ", dir_, "/up rev-parse ", ref), &out), 0) << out;
    return std::string(absl::StripTrailingAsciiWhitespace(out));
  }
  // The init container: sh -c <script> git-clone <url> <branch> <sha> <dest>.
  int Clone(const std::string& branch, const std::string& sha, const std::string& dest,
            std::string* out) {
    return Shell(absl::StrCat("HOME=", dir_, " sh -c ", Quote(kGitCloneScript), " git-clone ",
                              Quote(url_), " ", Quote(branch), " ", Quote(sha), " ", Quote(dest)),
                 out);
  }
  std::string Head(const std::string& dest) {
    std::string out;
    Shell(absl::StrCat("git -C ", dest, " rev-parse HEAD"), &out);
    return std::string(absl::StripTrailingAsciiWhitespace(out));
  }

  std::string dir_, url_, first_;
};

TEST_F(GitCloneTest, BranchShaAndDefault) {
  std::string out;
  const std::string dest = dir_ + "/ws/app";
  ASSERT_EQ(Clone("feature", "", dest, &out), 0) << out;
  EXPECT_EQ(Head(dest), Rev("feature"));
  EXPECT_TRUE(fs::exists(dest + "/f.txt"));
  ASSERT_EQ(Clone("", first_, dest, &out), 0) << out;  // a full sha, fetched on its own
  EXPECT_EQ(Head(dest), first_);
  ASSERT_EQ(Clone("main", first_.substr(0, 7), dest, &out), 0) << out;  // a short one
  EXPECT_EQ(Head(dest), first_);
  ASSERT_EQ(Clone("", "", dest, &out), 0) << out;  // the remote's default branch
  EXPECT_EQ(Head(dest), Rev("main"));
  EXPECT_FALSE(fs::exists(dest + "/f.txt")) << "a rerun ends on a clean tree";
}

// The web app's preset mounts the volume at /code and works in /code/web: the
// clone goes into the volume's root, next to lost+found, and a rerun keeps
// only what git tracks (and npm's cache).
TEST_F(GitCloneTest, IntoAVolumeRootAndAgain) {
  const std::string root = dir_ + "/code";
  fs::create_directories(root + "/lost+found");
  std::string out;
  ASSERT_EQ(Clone("main", "", root, &out), 0) << out;
  EXPECT_EQ(Head(root), Rev("main"));
  std::ofstream(root + "/a.txt") << "edited";
  fs::create_directories(root + "/node_modules/x");
  fs::create_directories(root + "/.npm/cache");
  ASSERT_EQ(Clone("feature", "", root, &out), 0) << out;
  EXPECT_EQ(Head(root), Rev("feature"));
  std::ifstream a(root + "/a.txt");
  std::string content((std::istreambuf_iterator<char>(a)), {});
  EXPECT_EQ(content, "two\n");
  EXPECT_FALSE(fs::exists(root + "/node_modules"));
  EXPECT_TRUE(fs::exists(root + "/.npm/cache"));
  EXPECT_TRUE(fs::exists(root + "/lost+found"));
}

TEST_F(GitCloneTest, WhatIsNotFoundIsNamed) {
  std::string out;
  EXPECT_NE(Clone("", "deadbeefdeadbeef", dir_ + "/x", &out), 0);
  EXPECT_NE(out.find("commit deadbeefdeadbeef not found in " + url_), std::string::npos) << out;
  EXPECT_NE(Clone("no-such-branch", "", dir_ + "/y", &out), 0);
  EXPECT_NE(out.find("branch no-such-branch not found in " + url_), std::string::npos) << out;
}

// The URL and ref are data, never shell: a hostile branch name runs nothing.
TEST_F(GitCloneTest, ArgumentsAreNotShell) {
  std::string out;
  const std::string marker = dir_ + "/pwned";
  EXPECT_NE(Clone(absl::StrCat("x;touch ", marker), "", dir_ + "/z", &out), 0);
  EXPECT_FALSE(fs::exists(marker));
}

// The credential helper where the git image has busybox wget and no curl:
// the web app's refusal is named by its HTTP status, read from wget's error.
TEST(GitCredentialTest, WithWgetTheRefusalsStatusIsNamed) {
  char tmpl[] = "/tmp/git-credential-test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl, bin = dir + "/bin";
  std::string out;
  // A PATH of the tools the script uses, without curl, and a wget that fails
  // as busybox's does on a 403.
  ASSERT_EQ(
      Shell(absl::StrCat(
                "set -e; mkdir ", bin,
                "; for t in cat mktemp rm sed head; do ln -s \"$(command -v $t)\" ", bin,
                "/$t; done; printf '%s\\n' '#!/bin/sh' ",
                Quote("echo 'wget: server returned error: HTTP/1.1 403 Forbidden' >&2; exit 1"),
                " > ", bin, "/wget; chmod +x ", bin, "/wget; echo sa-token > ", dir, "/token"),
            &out),
      0)
      << out;
  const int rc =
      Shell(absl::StrCat("printf 'protocol=https\\nhost=x\\n\\n' | PATH=", bin,
                         " CATALYST_TOKEN_FILE=", dir, "/token CATALYST_WEB_URL=http://web",
                         " CATALYST_INSTALLATION_ID=7 /bin/sh -c ", Quote(kGitCredentialScript),
                         " git-credential-catalyst get"),
            &out);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("git token for installation 7: the Catalyst web app refused: not the "
                     "installation of this Environment's Project (HTTP 403)"),
            std::string::npos)
      << out;
  Shell("rm -rf " + dir);
}

}  // namespace
}  // namespace controllers
