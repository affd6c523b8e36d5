#include "informer/reflector.h"

#include <atomic>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "informer/informer.h"
#include "kube/api_error.h"
#include "support/fake_clock.h"
#include "support/mock_lister_watcher.h"

namespace informer {
namespace {

using ::testing::_;
using ::testing::Field;
using ::testing::Invoke;
using ::testing::Return;
using testing_support::Event;
using testing_support::Obj;
using Type = kube::WatchEvent::Type;

// Records what the reflector delivers.
class RecordingSink : public ReflectorSink {
 public:
  void Replace(std::vector<kube::Object> objs) override {
    absl::MutexLock l(&mu);
    std::string s = "replace:";
    for (const auto& o : objs) s += std::string(o.Name()) + ",";
    log.push_back(s);
  }
  void Apply(const kube::WatchEvent& e) override {
    absl::MutexLock l(&mu);
    log.push_back(std::string(kube::ToString(e.type)) + ":" + std::string(e.object.Name()));
  }
  std::vector<std::string> Log() {
    absl::MutexLock l(&mu);
    return log;
  }
  absl::Mutex mu;
  std::vector<std::string> log;
};

kube::ListResult ListOf(std::string rv, std::vector<kube::Object> items, std::string cont = "") {
  return kube::ListResult{std::move(rv), std::move(cont), std::move(items)};
}

// A watch that sends events and then blocks until cancelled (as a healthy
// stream does), returning Cancelled.
auto StreamThenBlock(std::vector<kube::WatchEvent> events) {
  return [events](const kube::WatchOptions&, util::Cancellation& cancel,
                  absl::FunctionRef<bool(kube::WatchEvent)> on_event) {
    for (const auto& e : events) on_event(e);
    cancel.WaitFor(absl::Seconds(30));
    return absl::CancelledError("cancelled");
  };
}
auto Returns(std::vector<kube::WatchEvent> events, absl::Status end) {
  return [events, end](const kube::WatchOptions&, util::Cancellation&,
                       absl::FunctionRef<bool(kube::WatchEvent)> on_event) {
    for (const auto& e : events) on_event(e);
    return end;
  };
}

bool WaitUntil(const std::function<bool()>& cond) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    if (cond()) return true;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return cond();
}

class ReflectorTest : public ::testing::Test {
 protected:
  ReflectorOptions Options() {
    return {.name = "test",
            .page_size = 2,
            .backoff_initial = absl::Milliseconds(1),
            .backoff_cap = absl::Milliseconds(4),
            .watchdog = absl::Minutes(3),
            .watchdog_poll = absl::Milliseconds(5),
            .clock = &clock_,
            .on_backoff = [this](absl::Duration d) {
              absl::MutexLock l(&mu_);
              backoffs_.push_back(d);
            }};
  }
  // Runs the reflector until cond holds, then stops it.
  void RunUntil(Reflector& r, const std::function<bool()>& cond) {
    util::Cancellation stop;
    std::thread t([&] { r.Run(stop); });
    EXPECT_TRUE(WaitUntil(cond)) << ::testing::PrintToString(sink_.Log());
    stop.Cancel();
    t.join();
  }

  testing_support::FakeClock clock_;
  testing_support::MockListerWatcher lw_;
  RecordingSink sink_;
  absl::Mutex mu_;
  std::vector<absl::Duration> backoffs_;
};

TEST_F(ReflectorTest, ListsAllPagesThenWatchesFromTheListVersion) {
  EXPECT_CALL(lw_, List(Field(&kube::ListOptions::limit, 2)))
      .WillOnce(Return(ListOf("10", {Obj("n", "a", "3"), Obj("n", "b", "4")}, "tok")))
      .WillOnce(Return(ListOf("10", {Obj("n", "c", "5")})));
  EXPECT_CALL(lw_, Watch(Field(&kube::WatchOptions::resource_version, "10"), _, _))
      .WillOnce(Invoke(StreamThenBlock({Event(Type::kAdded, Obj("n", "d", "11"))})));
  Reflector r(&lw_, &sink_, Options());
  RunUntil(r, [&] { return sink_.Log().size() == 2; });
  EXPECT_THAT(sink_.Log(), ::testing::ElementsAre("replace:a,b,c,", "ADDED:d"));
  EXPECT_TRUE(r.HasSynced());
  EXPECT_EQ(r.LastResourceVersion(), "11");
}

TEST_F(ReflectorTest, WatchTimeoutIsRandomisedBetweenFiveAndTenMinutes) {
  std::vector<int> timeouts;
  EXPECT_CALL(lw_, List(_)).WillOnce(Return(ListOf("1", {})));
  EXPECT_CALL(lw_, Watch(_, _, _))
      .Times(::testing::AtLeast(20))
      .WillRepeatedly(Invoke([&](const kube::WatchOptions& o, util::Cancellation&,
                                 absl::FunctionRef<bool(kube::WatchEvent)> on_event) {
        timeouts.push_back(o.timeout_seconds);
        on_event(Event(Type::kBookmark, Obj("", "", "2")));  // not empty: no backoff
        return absl::OkStatus();
      }));
  Reflector r(&lw_, &sink_, Options());
  RunUntil(r, [&] { return r.Stats().watches >= 20; });
  for (int t : timeouts) {
    EXPECT_GE(t, 300);
    EXPECT_LT(t, 600);
  }
  EXPECT_GT(*std::max_element(timeouts.begin(), timeouts.end()),
            *std::min_element(timeouts.begin(), timeouts.end()));
}

TEST_F(ReflectorTest, BookmarkAdvancesTheResumeVersion) {
  EXPECT_CALL(lw_, List(_)).WillOnce(Return(ListOf("10", {})));
  EXPECT_CALL(lw_, Watch(Field(&kube::WatchOptions::resource_version, "10"), _, _))
      .WillOnce(Invoke(Returns({Event(Type::kBookmark, Obj("", "", "42"))}, absl::OkStatus())));
  EXPECT_CALL(lw_, Watch(Field(&kube::WatchOptions::resource_version, "42"), _, _))
      .WillOnce(Invoke(StreamThenBlock({})));
  Reflector r(&lw_, &sink_, Options());
  RunUntil(r, [&] { return r.Stats().watches == 2; });
  EXPECT_EQ(r.Stats().bookmarks, 1);
  EXPECT_EQ(sink_.Log().size(), 1u);  // the bookmark is not an event
}

TEST_F(ReflectorTest, GoneRelistsFromLastVersionThenAfresh) {
  ::testing::InSequence seq;
  EXPECT_CALL(lw_, List(Field(&kube::ListOptions::resource_version, "")))
      .WillOnce(Return(ListOf("10", {Obj("n", "a", "1"), Obj("n", "b", "2")})));
  EXPECT_CALL(lw_, Watch(_, _, _))
      .WillOnce(Invoke(Returns({Event(Type::kModified, Obj("n", "a", "12"))},
                               kube::MakeApiError({.code = 410, .reason = "Expired"}))));
  // Relist from the last version seen; the watch cache has lost it too.
  EXPECT_CALL(lw_, List(::testing::AllOf(
                       Field(&kube::ListOptions::resource_version, "12"),
                       Field(&kube::ListOptions::resource_version_match, "NotOlderThan"))))
      .WillOnce(Return(kube::MakeApiError({.code = 410, .reason = "Expired"})));
  EXPECT_CALL(lw_, List(Field(&kube::ListOptions::resource_version, "")))
      .WillOnce(Return(ListOf("20", {Obj("n", "a", "12"), Obj("n", "c", "19")})));
  EXPECT_CALL(lw_, Watch(Field(&kube::WatchOptions::resource_version, "20"), _, _))
      .WillOnce(Invoke(StreamThenBlock({})));
  Reflector r(&lw_, &sink_, Options());
  RunUntil(r, [&] { return r.Stats().watches == 2; });
  EXPECT_THAT(sink_.Log(), ::testing::ElementsAre("replace:a,b,", "MODIFIED:a", "replace:a,c,"));
  EXPECT_EQ(r.Stats().gone, 2);
  absl::MutexLock l(&mu_);
  EXPECT_TRUE(backoffs_.empty());  // 410 is not a failure to back off from
}

TEST_F(ReflectorTest, TooManyRequestsBacksOffWithoutRelistAndHonoursRetryAfter) {
  EXPECT_CALL(lw_, List(_)).Times(1).WillOnce(Return(ListOf("10", {})));
  EXPECT_CALL(lw_, Watch(_, _, _))
      .WillOnce(Return(kube::MakeApiError(
          {.code = 429, .reason = "TooManyRequests", .retry_after = absl::Milliseconds(20)})))
      .WillOnce(Return(kube::TransportError("connection refused")))
      .WillOnce(Invoke(StreamThenBlock({})));
  Reflector r(&lw_, &sink_, Options());
  RunUntil(r, [&] { return r.Stats().watches == 3; });
  absl::MutexLock l(&mu_);
  ASSERT_EQ(backoffs_.size(), 2u);
  EXPECT_EQ(backoffs_[0], absl::Milliseconds(20));
  EXPECT_LE(backoffs_[1], absl::Milliseconds(4));
}

TEST_F(ReflectorTest, ListFailuresBackOffWithGrowingJitteredDelays) {
  Reflector r(&lw_, &sink_, [&] {
    auto o = Options();
    o.backoff_initial = absl::Microseconds(800);
    o.backoff_cap = absl::Microseconds(30000);
    return o;
  }());
  ::testing::InSequence seq;
  EXPECT_CALL(lw_, List(_)).Times(7).WillRepeatedly(Return(kube::TransportError("refused")));
  EXPECT_CALL(lw_, List(_)).WillOnce(Return(ListOf("1", {})));
  EXPECT_CALL(lw_, Watch(_, _, _)).WillOnce(Invoke(StreamThenBlock({})));
  RunUntil(r, [&] { return r.HasSynced(); });
  absl::MutexLock l(&mu_);
  ASSERT_EQ(backoffs_.size(), 7u);
  // 800 µs doubling, +0..50% jitter, capped at 30 ms.
  absl::Duration base = absl::Microseconds(800);
  for (auto d : backoffs_) {
    EXPECT_GE(d, std::min(base, absl::Microseconds(30000)));
    EXPECT_LE(d, std::min(base * 1.5, absl::Microseconds(30000)));
    base *= 2;
  }
}

TEST_F(ReflectorTest, WatchdogTearsDownASilentStream) {
  EXPECT_CALL(lw_, List(_)).WillOnce(Return(ListOf("10", {})));
  EXPECT_CALL(lw_, Watch(_, _, _))
      .WillOnce(Invoke(StreamThenBlock({})))  // silent: never sends anything
      .WillOnce(Invoke(StreamThenBlock({Event(Type::kAdded, Obj("n", "after", "11"))})));
  Reflector r(&lw_, &sink_, Options());
  util::Cancellation stop;
  std::thread t([&] { r.Run(stop); });
  ASSERT_TRUE(WaitUntil([&] { return r.Watching(); }));
  clock_.Advance(absl::Minutes(2));  // under the deadline: left alone
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(r.Stats().watchdog_restarts, 0);
  clock_.Advance(absl::Minutes(2));  // past it
  EXPECT_TRUE(WaitUntil([&] { return sink_.Log().size() == 2; }));
  EXPECT_EQ(r.Stats().watchdog_restarts, 1);
  EXPECT_EQ(r.Stats().watches, 2);
  stop.Cancel();
  t.join();
}

TEST_F(ReflectorTest, StreamThatClosesAtOnceEmptyIsBackedOff) {
  EXPECT_CALL(lw_, List(_)).WillOnce(Return(ListOf("10", {})));
  EXPECT_CALL(lw_, Watch(_, _, _))
      .WillOnce(Return(absl::OkStatus()))
      .WillOnce(Invoke(StreamThenBlock({})));
  Reflector r(&lw_, &sink_, Options());
  RunUntil(r, [&] { return r.Stats().watches == 2; });
  absl::MutexLock l(&mu_);
  EXPECT_EQ(backoffs_.size(), 1u);
}

class CountingHandler : public EventHandler {
 public:
  void OnAdd(const kube::Object& o) override { Record("add:" + std::string(o.Name())); }
  void OnUpdate(const kube::Object&, const kube::Object& o) override {
    Record("update:" + std::string(o.Name()));
  }
  void OnDelete(const kube::Object& o) override { Record("delete:" + std::string(o.Name())); }
  void Record(std::string s) {
    absl::MutexLock l(&mu);
    seen.push_back(std::move(s));
  }
  std::vector<std::string> Seen() {
    absl::MutexLock l(&mu);
    return seen;
  }
  absl::Mutex mu;
  std::vector<std::string> seen;
};

TEST(InformerTest, HandlersSeeEventsAndRelistTombstones) {
  testing_support::FakeClock clock;
  auto lw = std::make_unique<testing_support::MockListerWatcher>();
  ::testing::InSequence seq;
  EXPECT_CALL(*lw, List(_))
      .WillOnce(Return(ListOf("10", {Obj("n", "a", "1"), Obj("n", "b", "2")})));
  EXPECT_CALL(*lw, Watch(_, _, _))
      .WillOnce(Invoke(Returns(
          {Event(Type::kModified, Obj("n", "a", "11")), Event(Type::kDeleted, Obj("n", "b", "12"))},
          kube::MakeApiError({.code = 410, .reason = "Gone"}))));
  // During the gap: c was created, a was deleted.
  EXPECT_CALL(*lw, List(_)).WillOnce(Return(ListOf("20", {Obj("n", "c", "15")})));
  EXPECT_CALL(*lw, Watch(_, _, _)).WillOnce(Invoke(StreamThenBlock({})));
  Informer inf(std::move(lw), {.reflector = {.name = "t", .clock = &clock}});
  CountingHandler h;
  inf.AddHandler(&h);
  inf.store().AddIndex("namespace", ByNamespace);
  EXPECT_FALSE(inf.HasSynced());
  inf.Start();
  ASSERT_TRUE(WaitUntil([&] { return h.Seen().size() == 6; }))
      << ::testing::PrintToString(h.Seen());
  auto seen = h.Seen();
  std::sort(seen.begin() + 4, seen.end());  // relist deltas come in map order
  EXPECT_THAT(seen, ::testing::ElementsAre(::testing::AnyOf("add:a", "add:b"),
                                           ::testing::AnyOf("add:a", "add:b"), "update:a",
                                           "delete:b", "add:c", "delete:a"));
  EXPECT_TRUE(inf.HasSynced());
  EXPECT_EQ(inf.store().Size(), 1u);
  EXPECT_EQ(inf.store().ByIndex("namespace", "n").size(), 1u);
  EXPECT_FALSE(inf.Stale());
  inf.Stop();
  // Stopped, not watching, silent for longer than stale_after: stale.
  clock.Advance(absl::Minutes(2));
  EXPECT_TRUE(inf.Stale());
}

}  // namespace
}  // namespace informer

namespace informer {
namespace {

// The API server is gone: watch attempts fail at once, again and again. Each
// attempt must not count as contact, or /readyz would stay 200 for as long as
// the retries come faster than stale_after (the e2e test saw 24 s, then
// flapping, before this).
TEST(InformerTest, FailingWatchAttemptsDoNotKeepItFresh) {
  testing_support::FakeClock clock;
  auto lw = std::make_unique<testing_support::MockListerWatcher>();
  std::atomic<int> attempts = 0;
  std::atomic<bool> server_back = false;
  EXPECT_CALL(*lw, List(_)).WillOnce(Return(ListOf("10", {Obj("n", "a", "1")})));
  EXPECT_CALL(*lw, Watch(_, _, _))
      .WillRepeatedly(Invoke([&](const kube::WatchOptions& o, util::Cancellation& cancel,
                                 absl::FunctionRef<bool(kube::WatchEvent)> on_event) {
        ++attempts;
        if (server_back) return StreamThenBlock({})(o, cancel, on_event);
        // As the transport classifies a refused connect.
        return kube::NotSentError("Failed to connect to any resolved endpoint");
      }));
  Informer inf(std::move(lw), {.reflector = {.name = "t",
                                             .backoff_initial = absl::Milliseconds(1),
                                             .backoff_cap = absl::Milliseconds(1),
                                             .clock = &clock},
                               .stale_after = absl::Seconds(10)});
  inf.Start();
  ASSERT_TRUE(WaitUntil([&] { return inf.HasSynced() && attempts > 3; }));
  EXPECT_FALSE(inf.Stale()) << "listed just now";
  // An attempt in flight while the clock jumps took 11 s: as a connect that
  // times out against an unreachable host does. Still not contact.
  clock.Advance(absl::Seconds(11));
  const int before = attempts;
  ASSERT_TRUE(WaitUntil([&] { return attempts > before + 3; }));
  EXPECT_TRUE(inf.Stale()) << "11 s of failed attempts only";
  // The server is back: a watch that stays open a second is contact again.
  server_back = true;
  ASSERT_TRUE(WaitUntil([&] { return inf.reflector().Watching(); }));
  clock.Advance(absl::Seconds(2));
  EXPECT_FALSE(inf.Stale());
  inf.Stop();
}

}  // namespace
}  // namespace informer
