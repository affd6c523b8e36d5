#include "kube/yaml.h"

#include "gtest/gtest.h"

namespace kube {
namespace {

TEST(YamlTest, KubeconfigShapes) {
  auto doc = ParseYaml(R"(apiVersion: v1
# a comment
clusters:
- cluster:
    certificate-authority-data: QUJD   # trailing comment
    server: "https://127.0.0.1:6443"
  name: local
contexts:
  - name: 'it''s'
    context:
      cluster: local
      user: admin
current-context: local
users: []
preferences: {}
)");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ((*doc)["apiVersion"].str(), "v1");
  ASSERT_EQ((*doc)["clusters"].seq.size(), 1u);
  EXPECT_EQ((*doc)["clusters"].seq[0]["cluster"]["server"].str(), "https://127.0.0.1:6443");
  EXPECT_EQ((*doc)["clusters"].seq[0]["cluster"]["certificate-authority-data"].str(), "QUJD");
  EXPECT_EQ((*doc)["clusters"].seq[0]["name"].str(), "local");
  ASSERT_EQ((*doc)["contexts"].seq.size(), 1u);
  EXPECT_EQ((*doc)["contexts"].seq[0]["name"].str(), "it's");
  EXPECT_EQ((*doc)["contexts"].seq[0]["context"]["user"].str(), "admin");
  EXPECT_EQ((*doc)["users"].kind, YamlNode::Kind::kSeq);
  EXPECT_TRUE((*doc)["users"].seq.empty());
  EXPECT_TRUE((*doc)["missing"].IsNull());
}

TEST(YamlTest, DoubleQuotedEscapesAndHashInsideQuotes) {
  auto doc = ParseYaml("a: \"x\\\"y # not a comment\"\nb: plain#nocomment\n");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ((*doc)["a"].str(), "x\"y # not a comment");
  EXPECT_EQ((*doc)["b"].str(), "plain#nocomment");
}

TEST(YamlTest, JsonDocumentsAreAccepted) {
  auto doc = ParseYaml(
      R"({"current-context":"c","clusters":[{"name":"x","cluster":{"server":"s","insecure-skip-tls-verify":true}}]})");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ((*doc)["current-context"].str(), "c");
  EXPECT_EQ((*doc)["clusters"].seq[0]["cluster"]["insecure-skip-tls-verify"].str(), "true");
}

TEST(YamlTest, RejectsWhatItDoesNotUnderstand) {
  for (const char* bad :
       {"a: &anchor x\n", "a: |\n  block\n", "a: x\n---\nb: y\n", "a:\n\tb: tab\n",
        "a: \"unterminated\n", "a: x\na: y\n", "a: b\n  c: d\n", "- a\nb: c\n", "{\"a\": "}) {
    EXPECT_FALSE(ParseYaml(bad).ok()) << bad;
  }
}

TEST(YamlTest, ErrorsNameTheLine) {
  auto doc = ParseYaml("a: 1\nb: 2\nc: &x 3\n");
  ASSERT_FALSE(doc.ok());
  EXPECT_NE(std::string(doc.status().message()).find("line 3"), std::string::npos);
}

}  // namespace
}  // namespace kube
