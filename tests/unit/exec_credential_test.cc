// exec credential plugins (kubeconfig users[].user.exec), driven through the
// kubeconfig as the operator reads it. The plugin is a shell script in a
// temporary directory that counts its runs in a file.
#include "kube/exec_credential.h"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/kubeconfig.h"
#include "kube/object.h"
#include "support/fake_clock.h"

namespace kube {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kV1[] = "client.authentication.k8s.io/v1";
constexpr char kV1beta1[] = "client.authentication.k8s.io/v1beta1";

class ExecPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("exec-plugin-test-", ::testing::UnitTest::GetInstance()->random_seed(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    SetExpiry(clock_.Now() + absl::Hours(1));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(Path(name)) << text;
    return Path(name);
  }
  std::string Read(const std::string& name) const {
    std::ifstream in(Path(name));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // The expirationTimestamp the next runs of the plugin print.
  void SetExpiry(absl::Time t) {
    Write("expiry", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone()));
  }
  // A plugin: counts its run, then runs body (with $n the run number and $d
  // this test's directory).
  std::string Plugin(const std::string& body, const std::string& name = "plugin.sh") {
    std::string path =
        Write(name, absl::StrCat("#!/bin/sh\nd='", dir_.string(), "'\n",
                                 "n=$(( $(cat \"$d/count\" 2>/dev/null || echo 0) + 1 ))\n",
                                 "echo $n > \"$d/count\"\n", body, "\n"));
    chmod(path.c_str(), 0755);
    return path;
  }
  // Prints an ExecCredential of apiVersion `version` with token tok-<run>.
  // Fails while the file `fail` exists.
  std::string TokenPlugin(const std::string& version = kV1) {
    return Plugin(absl::StrCat(
        "if [ -e \"$d/fail\" ]; then echo 'SSO session expired' >&2; exit 1; fi\n",
        R"(printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"tok-%s","expirationTimestamp":"%s"}}\n' )",
        "'", version, R"sh(' "$n" "$(cat "$d/expiry")")sh"));
  }
  int Runs() const {
    int n = 0;
    return absl::SimpleAtoi(Read("count"), &n) ? n : 0;
  }
  // A kubeconfig whose user is `exec:` followed by the given lines (indented
  // under exec).
  std::string Kubeconfig(const std::string& exec) const {
    return absl::StrCat(R"(apiVersion: v1
kind: Config
current-context: x
clusters:
- name: c
  cluster:
    server: https://plugin-test:6443
    certificate-authority-data: Q0EtUEVN
contexts:
- name: x
  context:
    cluster: c
    user: u
users:
- name: u
  user:
    exec:
)",
                        absl::StrReplaceAll(exec, {{"\n", "\n      "}}).insert(0, "      "), "\n");
  }
  absl::StatusOr<RestConfig> Parse(const std::string& exec) {
    return ParseKubeconfig(Kubeconfig(exec), dir_.string(), &clock_);
  }
  // The token source of a kubeconfig with this exec section; fails the test if none.
  std::shared_ptr<TokenSource> Source(const std::string& exec) {
    auto c = Parse(exec);
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok() || c->token == nullptr) {
      ADD_FAILURE() << "no token source";
      return std::make_shared<StaticTokenSource>("");
    }
    return c->token;
  }
  std::string Exec(const std::string& command, const std::string& version = kV1) {
    return absl::StrCat("apiVersion: ", version, "\ncommand: ", command,
                        "\ninteractiveMode: Never");
  }

  std::filesystem::path dir_;
  testing_support::FakeClock clock_;
};

TEST_F(ExecPluginTest, TokenIsCachedUntilShortlyBeforeItsExpiry) {
  auto token = Source(Exec(TokenPlugin()));
  EXPECT_EQ(Runs(), 0);  // parsing runs nothing
  EXPECT_EQ(*token->Token(), "tok-1");
  clock_.Advance(absl::Minutes(59));
  EXPECT_EQ(*token->Token(), "tok-1");  // still valid: no second run
  EXPECT_EQ(Runs(), 1);
  clock_.Advance(absl::Seconds(45));  // 15 s before the expiry: refreshed early
  SetExpiry(clock_.Now() + absl::Hours(1));
  EXPECT_EQ(*token->Token(), "tok-2");
  EXPECT_EQ(*token->Token(), "tok-2");
  EXPECT_EQ(Runs(), 2);
  clock_.Advance(absl::Hours(2));  // long past the expiry
  EXPECT_EQ(*token->Token(), "tok-3");
  EXPECT_EQ(Runs(), 3);
}

TEST_F(ExecPluginTest, AFailedEarlyRefreshKeepsTheTokenUntilItExpires) {
  auto token = Source(Exec(TokenPlugin()));
  EXPECT_EQ(*token->Token(), "tok-1");
  Write("fail", "");
  clock_.Advance(absl::Minutes(59) + absl::Seconds(45));  // in the refresh window
  EXPECT_EQ(*token->Token(), "tok-1");
  EXPECT_EQ(Runs(), 2);
  EXPECT_EQ(*token->Token(), "tok-1");  // not tried again at once
  EXPECT_EQ(Runs(), 2);
  clock_.Advance(absl::Seconds(5));
  EXPECT_EQ(*token->Token(), "tok-1");
  EXPECT_EQ(Runs(), 3);
  clock_.Advance(absl::Seconds(10));  // expired: the plugin's error now
  auto t = token->Token();
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("SSO session expired"));
  std::filesystem::remove(Path("fail"));
  EXPECT_EQ(*token->Token(), "tok-5");
}

TEST_F(ExecPluginTest, NoExpiryMeansValidUntilTheServerRefusesIt) {
  auto token = Source(Exec(Plugin(R"(echo '{"apiVersion":"client.authentication.k8s.io/v1",)"
                                  R"("kind":"ExecCredential","status":{"token":"forever"}}')")));
  EXPECT_EQ(*token->Token(), "forever");
  clock_.Advance(absl::Hours(24 * 365));
  EXPECT_EQ(*token->Token(), "forever");
  EXPECT_EQ(Runs(), 1);
}

TEST_F(ExecPluginTest, InvalidateReExecs) {
  auto token = Source(Exec(TokenPlugin()));
  EXPECT_EQ(*token->Token(), "tok-1");
  clock_.Advance(absl::Minutes(5));
  token->Invalidate();  // the API server answered 401
  EXPECT_EQ(*token->Token(), "tok-2");
  EXPECT_EQ(Runs(), 2);
}

TEST_F(ExecPluginTest, ABurstOfInvalidatesRunsThePluginOnce) {
  auto token = Source(Exec(TokenPlugin()));
  EXPECT_EQ(*token->Token(), "tok-1");
  clock_.Advance(absl::Minutes(5));
  // Every request in flight with the old token comes back 401 at about the
  // same time: one new token serves them all.
  for (int i = 0; i < 5; ++i) {
    token->Invalidate();
    EXPECT_EQ(*token->Token(), "tok-2");
  }
  EXPECT_EQ(Runs(), 2);
}

TEST_F(ExecPluginTest, ConcurrentRequestsShareOneRun) {
  auto token = Source(Exec(TokenPlugin()));
  std::vector<std::thread> threads;
  std::vector<std::string> got(8);
  for (size_t i = 0; i < got.size(); ++i)
    threads.emplace_back([&, i] {
      auto t = token->Token();
      got[i] = t.ok() ? *t : std::string(t.status().message());
    });
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g, "tok-1");
  EXPECT_EQ(Runs(), 1);
}

TEST_F(ExecPluginTest, V1beta1Works) {
  auto token = Source(absl::StrCat("apiVersion: ", kV1beta1, "\ncommand: ", TokenPlugin(kV1beta1)));
  EXPECT_EQ(*token->Token(), "tok-1");
}

TEST_F(ExecPluginTest, ArgsEnvAndExecInfoReachThePlugin) {
  const std::string plugin = Plugin(absl::StrCat(
      R"(printf '%s\n' "$@" > "$d/args"; printf '%s' "$FOO" > "$d/foo"; )",
      R"(printf '%s' "$KUBERNETES_EXEC_INFO" > "$d/info"; )",
      R"(echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",)",
      R"("status":{"token":"t"}}')"));
  auto token = Source(absl::StrCat(Exec(plugin), R"(
args:
- --region
- "eu west"
env:
- name: FOO
  value: bar baz
provideClusterInfo: true)"));
  ASSERT_TRUE(token->Token().ok());
  EXPECT_EQ(Read("args"), "--region\neu west\n");
  EXPECT_EQ(Read("foo"), "bar baz");
  auto info = Object::Parse(Read("info"));
  ASSERT_TRUE(info.ok()) << Read("info");
  EXPECT_EQ(info->Kind(), "ExecCredential");
  EXPECT_EQ(info->ApiVersion(), kV1);
  EXPECT_EQ(info->Str({"spec", "cluster", "server"}), "https://plugin-test:6443");
  EXPECT_EQ(info->Str({"spec", "cluster", "certificate-authority-data"}), "Q0EtUEVN");
  ASSERT_NE(info->Find({"spec", "interactive"}), nullptr);
  EXPECT_TRUE(info->Find({"spec", "interactive"})->IsFalse());
}

TEST_F(ExecPluginTest, ExecInfoWithoutClusterUnlessAskedFor) {
  const std::string plugin = Plugin(absl::StrCat(
      R"(printf '%s' "$KUBERNETES_EXEC_INFO" > "$d/info"; )",
      R"(echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",)",
      R"("status":{"token":"t"}}')"));
  auto token = Source(Exec(plugin));
  ASSERT_TRUE(token->Token().ok());
  auto info = Object::Parse(Read("info"));
  ASSERT_TRUE(info.ok()) << Read("info");
  EXPECT_EQ(info->Find({"spec", "cluster"}), nullptr);
  ASSERT_NE(info->Find({"spec", "interactive"}), nullptr);
  EXPECT_TRUE(info->Find({"spec", "interactive"})->IsFalse());
}

TEST_F(ExecPluginTest, AFailingPluginShowsItsStderrAndTheInstallHint) {
  auto token =
      Source(absl::StrCat(Exec(Plugin("echo 'token expired, run aws sso login' >&2; exit 3")),
                          "\ninstallHint: install the aws CLI from https://aws.amazon.com/cli/"));
  auto t = token->Token();
  ASSERT_FALSE(t.ok());
  const std::string msg(t.status().message());
  EXPECT_THAT(msg, HasSubstr("token expired, run aws sso login"));
  EXPECT_THAT(msg, HasSubstr("exit"));
  EXPECT_THAT(msg, HasSubstr("3"));
  // The hint is for a missing command, as in client-go: a plugin that ran
  // and failed is installed.
  EXPECT_THAT(msg, Not(HasSubstr("install the aws CLI")));
  // Exit 127 is a shell's "command not found": a wrapper script whose tool is
  // missing.
  auto wrapper = Source(absl::StrCat(Exec(Plugin("aws-not-here 2>/dev/null; exit 127")),
                                     "\ninstallHint: install the aws CLI"));
  EXPECT_THAT(std::string(wrapper->Token().status().message()), HasSubstr("install the aws CLI"));
}

TEST_F(ExecPluginTest, AMissingCommandShowsTheInstallHint) {
  auto token =
      Source(absl::StrCat(Exec("no-such-plugin-kube-operator-test"),
                          "\ninstallHint: |\n  install it with\n  apt-get install no-such-plugin"));
  auto t = token->Token();
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("no-such-plugin-kube-operator-test"));
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("apt-get install no-such-plugin"));
}

TEST_F(ExecPluginTest, GarbageOutputIsAClearError) {
  auto token = Source(Exec(Plugin("echo 'this is not json'")));
  auto t = token->Token();
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("ExecCredential"));
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("JSON"));
}

TEST_F(ExecPluginTest, ErrorsNeverShowTheToken) {
  // A credential of another apiVersion than configured, and a truncated one.
  for (
      const char* out :
      {R"({"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"SECRET-TOKEN-1"}})",
       R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"SECRET-TOKEN-1")",
       R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"SECRET-TOKEN-1","expirationTimestamp":"tomorrow"}})"}) {
    Write("out", out);
    auto token = Source(Exec(Plugin("cat \"$d/out\"")));
    auto t = token->Token();
    ASSERT_FALSE(t.ok()) << out;
    EXPECT_THAT(std::string(t.status().message()), Not(HasSubstr("SECRET-TOKEN"))) << out;
  }
}

TEST_F(ExecPluginTest, ClientCertificatesAreNotSupported) {
  Write("out",
        R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",)"
        R"("status":{"clientCertificateData":"-----BEGIN CERTIFICATE-----","clientKeyData":"k"}})");
  auto token = Source(Exec(Plugin("cat \"$d/out\"")));
  auto t = token->Token();
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("clientCertificateData"));
}

TEST_F(ExecPluginTest, WhatTheOperatorCannotDoIsRefusedAtLoad) {
  const std::string plugin = TokenPlugin();
  auto always =
      Parse(absl::StrCat("apiVersion: ", kV1, "\ncommand: ", plugin, "\ninteractiveMode: Always"));
  ASSERT_FALSE(always.ok());
  EXPECT_THAT(std::string(always.status().message()), HasSubstr("interactiveMode"));
  EXPECT_THAT(std::string(always.status().message()), HasSubstr("Always"));
  auto alpha = Parse(Exec(plugin, "client.authentication.k8s.io/v1alpha1"));
  ASSERT_FALSE(alpha.ok());
  EXPECT_THAT(std::string(alpha.status().message()), HasSubstr("v1alpha1"));
  auto no_command = Parse(absl::StrCat("apiVersion: ", kV1));
  ASSERT_FALSE(no_command.ok());
  EXPECT_THAT(std::string(no_command.status().message()), HasSubstr("command"));
  // IfAvailable and Never are fine: there is no terminal either way.
  EXPECT_TRUE(Parse(absl::StrCat("apiVersion: ", kV1, "\ncommand: ", plugin,
                                 "\ninteractiveMode: IfAvailable"))
                  .ok());
}

TEST_F(ExecPluginTest, ARelativeCommandResolvesAgainstTheKubeconfigsDirectory) {
  std::filesystem::create_directories(dir_ / "bin");
  TokenPlugin();
  std::filesystem::rename(Path("plugin.sh"), Path("bin/plugin.sh"));
  const std::string kubeconfig = Write("config", Kubeconfig(Exec("./bin/plugin.sh")));
  auto c = LoadRestConfig(ConfigSources{.kubeconfig_flag = kubeconfig}, &clock_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(*c->token->Token(), "tok-1");  // run once at load (a broken plugin stops the start)
  EXPECT_EQ(Runs(), 1);
}

TEST_F(ExecPluginTest, JsonKubeconfigAsKubectlPrintsIt) {
  // `kubectl config view -o json --raw` (v1.35) of a user made with
  // `kubectl config set-credentials u --exec-command=... --exec-arg=...`.
  const std::string plugin = Plugin(absl::StrCat(
      R"(printf '%s\n' "$@" > "$d/args"; )",
      R"(echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",)",
      R"("status":{"token":"from-json"}}')"));
  auto c = ParseKubeconfig(absl::StrCat(R"({
    "kind": "Config",
    "apiVersion": "v1",
    "clusters": [
        {
            "name": "c",
            "cluster": {
                "server": "https://127.0.0.1:6443",
                "certificate-authority-data": "dm0K"
            }
        }
    ],
    "users": [
        {
            "name": "u",
            "user": {
                "exec": {
                    "command": ")",
                                        plugin, R"(",
                    "args": [
                        "eks",
                        "get-token"
                    ],
                    "env": null,
                    "apiVersion": "client.authentication.k8s.io/v1",
                    "provideClusterInfo": false,
                    "interactiveMode": "Never"
                }
            }
        }
    ],
    "contexts": [
        {
            "name": "x",
            "context": {
                "cluster": "c",
                "user": "u",
                "namespace": "ns"
            }
        }
    ],
    "current-context": "x"
}
)"),
                           dir_.string(), &clock_);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_NE(c->token, nullptr);
  EXPECT_EQ(*c->token->Token(), "from-json");
  EXPECT_EQ(Read("args"), "eks\nget-token\n");
}

// ExecTokenSource itself, for what a kubeconfig cannot set.
TEST_F(ExecPluginTest, AHangingPluginIsKilledAtItsTimeout) {
  // The plugin's child keeps stdout open too: the whole process group goes.
  ExecConfig config{.api_version = kV1,
                    .command = Plugin("sleep 30 & sleep 30"),
                    .user = "u",
                    .timeout = absl::Milliseconds(300)};
  ExecTokenSource source(config, &clock_);
  const absl::Time start = absl::Now();
  auto t = source.Token();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("did not finish within 300ms"));
}

TEST_F(ExecPluginTest, OutputIsBounded) {
  ExecTokenSource source({.api_version = kV1,
                          .command = Plugin("head -c 2000000 /dev/zero; "
                                            "head -c 100000 /dev/zero | tr '\\0' x >&2; exit 1"),
                          .user = "u"},
                         &clock_);
  auto t = source.Token();
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kResourceExhausted);
  ExecTokenSource noisy({.api_version = kV1,
                         .command = Plugin("head -c 100000 /dev/zero | tr '\\0' x >&2; exit 1"),
                         .user = "u"},
                        &clock_);
  auto n = noisy.Token();
  ASSERT_FALSE(n.ok());
  EXPECT_LT(n.status().message().size(), 2000u);
  EXPECT_THAT(std::string(n.status().message()), HasSubstr("xxx..."));
}

TEST_F(ExecPluginTest, ThePluginGetsDefaultSignalsAndNoStdin) {
  // The operator blocks SIGTERM in every thread (its signal thread waits for
  // it); a plugin must not inherit that.
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, &old);
  ExecTokenSource source({.api_version = kV1,
                          .command = Plugin("read line && echo \"read: $line\" >&2; kill -TERM $$; "
                                            "sleep 5"),
                          .user = "u"},
                         &clock_);
  auto t = source.Token();
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("killed by signal 15"));
  EXPECT_THAT(std::string(t.status().message()), Not(HasSubstr("read:")));
}

TEST(ExecCredentialTest, Parse) {
  auto c = ParseExecCredential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",)"
      R"("spec":{"interactive":false},)"
      R"("status":{"token":"t","expirationTimestamp":"2030-01-02T03:04:05.5+01:00"}})",
      kV1);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->token, "t");
  EXPECT_EQ(c->expiry, absl::FromUnixMillis(1893549845500));
  auto null_expiry = ParseExecCredential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",)"
      R"("status":{"token":"t","expirationTimestamp":null}})",
      kV1);
  ASSERT_TRUE(null_expiry.ok()) << null_expiry.status();
  EXPECT_EQ(null_expiry->expiry, absl::InfiniteFuture());
  for (
      const char* bad : {
          R"([])",
          R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"Secret","status":{"token":"t"}})",
          R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential"})",
          R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{}})",
          R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":7}})",
      })
    EXPECT_FALSE(ParseExecCredential(bad, kV1).ok()) << bad;
}

}  // namespace
}  // namespace kube
