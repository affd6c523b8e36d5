#include "util/log.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "workqueue/work_queue.h"
#include "workqueue/worker_pool.h"

namespace util {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

// A JSON line parsed back, or a test failure naming the line.
rapidjson::Document Parse(const std::string& line) {
  rapidjson::Document d;
  d.Parse(line.data(), line.size());
  EXPECT_FALSE(d.HasParseError()) << "not JSON: " << line;
  EXPECT_TRUE(d.IsObject()) << line;
  return d;
}

// Member lookup by name (RapidJSON 1.1's member iterators are ambiguous under clang's C++20).
const rapidjson::Value* Find(const rapidjson::Document& d, absl::string_view key) {
  if (!d.IsObject()) return nullptr;
  for (const auto& m : d.GetObject())
    if (absl::string_view(m.name.GetString(), m.name.GetStringLength()) == key) return &m.value;
  return nullptr;
}

const rapidjson::Value& Field(const rapidjson::Document& d, absl::string_view key) {
  static const rapidjson::Value kNull;
  const rapidjson::Value* v = Find(d, key);
  if (v == nullptr) ADD_FAILURE() << "no field " << key;
  return v != nullptr ? *v : kNull;
}

std::string JsonLine(std::initializer_list<LogField> fields, absl::string_view msg = "m") {
  return FormatJsonLine(LogLevel::kInfo, "test", msg, fields, "2024-01-02T03:04:05.678Z");
}

TEST(LogJsonTest, ValuesKeepTheirTypes) {
  const int workers = 4;
  const uint64_t huge = std::numeric_limits<uint64_t>::max();
  const std::string line = JsonLine({{"workers", workers},
                                     {"negative", int64_t{-7}},
                                     {"ratio", 0.25},
                                     {"leader", true},
                                     {"clean", false},
                                     {"name", "pr-1"},
                                     {"huge", huge},
                                     {"size", size_t{3}}});
  const rapidjson::Document d = Parse(line);
  EXPECT_EQ(std::string(Field(d, "time").GetString()), "2024-01-02T03:04:05.678Z");
  EXPECT_EQ(std::string(Field(d, "level").GetString()), "info");
  EXPECT_EQ(std::string(Field(d, "logger").GetString()), "test");
  EXPECT_EQ(std::string(Field(d, "msg").GetString()), "m");
  ASSERT_TRUE(Field(d, "workers").IsInt64()) << line;
  EXPECT_EQ(Field(d, "workers").GetInt64(), 4);
  ASSERT_TRUE(Field(d, "negative").IsInt64()) << line;
  EXPECT_EQ(Field(d, "negative").GetInt64(), -7);
  ASSERT_TRUE(Field(d, "ratio").IsDouble()) << line;
  EXPECT_EQ(Field(d, "ratio").GetDouble(), 0.25);
  ASSERT_TRUE(Field(d, "leader").IsBool()) << line;
  EXPECT_TRUE(Field(d, "leader").GetBool());
  EXPECT_FALSE(Field(d, "clean").GetBool());
  ASSERT_TRUE(Field(d, "name").IsString()) << line;
  // Beyond int64: a number still, not a wrapped negative one.
  ASSERT_TRUE(Field(d, "huge").IsNumber()) << line;
  EXPECT_GT(Field(d, "huge").GetDouble(), 1.8e19);
  EXPECT_EQ(Field(d, "size").GetInt64(), 3);
  EXPECT_THAT(line, HasSubstr("\"workers\":4,"));
  EXPECT_THAT(line, HasSubstr("\"leader\":true,"));
}

TEST(LogJsonTest, StringsAreEscaped) {
  const std::string nasty =
      std::string("a \"quote\", a \\ backslash,\nnew line\t\x01 and NUL:") + '\0' + "</script> é €";
  const std::string line = JsonLine({{"value", nasty}, {"key \"quoted\"", "v"}}, nasty);
  EXPECT_EQ(line.find('\n'), std::string::npos) << "one line: " << line;
  const rapidjson::Document d = Parse(line);
  const rapidjson::Value& v = Field(d, "value");
  EXPECT_EQ(std::string(v.GetString(), v.GetStringLength()), nasty);
  const rapidjson::Value& msg = Field(d, "msg");
  EXPECT_EQ(std::string(msg.GetString(), msg.GetStringLength()), nasty);
  EXPECT_EQ(std::string(Field(d, "key \"quoted\"").GetString()), "v");
}

TEST(LogJsonTest, InvalidUtf8IsReplaced) {
  const std::string kFffd = "\xEF\xBF\xBD";
  struct Case {
    std::string in, want;
  } cases[] = {
      {"a\xff\xfe-z", "a" + kFffd + kFffd + "-z"},
      {"\xe2\x82", kFffd + kFffd},                          // cut short at the end
      {"\xc0\xaf", kFffd + kFffd},                          // overlong '/'
      {"\xed\xa0\x80", kFffd + kFffd + kFffd},              // a UTF-16 surrogate
      {"\xf4\x90\x80\x80", kFffd + kFffd + kFffd + kFffd},  // > U+10FFFF
      {"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"},
  };
  for (const Case& c : cases) {
    const std::string line = JsonLine({{"v", c.in}, {c.in, 1}}, c.in);
    const rapidjson::Document d = Parse(line);
    EXPECT_EQ(std::string(Field(d, "v").GetString()), c.want) << line;
    EXPECT_EQ(std::string(Field(d, "msg").GetString()), c.want) << line;
    EXPECT_NE(Find(d, c.want), nullptr) << "key replaced too: " << line;
  }
}

TEST(LogJsonTest, NonFiniteDoublesAreStrings) {
  const std::string line = JsonLine({{"nan", std::nan("")},
                                     {"inf", std::numeric_limits<double>::infinity()},
                                     {"ninf", -std::numeric_limits<double>::infinity()}});
  const rapidjson::Document d = Parse(line);
  EXPECT_EQ(std::string(Field(d, "nan").GetString()), "NaN");
  EXPECT_EQ(std::string(Field(d, "inf").GetString()), "+Inf");
  EXPECT_EQ(std::string(Field(d, "ninf").GetString()), "-Inf");
}

TEST(LogTextTest, ReadableWithQuotingWhereNeeded) {
  const std::string line = FormatTextLine(LogLevel::kWarn, "main", "starting",
                                          {{"workers", 4},
                                           {"leader", true},
                                           {"server", "https://h:6443"},
                                           {"why", "a b=c"},
                                           {"empty", ""},
                                           {"bad", "x\xff"},
                                           {"ratio", 0.5}},
                                          "T");
  EXPECT_EQ(line,
            "T warn main: starting workers=4 leader=true server=https://h:6443 why=\"a b=c\" "
            "empty=\"\" bad=x\xEF\xBF\xBD ratio=0.5");
}

TEST(LogValueTest, ConcatenatesAsText) {
  // Sinks that append fields as text (tests/e2e's LogCapture) keep working.
  const LogField fields[] = {{"a", 1}, {"b", true}, {"c", "x"}, {"d", 1.5}};
  std::string out;
  for (const LogField& f : fields) absl::StrAppend(&out, " ", f.key, "=", f.value);
  EXPECT_EQ(out, " a=1 b=true c=x d=1.5");
}

// Keeps what is logged, and by which thread.
class CaptureSink : public LogSink {
 public:
  struct Line {
    std::string msg;
    std::vector<std::pair<std::string, std::string>> fields;  // values as text
    std::thread::id thread;
  };
  CaptureSink() { SetLogSink(this); }
  ~CaptureSink() override { SetLogSink(nullptr); }
  void Write(LogLevel, absl::string_view, absl::string_view msg,
             absl::Span<const LogField> fields) override {
    Line line{std::string(msg), {}, std::this_thread::get_id()};
    for (const LogField& f : fields) line.fields.emplace_back(f.key, absl::StrCat(f.value));
    std::lock_guard l(mu_);
    lines_.push_back(std::move(line));
  }
  std::vector<Line> lines() {
    std::lock_guard l(mu_);
    return lines_;
  }

 private:
  std::mutex mu_;
  std::vector<Line> lines_;
};

TEST(LogContextTest, FieldsAppearAndVanishWithTheScope) {
  CaptureSink sink;
  Log(LogLevel::kInfo, "t", "before");
  {
    const LogContext outer({{"reconcileID", "r1"}, {"namespace", "ns"}});
    Log(LogLevel::kInfo, "t", "outer", {{"step", 1}});
    {
      const LogContext inner({{"name", "env"}});
      Log(LogLevel::kInfo, "t", "inner");
      // The call's own field wins over the context's.
      Log(LogLevel::kInfo, "t", "override", {{"namespace", "other"}});
    }
    Log(LogLevel::kInfo, "t", "outer again");
    // Another thread does not see this thread's context.
    std::thread([] { Log(LogLevel::kInfo, "t", "elsewhere"); }).join();
  }
  Log(LogLevel::kInfo, "t", "after");
  const auto lines = sink.lines();
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_THAT(lines[0].fields, ElementsAre());
  EXPECT_THAT(lines[1].fields,
              ElementsAre(Pair("reconcileID", "r1"), Pair("namespace", "ns"), Pair("step", "1")));
  EXPECT_THAT(lines[2].fields,
              ElementsAre(Pair("reconcileID", "r1"), Pair("namespace", "ns"), Pair("name", "env")));
  EXPECT_THAT(lines[3].fields, ElementsAre(Pair("reconcileID", "r1"), Pair("name", "env"),
                                           Pair("namespace", "other")));
  EXPECT_THAT(lines[4].fields, ElementsAre(Pair("reconcileID", "r1"), Pair("namespace", "ns")));
  EXPECT_EQ(lines[5].msg, "elsewhere");
  EXPECT_THAT(lines[5].fields, ElementsAre());
  EXPECT_THAT(lines[6].fields, ElementsAre());
}

TEST(LogContextTest, WorkerPoolNamesEachReconcile) {
  CaptureSink sink;
  workqueue::WorkQueue queue(workqueue::WorkQueueOptions{.name = "test"});
  std::mutex mu;
  int done = 0;  // guarded by mu
  absl::Notification all_done;
  workqueue::WorkerPool pool(&queue, 2, [&](const std::string&) {
    Log(LogLevel::kInfo, "reconciler", "reconciling", {{"step", 1}});
    std::lock_guard l(mu);
    if (++done == 3) all_done.Notify();
    return workqueue::ReconcileResult{};
  });
  queue.Add("team-a/pr-1");
  queue.Add("team-b/pr-2");
  queue.Add("cluster-scoped");
  pool.Start();
  ASSERT_TRUE(all_done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  pool.Stop(absl::Seconds(10));

  const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> ids, keys;
  const auto lines = sink.lines();
  ASSERT_EQ(lines.size(), 3u);
  for (const auto& line : lines) {
    ASSERT_GE(line.fields.size(), 3u);  // reconcileID, [namespace,] name, step
    EXPECT_EQ(line.fields[0].first, "reconcileID");
    EXPECT_TRUE(std::regex_match(line.fields[0].second, uuid)) << line.fields[0].second;
    ids.insert(line.fields[0].second);
    std::string key;
    for (const auto& [k, v] : line.fields)
      if (k == "namespace") key = v + "/";
    for (const auto& [k, v] : line.fields)
      if (k == "name") key += v;
    keys.insert(key);
    EXPECT_EQ(line.fields.back(), std::make_pair(std::string("step"), std::string("1")));
  }
  EXPECT_EQ(ids.size(), 3u) << "one reconcileID per reconcile";
  EXPECT_EQ(keys, (std::set<std::string>{"team-a/pr-1", "team-b/pr-2", "cluster-scoped"}));
}

}  // namespace
}  // namespace util
