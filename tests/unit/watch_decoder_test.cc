#include "kube/watch_decoder.h"

#include <vector>

#include "gtest/gtest.h"
#include "kube/json_parse.h"

namespace kube {
namespace {

constexpr char kAdded[] =
    R"({"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"a","namespace":"n","resourceVersion":"5"}}})";
constexpr char kBookmark[] =
    R"({"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"9"}}})";

std::vector<WatchEvent> FeedAll(WatchDecoder& d, const std::vector<std::string>& chunks,
                                absl::Status* err) {
  std::vector<WatchEvent> out;
  for (const auto& c : chunks) {
    *err = d.Feed(c, [&](WatchEvent e) {
      out.push_back(std::move(e));
      return true;
    });
    if (!err->ok()) break;
  }
  return out;
}

TEST(WatchDecoderTest, SplitsLinesAcrossArbitraryChunks) {
  const std::string stream = std::string(kAdded) + "\n" + kBookmark + "\r\n\n";
  // Every split point of the stream gives the same two events.
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    WatchDecoder d;
    absl::Status err;
    auto evs = FeedAll(d, {stream.substr(0, cut), stream.substr(cut)}, &err);
    ASSERT_TRUE(err.ok()) << err;
    ASSERT_EQ(evs.size(), 2u) << cut;
    EXPECT_EQ(evs[0].type, WatchEvent::Type::kAdded);
    EXPECT_EQ(evs[0].object.Name(), "a");
    EXPECT_EQ(evs[0].object.Namespace(), "n");
    EXPECT_EQ(evs[0].object.Key(), "n/a");
    EXPECT_EQ(evs[1].type, WatchEvent::Type::kBookmark);
    EXPECT_EQ(evs[1].object.ResourceVersion(), "9");
    EXPECT_EQ(d.pending(), 0u);
  }
}

TEST(WatchDecoderTest, TruncatedLineStaysPending) {
  WatchDecoder d;
  absl::Status err;
  auto evs = FeedAll(d, {std::string(kAdded).substr(0, 20)}, &err);
  EXPECT_TRUE(err.ok());
  EXPECT_TRUE(evs.empty());
  EXPECT_EQ(d.pending(), 20u);
}

TEST(WatchDecoderTest, MalformedLinesAreErrorsThatSayWhy) {
  struct Case {
    std::string line;
    std::string want;
  };
  for (const auto& c : std::vector<Case>{{"{not json}\n", "invalid JSON"},
                                         {"[1,2]\n", "not a JSON object"},
                                         {R"({"type":"EXPLODED","object":{}})"
                                          "\n",
                                          "unknown type"},
                                         {R"({"type":"ADDED"})"
                                          "\n",
                                          "no object"},
                                         {R"({"type":"ADDED","object":"x"})"
                                          "\n",
                                          "no object"}}) {
    WatchDecoder d;
    absl::Status err;
    FeedAll(d, {c.line}, &err);
    EXPECT_EQ(err.code(), absl::StatusCode::kInvalidArgument) << c.line;
    EXPECT_NE(std::string(err.message()).find(c.want), std::string::npos) << err;
  }
}

TEST(WatchDecoderTest, EnormousLineIsRefusedNotBuffered) {
  WatchDecoder d(/*max_line_bytes=*/1024);
  absl::Status err;
  FeedAll(d, {std::string(600, 'x'), std::string(600, 'x')}, &err);
  EXPECT_EQ(err.code(), absl::StatusCode::kResourceExhausted);
  WatchDecoder d2(1024);
  FeedAll(d2, {std::string(2000, 'x') + "\n"}, &err);
  EXPECT_EQ(err.code(), absl::StatusCode::kResourceExhausted);
}

TEST(WatchDecoderTest, HandlerCanStopTheStream) {
  WatchDecoder d;
  int seen = 0;
  const std::string two = std::string(kAdded) + "\n" + kAdded + "\n";
  ASSERT_TRUE(d.Feed(two, [&](WatchEvent) { return ++seen < 1; }).ok());
  EXPECT_EQ(seen, 1);
  ASSERT_TRUE(d.Feed(two, [&](WatchEvent) { return ++seen < 1; }).ok());
  EXPECT_EQ(seen, 1);
}

TEST(WatchDecoderTest, ErrorEventCarriesTheStatus) {
  auto ev = DecodeWatchLine(
      R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old resource version"}})");
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_EQ(ev->type, WatchEvent::Type::kError);
  EXPECT_EQ(ev->object.Int({"code"}), 410);
  EXPECT_EQ(ev->object.Str({"reason"}), "Expired");
}

}  // namespace
}  // namespace kube

namespace kube {
namespace {

TEST(SlimParseTest, DropsManagedFieldsAndLastAppliedOnly) {
  const std::string line =
      R"({"type":"MODIFIED","object":{"kind":"Deployment","metadata":{"name":"web","namespace":"n",
    "managedFields":[{"manager":"kubectl","fieldsV1":{"f:spec":{"f:replicas":{}}}}],
    "annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"big\":true}","keep":"me"},
    "labels":{"managedFields":"is just a label here"}},
    "spec":{"template":{"metadata":{"labels":{"a":"b"}}}},"status":{"readyReplicas":2}}})";
  auto slim = DecodeWatchLine(line, /*slim=*/true);
  ASSERT_TRUE(slim.ok()) << slim.status();
  const Object& o = slim->object;
  EXPECT_EQ(o.Find({"metadata", "managedFields"}), nullptr);
  EXPECT_EQ(o.Annotation("kubectl.kubernetes.io/last-applied-configuration"), "");
  EXPECT_EQ(o.Annotation("keep"), "me");
  EXPECT_EQ(o.Label("managedFields"), "is just a label here");
  EXPECT_EQ(o.Str({"spec", "template", "metadata", "labels", "a"}), "b");
  EXPECT_EQ(o.Int({"status", "readyReplicas"}), 2);
  EXPECT_EQ(o.Name(), "web");
  // The same line, not slim, keeps everything.
  auto full = DecodeWatchLine(line, /*slim=*/false);
  ASSERT_TRUE(full.ok());
  EXPECT_NE(full->object.Find({"metadata", "managedFields"}), nullptr);
  // Slim output equals full output minus the two fields.
  EXPECT_EQ(o.Serialize().find("last-applied"), std::string::npos);
  EXPECT_LT(o.Serialize().size(), full->object.Serialize().size());
}

TEST(SlimParseTest, ListItemsAreSlimmedToo) {
  rapidjson::Document doc;
  auto r = ParseJson(
      doc,
      R"({"items":[{"metadata":{"name":"a","managedFields":[1,[2,{"x":3}]]}},{"metadata":{"name":"b","managedFields":null}}]})",
      true);
  ASSERT_FALSE(r.IsError());
  ASSERT_EQ(doc["items"].Size(), 2u);
  EXPECT_FALSE(doc["items"][0]["metadata"].HasMember("managedFields"));
  EXPECT_FALSE(doc["items"][1]["metadata"].HasMember("managedFields"));
  EXPECT_STREQ(doc["items"][1]["metadata"]["name"].GetString(), "b");
}

TEST(SlimParseTest, MalformedInputIsAnErrorNotACrash) {
  for (const char* bad : {R"({"metadata":{"managedFields":[1,2)", R"({"a":)", "", "[",
                          "{\"metadata\":{\"managedFields\":}}"}) {
    rapidjson::Document doc;
    EXPECT_TRUE(ParseJson(doc, bad, true).IsError()) << bad;
  }
}

}  // namespace
}  // namespace kube
