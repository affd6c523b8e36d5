#include "controllers/environment/build_result.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/json_builder.h"

namespace controllers {
namespace {

using kube::J;

constexpr char kDigest[] =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// A pod of a build Job: git-clone's and the builder's statuses as given.
kube::Object Pod(J init_state, J build_state) {
  return J::Obj({{"metadata", J::Obj({{"name", "build-app-1234abcd-xyz"}})},
                 {"status",
                  J::Obj({{"initContainerStatuses",
                           J::Arr({J::Obj({{"name", "git-clone"}, {"state", init_state}})})},
                          {"containerStatuses",
                           J::Arr({J::Obj({{"name", "build"}, {"state", build_state}})})}})}})
      .ToObject();
}

J Terminated(int code, absl::string_view message,
             absl::string_view finished = "2026-12-07T10:00:00Z") {
  return J::Obj({{"terminated",
                  J::Obj({{"exitCode", code}, {"message", message}, {"finishedAt", finished}})}});
}

J Running() { return J::Obj({{"running", J::Obj({})}}); }
J Waiting() { return J::Obj({{"waiting", J::Obj({{"reason", "PodInitializing"}})}}); }

TEST(BuildResultTest, TheBuildersTerminationMessageIsTheDigest) {
  auto r = ReadBuildResult({Pod(Terminated(0, ""), Terminated(0, absl::StrCat(kDigest, "\n")))});
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->succeeded);
  EXPECT_EQ(r->message, kDigest) << "whitespace around it dropped";
  EXPECT_TRUE(IsImageDigest(r->message));
}

TEST(BuildResultTest, AFailedStepReportsItsLogTailRedacted) {
  auto r = ReadBuildResult(
      {Pod(Terminated(0, ""),
           Terminated(1,
                      "STEP 3/5: RUN npm ci\nnpm ERR! 401 "
                      "https://x:ghs_abcdefghijklmnopqrstuvwxyz0123456789@npm.example/"))});
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->succeeded);
  EXPECT_THAT(r->message, ::testing::StartsWith("exited with code 1: STEP 3/5: RUN npm ci"));
  EXPECT_THAT(r->message, ::testing::Not(::testing::HasSubstr("ghs_abcdefghijklmnopqrstuvwxyz")));

  r = ReadBuildResult({Pod(Terminated(128, "fatal: could not read Username"), Waiting())});
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->succeeded);
  EXPECT_EQ(r->message, "git-clone exited with code 128: fatal: could not read Username");
}

TEST(BuildResultTest, NothingFinishedIsNoResultAndTheLastPodWins) {
  EXPECT_FALSE(ReadBuildResult({}));
  EXPECT_FALSE(ReadBuildResult({Pod(Running(), Waiting())}));
  EXPECT_FALSE(ReadBuildResult({Pod(Terminated(0, ""), Running())}))
      << "git-clone done, the build still running";
  auto r = ReadBuildResult({Pod(Terminated(0, ""), Terminated(0, kDigest, "2026-12-07T10:05:00Z")),
                            Pod(Terminated(0, ""), Terminated(1, "old", "2026-12-07T10:00:00Z"))});
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->succeeded);
}

TEST(BuildResultTest, OnlyASha256DigestIsOne) {
  EXPECT_TRUE(IsImageDigest(kDigest));
  EXPECT_FALSE(IsImageDigest(""));
  EXPECT_FALSE(IsImageDigest("sha256:"));
  EXPECT_FALSE(IsImageDigest(std::string(kDigest).substr(0, 70)));
  EXPECT_FALSE(IsImageDigest(absl::StrCat(std::string(kDigest).substr(0, 70), "G")));
  EXPECT_FALSE(IsImageDigest(absl::StrCat("sha512:", std::string(kDigest).substr(7))));
  EXPECT_FALSE(
      IsImageDigest("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
}

}  // namespace
}  // namespace controllers
