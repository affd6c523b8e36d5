#include "kube/kubeconfig.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "support/fake_clock.h"

namespace kube {
namespace {

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
  // Flow mappings are not supported; write the context as a block.
  std::string text = kConfig;
  text.replace(text.find("  context: {cluster: local, user: admin, namespace: team-a}"),
               std::string("  context: {cluster: local, user: admin, namespace: team-a}").size(),
               "  context:\n    cluster: local\n    user: admin\n    namespace: team-a");
  auto c = ParseKubeconfig(text, dir_.string(), &clock_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://127.0.0.1:16443");
  EXPECT_EQ(c->ca_pem, "CA-PEM");
  EXPECT_EQ(c->client_cert_pem, "CERT");
  EXPECT_EQ(c->client_key_pem, "KEY");
  EXPECT_EQ(c->default_namespace, "team-a");
  EXPECT_FALSE(c->insecure_skip_tls_verify);
  EXPECT_EQ(c->token, nullptr);
}

TEST_F(KubeconfigTest, FlowMappingIsAClearError) {
  auto c = ParseKubeconfig(kConfig, dir_.string(), &clock_);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("unsupported"), std::string::npos);
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
    exec:
      command: aws
)",
                              "", &clock_);
  ASSERT_FALSE(exec.ok());
  EXPECT_EQ(exec.status().code(), absl::StatusCode::kUnimplemented);
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

}  // namespace
}  // namespace kube
