#include "kube/kubeconfig.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/fake_clock.h"

namespace kube {
namespace {

using ::testing::HasSubstr;

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("kubeconfig-test-", ::testing::UnitTest::GetInstance()->random_seed(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    auto p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }

  std::filesystem::path dir_;
  testing_support::FakeClock clock_;
};

constexpr char kConfig[] = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:16443/
    certificate-authority: ca.crt
- name: other
  cluster:
    server: https://other
    insecure-skip-tls-verify: true
contexts:
- name: dev
  context: {cluster: local, user: admin, namespace: team-a}
users:
- name: admin
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
)";

TEST_F(KubeconfigTest, CurrentContextClusterAndUser) {
  Write("ca.crt", "CA-PEM");
  // The context is a flow mapping: YAML as people write it (issue: it was refused).
  auto c = ParseKubeconfig(kConfig, dir_.string(), &clock_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://127.0.0.1:16443");
  EXPECT_EQ(c->ca_pem, "CA-PEM");
  EXPECT_EQ(c->client_cert_pem, "CERT");
  EXPECT_EQ(c->client_key_pem, "KEY");
  EXPECT_EQ(c->default_namespace, "team-a");
  EXPECT_FALSE(c->insecure_skip_tls_verify);
  EXPECT_EQ(c->token, nullptr);
}

TEST_F(KubeconfigTest, FlowStyleThroughout) {
  auto c = ParseKubeconfig(
      "{apiVersion: v1, kind: Config, current-context: x,\n"
      " clusters: [{name: c, cluster: {server: 'https://flow:6443', insecure-skip-tls-verify: "
      "true}}],\n"
      " contexts: [{name: x, context: {cluster: c, user: u, namespace: \"ns-x\"}}],\n"
      " users: [{name: u, user: {token: abc}}]}\n",
      dir_.string(), &clock_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://flow:6443");
  EXPECT_TRUE(c->insecure_skip_tls_verify);
  EXPECT_EQ(c->default_namespace, "ns-x");
  ASSERT_NE(c->token, nullptr);
  EXPECT_EQ(*c->token->Token(), "abc");
}

// Byte for byte what `kubectl config view -o json --raw` (v1.35) prints.
constexpr char kKubectlJson[] = R"({
    "kind": "Config",
    "apiVersion": "v1",
    "preferences": {},
    "clusters": [
        {
            "name": "local",
            "cluster": {
                "server": "https://127.0.0.1:16443",
                "certificate-authority-data": "Q0EtUEVN"
            }
        }
    ],
    "users": [
        {
            "name": "kube-operator",
            "user": {
                "token": "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"
            }
        }
    ],
    "contexts": [
        {
            "name": "local",
            "context": {
                "cluster": "local",
                "user": "kube-operator",
                "namespace": "kube-operator-e2e"
            }
        }
    ],
    "current-context": "local"
}
)";

TEST_F(KubeconfigTest, JsonAsKubectlPrintsIt) {
  auto c = ParseKubeconfig(kKubectlJson, dir_.string(), &clock_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://127.0.0.1:16443");
  EXPECT_EQ(c->ca_pem, "CA-PEM");
  EXPECT_EQ(c->default_namespace, "kube-operator-e2e");
  ASSERT_NE(c->token, nullptr);
  EXPECT_EQ(*c->token->Token(), "eyJhbGciOiJSUzI1NiJ9.e30.c2ln");
  // The same written by Windows tools: UTF-8 with a byte-order mark, and
  // UTF-16LE with one (PowerShell 5's `kubectl config view -o json > file`).
  const std::string json = kKubectlJson;
  auto bom = ParseKubeconfig("\xEF\xBB\xBF" + json, dir_.string(), &clock_);
  ASSERT_TRUE(bom.ok()) << bom.status();
  EXPECT_EQ(bom->server, "https://127.0.0.1:16443");
  std::string utf16 = "\xFF\xFE";
  for (char ch : json) utf16.append({ch, '\0'});
  auto wide = ParseKubeconfig(utf16, dir_.string(), &clock_);
  ASSERT_TRUE(wide.ok()) << wide.status();
  EXPECT_EQ(wide->server, "https://127.0.0.1:16443");
  EXPECT_EQ(*wide->token->Token(), "eyJhbGciOiJSUzI1NiJ9.e30.c2ln");
  // JSON's true is YAML's true.
  std::string insecure = kKubectlJson;
  insecure.insert(insecure.find("\"certificate-authority-data\""),
                  "\"insecure-skip-tls-verify\": true,\n                ");
  auto d = ParseKubeconfig(insecure, dir_.string(), &clock_);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->insecure_skip_tls_verify);
}

TEST_F(KubeconfigTest, AnchorsAliasesAndMergeKeys) {
  auto c = ParseKubeconfig(R"(current-context: x
clusters:
- name: c
  cluster: &base
    server: https://anchored
    certificate-authority-data: Q0EtUEVN
- name: d
  cluster:
    <<: *base
    server: https://merged
contexts:
- name: x
  context: {cluster: d, user: &who u}
users:
- name: *who
  user: {token: t}
)",
                           dir_.string(), &clock_);
  ASSERT_TRUE(c.ok()) << c.status();
  // Explicit keys win over merged ones; the rest comes from the anchor.
  EXPECT_EQ(c->server, "https://merged");
  EXPECT_EQ(c->ca_pem, "CA-PEM");
  EXPECT_EQ(*c->token->Token(), "t");
}

TEST_F(KubeconfigTest, BlockScalars) {
  // PEM data wrapped over lines (Go's base64 skips newlines) and a folded token.
  auto c = ParseKubeconfig(R"(current-context: x
clusters:
- name: c
  cluster:
    server: https://s
    certificate-authority-data: |
      LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkFC
      Q0QKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=
contexts:
- name: x
  context:
    cluster: c
    user: u
users:
- name: u
  user:
    token: >-
      folded
      token
)",
                           dir_.string(), &clock_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->ca_pem, "-----BEGIN CERTIFICATE-----\nABCD\n-----END CERTIFICATE-----\n");
  EXPECT_EQ(*c->token->Token(), "folded token");
}

TEST_F(KubeconfigTest, OnlyTheFirstDocumentCounts) {
  auto c = ParseKubeconfig(R"(---
current-context: x
contexts: [{name: x, context: {cluster: c}}]
clusters: [{name: c, cluster: {server: https://first}}]
---
current-context: y
clusters: [{name: c, cluster: {server: https://second}}]
)",
                           dir_.string(), &clock_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://first");
}

TEST_F(KubeconfigTest, WhatAKubeconfigCannotMeanIsNamed) {
  auto message = [&](const std::string& text) {
    auto c = ParseKubeconfig(text, dir_.string(), &clock_);
    EXPECT_FALSE(c.ok()) << text;
    return std::string(c.status().message());
  };
  const std::string ctx = "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n";
  EXPECT_THAT(message(ctx + "clusters: [{name: c, cluster: {insecure-skip-tls-verify: true}}]\n"),
              HasSubstr("cluster 'c' has no server"));
  EXPECT_THAT(message(ctx + "clusters: {c: {server: https://s}}\n"),
              HasSubstr("clusters: expected a list"));
  EXPECT_THAT(message(ctx + "clusters: [{name: c, cluster: {server: [a, b]}}]\n"),
              HasSubstr("clusters[0].cluster.server: expected a string"));
  EXPECT_THAT(message(ctx + "clusters: [{name: c, cluster: {server: https://a}},\n"
                            "           {name: c, cluster: {server: https://b}}]\n"),
              HasSubstr("duplicate name 'c'"));
  // Syntax errors carry yaml-cpp's line and column (1-based).
  EXPECT_THAT(message("current-context: x\nclusters: [\n  {name: c\n"), HasSubstr("line "));
  EXPECT_THAT(message("a: b\n c: d: e\n"), HasSubstr("line 2"));
  EXPECT_THAT(message(""), HasSubstr("empty"));
  EXPECT_THAT(message("just a string\n"), HasSubstr("expected a mapping"));
}

TEST_F(KubeconfigTest, InsecureOnlyWhenExplicit) {
  auto c = ParseKubeconfig(R"(current-context: x
contexts:
- name: x
  context:
    cluster: other
clusters:
- name: other
  cluster:
    server: https://other
    insecure-skip-tls-verify: true
)",
                           dir_.string(), &clock_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->insecure_skip_tls_verify);
  auto d = ParseKubeconfig(R"(current-context: x
contexts:
- name: x
  context:
    cluster: other
clusters:
- name: other
  cluster:
    server: https://other
    insecure-skip-tls-verify: "yes please"
)",
                           dir_.string(), &clock_);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->insecure_skip_tls_verify);
}

TEST_F(KubeconfigTest, TokenFileIsReReadAfterAMinuteAndAfterInvalidate) {
  std::string token_path = Write("token", "one\n");
  auto c = ParseKubeconfig(absl::StrCat(R"(current-context: x
contexts:
- name: x
  context:
    cluster: c
    user: u
clusters:
- name: c
  cluster:
    server: https://s
users:
- name: u
  user:
    tokenFile: token
)"),
                           dir_.string(), &clock_);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_NE(c->token, nullptr);
  EXPECT_EQ(*c->token->Token(), "one");
  Write("token", "two");
  EXPECT_EQ(*c->token->Token(), "one");  // cached
  clock_.Advance(absl::Seconds(61));
  EXPECT_EQ(*c->token->Token(), "two");
  Write("token", "three");
  c->token->Invalidate();  // a 401
  EXPECT_EQ(*c->token->Token(), "three");
}

TEST_F(KubeconfigTest, MissingPiecesAreNamed) {
  auto no_ctx = ParseKubeconfig("current-context: nope\ncontexts: []\n", "", &clock_);
  ASSERT_FALSE(no_ctx.ok());
  EXPECT_NE(std::string(no_ctx.status().message()).find("no context named 'nope'"),
            std::string::npos);
  auto no_current = ParseKubeconfig("clusters: []\n", "", &clock_);
  EXPECT_FALSE(no_current.ok());
  auto bad_b64 = ParseKubeconfig(R"(current-context: x
contexts:
- name: x
  context:
    cluster: c
clusters:
- name: c
  cluster:
    server: https://s
    certificate-authority-data: "%%%"
)",
                                 "", &clock_);
  ASSERT_FALSE(bad_b64.ok());
  EXPECT_NE(std::string(bad_b64.status().message()).find("base64"), std::string::npos);
  auto exec = ParseKubeconfig(R"(current-context: x
contexts:
- name: x
  context:
    cluster: c
    user: u
clusters:
- name: c
  cluster:
    server: https://s
users:
- name: u
  user:
    auth-provider:
      name: gcp
)",
                              "", &clock_);
  ASSERT_FALSE(exec.ok());
  EXPECT_EQ(exec.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(exec.status().message()), HasSubstr("auth-provider"));
}

TEST_F(KubeconfigTest, SourcesInClientGoOrder) {
  std::string flag_path = Write("flag", R"(current-context: x
contexts:
- name: x
  context:
    cluster: c
clusters:
- name: c
  cluster:
    server: https://from-flag
)");
  std::string env_path = Write("env", R"(current-context: x
contexts:
- name: x
  context:
    cluster: c
clusters:
- name: c
  cluster:
    server: https://from-env
)");
  std::filesystem::create_directories(dir_ / "sa");
  Write("sa/token", "sa-token");
  Write("sa/ca.crt", "SA-CA");
  Write("sa/namespace", "operators");

  ConfigSources s{.kubeconfig_flag = flag_path,
                  .kubeconfig_env = env_path + ":/nonexistent",
                  .service_host = "10.0.0.1",
                  .service_port = "443",
                  .service_account_dir = (dir_ / "sa").string()};
  EXPECT_EQ(LoadRestConfig(s, &clock_)->server, "https://from-flag");
  s.kubeconfig_flag.clear();
  EXPECT_EQ(LoadRestConfig(s, &clock_)->server, "https://from-env");
  s.kubeconfig_env.clear();
  auto in = LoadRestConfig(s, &clock_);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->server, "https://10.0.0.1:443");
  EXPECT_EQ(in->ca_pem, "SA-CA");
  EXPECT_EQ(in->default_namespace, "operators");
  EXPECT_EQ(*in->token->Token(), "sa-token");
  s.service_host = "fd00::1";
  EXPECT_EQ(LoadRestConfig(s, &clock_)->server, "https://[fd00::1]:443");
  s.service_host.clear();
  s.home = dir_.string();
  auto none = LoadRestConfig(s, &clock_);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  std::filesystem::create_directories(dir_ / ".kube");
  std::filesystem::copy_file(flag_path, dir_ / ".kube" / "config");
  EXPECT_EQ(LoadRestConfig(s, &clock_)->server, "https://from-flag");
}

TEST_F(KubeconfigTest, HostileInputIsRefusedQuickly) {
  auto message = [&](const std::string& text) {
    auto c = ParseKubeconfig(text, dir_.string(), &clock_);
    EXPECT_FALSE(c.ok());
    return std::string(c.status().message());
  };
  // A mapping that merges itself.
  EXPECT_THAT(message("current-context: x\nclusters: [{name: c, cluster: &x {<<: *x}}]\n"),
              HasSubstr("no context named 'x'"));
  // Two merge keys, the first naming the mapping itself (found by fuzzing: a
  // heap-use-after-free while yaml-cpp's Node::operator= rebound the tree).
  EXPECT_THAT(message("current-context: x\nclusters: [{name: c, cluster: &b {<<: *b, <<: {}}}]\n"),
              HasSubstr("no context named 'x'"));
  // One large mapping named many times: 2,000 users of 10,000 keys each.
  std::string big = "big: &b {";
  for (int i = 0; i < 10000; ++i) absl::StrAppend(&big, "k", i, ": v, ");
  big += "}\nusers: [";
  for (int i = 0; i < 2000; ++i) absl::StrAppend(&big, "{name: u", i, ", user: *b}, ");
  big += "]\n";
  EXPECT_THAT(message(big), HasSubstr("aliases repeat too much"));
  EXPECT_THAT(message(std::string(17 << 20, '#')), HasSubstr("allowed"));
  // A file named by the kubeconfig is read up to the same bound.
  EXPECT_THAT(message("current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
                      "clusters: [{name: c, cluster: {server: https://s, "
                      "certificate-authority: /dev/zero}}]\n"),
              HasSubstr("/dev/zero: more than"));
  // yaml-cpp's own exceptions come back as errors.
  EXPECT_THAT(message("current-context: *nowhere\n"), HasSubstr("line 1"));
  std::string deep(10000, '[');
  EXPECT_THAT(message(deep), HasSubstr("invalid YAML"));
}

TEST_F(KubeconfigTest, AThousandClustersUsersAndContextsAreWithinTheBounds) {
  // Far larger than real kubeconfigs (Rancher's have tens of clusters): the
  // bounds on work and size that stop hostile input leave it alone.
  const std::string pem = std::string(1600, 'Q');  // a certificate's base64
  std::string text = "current-context: ctx-999\nclusters:\n";
  for (int i = 0; i < 1000; ++i)
    absl::StrAppend(&text, "- name: c", i, "\n  cluster:\n    server: https://c", i,
                    ":6443\n    certificate-authority-data: ", pem, "\n");
  text += "users:\n";
  for (int i = 0; i < 1000; ++i)
    absl::StrAppend(&text, "- name: u", i, "\n  user:\n    client-certificate-data: ", pem,
                    "\n    client-key-data: ", pem, "\n");
  text += "contexts:\n";
  for (int i = 0; i < 1000; ++i)
    absl::StrAppend(&text, "- name: ctx-", i, "\n  context: {cluster: c", i, ", user: u", i,
                    ", namespace: ns}\n");
  auto c = ParseKubeconfig(text, dir_.string(), &clock_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://c999:6443");
  EXPECT_GT(text.size(), 4'000'000u);
}

// $KUBECONFIG as a list, merged by client-go's rules (clientcmd/loader.go).
class KubeconfigListTest : public KubeconfigTest {
 protected:
  void SetUp() override {
    KubeconfigTest::SetUp();
    std::filesystem::create_directories(dir_ / "a");
    std::filesystem::create_directories(dir_ / "b");
    std::filesystem::create_directories(dir_ / "c");
    Write("a/ca.crt", "CA-A");
    Write("a/token", "token-a");
    Write("b/ca.crt", "CA-B");
    Write("b/token", "token-b");
    a_ = Write("a/config", R"(current-context: from-a
clusters:
- name: shared
  cluster:
    server: https://a
    certificate-authority: ca.crt
users:
- name: ua
  user:
    tokenFile: token
)");
    b_ = Write("b/config", R"(current-context: from-b
clusters:
- name: shared
  cluster:
    server: https://b
- name: only-b
  cluster:
    server: https://only-b
    certificate-authority: ca.crt
contexts:
- name: from-a
  context:
    cluster: shared
    user: ua
    namespace: na
- name: from-b
  context:
    cluster: only-b
    user: ub
users:
- name: ua
  user:
    token: from-b-file
- name: ub
  user:
    tokenFile: token
)");
    // Sets no current-context: the next file's counts.
    c_ = Write("c/config", R"(users:
- name: ub
  user:
    token: ub-from-c
)");
  }
  absl::StatusOr<RestConfig> Load(const std::string& list) {
    return LoadRestConfig(ConfigSources{.kubeconfig_env = list}, &clock_);
  }

  std::string a_, b_, c_;
};

TEST_F(KubeconfigListTest, FirstFileWinsPerNameAndPathsResolvePerFile) {
  auto c = Load(absl::StrCat((dir_ / "missing").string(), ":", a_, ":", b_));
  ASSERT_TRUE(c.ok()) << c.status();
  // current-context from a; the context itself only b defines; cluster
  // `shared` and user `ua` are a's (b's entries of the same name lose whole).
  EXPECT_EQ(c->server, "https://a");
  EXPECT_EQ(c->ca_pem, "CA-A");  // a's relative path, against a's directory
  EXPECT_EQ(c->default_namespace, "na");
  ASSERT_NE(c->token, nullptr);
  EXPECT_EQ(*c->token->Token(), "token-a");
}

TEST_F(KubeconfigListTest, OrderDecidesAndRelativePathsFollowTheirFile) {
  auto c = Load(absl::StrCat(b_, ":", a_));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://only-b");
  EXPECT_EQ(c->ca_pem, "CA-B");
  EXPECT_EQ(*c->token->Token(), "token-b");
}

TEST_F(KubeconfigListTest, CurrentContextFromTheFirstFileThatSetsIt) {
  auto c = Load(absl::StrCat(c_, "::", b_, ":", a_));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://only-b");      // from-b: c sets none
  EXPECT_EQ(*c->token->Token(), "ub-from-c");  // c defines ub first
}

TEST_F(KubeconfigListTest, FlagIsOneFileNeverMerged) {
  auto c = LoadRestConfig(ConfigSources{.kubeconfig_flag = a_, .kubeconfig_env = b_}, &clock_);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("no context named 'from-a'"));
  EXPECT_THAT(std::string(c.status().message()), HasSubstr(a_));
}

TEST_F(KubeconfigListTest, NoFileOfTheListExists) {
  auto c = Load(absl::StrCat((dir_ / "x").string(), ":", (dir_ / "y").string()));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("KUBECONFIG"));
}

TEST_F(KubeconfigListTest, ABrokenFileIsAnErrorNamingIt) {
  const std::string broken = Write("broken", "clusters: [\n");
  auto c = Load(absl::StrCat(a_, ":", broken, ":", b_));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr(broken));
}

}  // namespace
}  // namespace kube
