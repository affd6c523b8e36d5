// PassMemo, RecordingState and Settled (pass_memo.h): what a pass that planned
// nothing remembers, and what tells it that its reads no longer hold. How the
// reconciler uses them (which passes are skipped) is reconciler_test.cc's.
#include "controllers/environment/pass_memo.h"

#include <string>
#include <vector>

#include "api/v1alpha1/resources.h"
#include "gtest/gtest.h"
#include "informer/store.h"
#include "support/environment_fixture.h"
#include "support/fake_cluster_state.h"

namespace controllers {
namespace {

namespace r = kube::resources;
using testing_support::EnvironmentBuilder;
using testing_support::FakeClusterState;

constexpr char kKey[] = "team/pr-1";

// Environment team/pr-1 at resourceVersion rv.
kube::Object Env(int rv) { return EnvironmentBuilder().Finalizer().ResourceVersion(rv).Build(); }

TEST(SettledTest, OnlyFinalPhasesWithNothingPending) {
  Plan p;
  p.phase = v1alpha1::Phase::kReady;
  EXPECT_TRUE(Settled(p));
  p.phase = v1alpha1::Phase::kFailed;
  EXPECT_TRUE(Settled(p));
  for (v1alpha1::Phase phase : {v1alpha1::Phase::kPending, v1alpha1::Phase::kProvisioning,
                                v1alpha1::Phase::kDeploying, v1alpha1::Phase::kTerminating}) {
    p.phase = phase;
    EXPECT_FALSE(Settled(p)) << v1alpha1::PhaseName(phase);
  }
  p.phase = v1alpha1::Phase::kFailed;
  p.requeue_after = absl::Seconds(5);
  EXPECT_FALSE(Settled(p));
  p.requeue_after.reset();
  p.status_patch = "{}";
  EXPECT_FALSE(Settled(p));
}

// An absence is watched through the cache's add mark: a pass that found no
// Project (or no pull credentials) holds until the cache adds something.
TEST(RecordingStateTest, AbsentReadIsWatchedThroughTheAddMark) {
  FakeClusterState state;
  state.Put(
      r::kServices,
      *kube::Object::Parse(R"({"metadata":{"namespace":"n","name":"web","resourceVersion":"1"}})"));
  RecordingState rec(state);
  EXPECT_TRUE(rec.Get(r::kServices, "n", "web"));
  EXPECT_TRUE(rec.Get(r::kServices, "n", "web"));  // a repeat is kept once
  EXPECT_FALSE(rec.Get(v1alpha1::kProjects, "team", "p"));
  EXPECT_TRUE(rec.complete());
  std::vector<Mark> reads = rec.TakeReads();
  EXPECT_EQ(reads.size(), 2u);
  PassMemo memo;
  const auto env = Env(1);
  memo.Remember(kKey, env, reads);
  EXPECT_TRUE(memo.Unchanged(kKey, env, absl::Now()));
  // Another Project anywhere: the absence may have ended; plan again.
  state.Put(
      v1alpha1::kProjects,
      *kube::Object::Parse(R"({"metadata":{"namespace":"x","name":"q","resourceVersion":"3"}})"));
  EXPECT_FALSE(memo.Unchanged(kKey, env, absl::Now()));
}

TEST(RecordingStateTest, AbsentPullCredentialsAreWatchedThroughTheirCachesAddMark) {
  FakeClusterState state;
  RecordingState rec(state);
  EXPECT_FALSE(rec.RegistryCredentials("team"));
  EXPECT_TRUE(rec.complete());
  PassMemo memo;
  const auto env = Env(1);
  memo.Remember(kKey, env, rec.TakeReads());
  EXPECT_TRUE(memo.Unchanged(kKey, env, absl::Now()));
  // The team's credentials appear: the pass that went without them is stale.
  state.Put(r::kSecrets, *kube::Object::Parse(R"({"metadata":{"namespace":"team",
      "name":"registry-credentials","resourceVersion":"2"}})"));
  EXPECT_FALSE(memo.Unchanged(kKey, env, absl::Now()));
}

// A cache without an add mark cannot tell when an absence ends.
TEST(RecordingStateTest, AbsentReadWithoutAnAddMarkMakesThePassIncomplete) {
  FakeClusterState state(FakeClusterState::Marks::kNone);
  RecordingState rec(state);
  EXPECT_FALSE(rec.Get(r::kIngresses, "n", "web"));
  EXPECT_FALSE(rec.complete());
  EXPECT_TRUE(rec.TakeReads().empty());
}

TEST(PassMemoMarkTest, AnObjectReplacedWhileThePassRanIsNotCurrent) {
  // The race a lookup-free check must not lose: the pass reads an object, the
  // informer replaces it, then the pass is remembered.
  FakeClusterState state;
  informer::Store envs;
  const auto env = Env(1);
  const auto svc =
      *kube::Object::Parse(R"({"metadata":{"namespace":"n","name":"web","resourceVersion":"1"}})");
  state.Put(r::kServices, svc);
  RecordingState rec(state);
  ASSERT_TRUE(rec.Get(r::kServices, "n", "web"));
  state.Put(
      r::kServices,
      *kube::Object::Parse(R"({"metadata":{"namespace":"n","name":"web","resourceVersion":"2"}})"));
  PassMemo memo;
  const absl::Time now = absl::Now();
  memo.Remember(kKey, env, rec.TakeReads());
  EXPECT_FALSE(memo.Unchanged(kKey, env, now));
  EXPECT_EQ(memo.size(), 0u) << "a memo that no longer holds is dropped";

  RecordingState rec2(state);
  ASSERT_TRUE(rec2.Get(r::kServices, "n", "web"));
  memo.Remember(kKey, env, rec2.TakeReads());
  EXPECT_TRUE(memo.Unchanged(kKey, env, now));
  EXPECT_TRUE(memo.Unchanged(kKey, Env(1), now))
      << "the same Environment version in a new document";
  EXPECT_FALSE(memo.Unchanged(kKey, Env(2), now));
  RecordingState rec3(state);
  ASSERT_TRUE(rec3.Get(r::kServices, "n", "web"));
  memo.Remember(kKey, env, rec3.TakeReads());
  state.Erase(r::kServices, "n", "web");
  EXPECT_FALSE(memo.Unchanged(kKey, env, now)) << "deleted";
  RecordingState rec4(state);
  memo.Remember(kKey, env, rec4.TakeReads(), now + absl::Minutes(5));
  EXPECT_TRUE(memo.Unchanged(kKey, env, now + absl::Minutes(4)));
  EXPECT_FALSE(memo.Unchanged(kKey, env, now + absl::Minutes(5))) << "past not_after";
}

}  // namespace
}  // namespace controllers
