// Secrets a failing container prints are not republished (issue 23, item 6):
// the web container of a Ready Environment starts crashing with a log tail
// (the kubelet simulator's kubelet-sim.catalyst.dev/log annotation, reported
// through terminationMessagePolicy FallbackToLogsOnError) that holds the
// Environment's generated postgres password, a URL with userinfo and a GitHub
// token. The Environment's status, its Events and the operator's log name
// the cause and none of the three; the pod keeps the full tail.
#include <signal.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/v1alpha1/resources.h"
#include "e2e/environments.h"
#include "e2e/harness.h"
#include "e2e/operator_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/json_builder.h"

namespace e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace kube::resources;

class RedactionE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { StartSuiteOperator(&op_, "redaction", 28420); }
  static void TearDownTestSuite() { StopSuiteOperator(&op_); }

  static std::string ReadyMessage(const kube::Object& env) {
    if (const auto* conds = env.Find({"status", "conditions"}); conds && conds->IsArray())
      for (const auto& c : conds->GetArray())
        if (kube::StrOf(kube::Member(c, "type")) == "Ready")
          return std::string(kube::StrOf(kube::Member(c, "message")));
    return "";
  }

  static inline std::unique_ptr<OperatorProcess> op_;
};

TEST_F(RedactionE2E, CrashTailInStatusEventsAndLogHasNoSecrets) {
  TestNamespace ns("redact");
  const std::string target = ns.name() + "-pr-1";
  CreateEnv(ns.name(), "pr-1", "a1b2c3d");
  ASSERT_TRUE(WaitFor(absl::Seconds(120), [&] { return Phase(ns.name(), "pr-1") == "Ready"; }))
      << GetEnv(ns.name(), "pr-1").Serialize();

  // The password the operator generated, as the app reads it.
  auto secret = Admin().Get(kSecrets, target, "postgres-credentials");
  ASSERT_TRUE(secret.ok()) << secret.status();
  std::string password;
  ASSERT_TRUE(absl::Base64Unescape(secret->Str({"data", "password"}), &password));
  ASSERT_GE(password.size(), 16u);
  const std::string url_password = "Url-Pw-9876";
  const std::string token = "ghp_aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6";
  const std::string cause = "Error: Cannot find module 'express'";
  const std::string tail =
      absl::StrCat("> web@1.0.0 start\n> node server.js\n", "connecting to postgres with password ",
                   password, "\n", "DATABASE_URL=postgres://admin:", url_password,
                   "@db.internal:5432/app\n", "fetching with ", token, "\n", cause, "\n");

  // The running web pod starts crashing, printing that.
  auto pods = Admin().List(kPods, target, {.label_selector = "app.kubernetes.io/name=web"});
  ASSERT_TRUE(pods.ok()) << pods.status();
  ASSERT_EQ(pods->items.size(), 1u);
  const std::string pod(pods->items[0].Name());
  auto patched = Admin().Patch(
      kPods, target, pod, kube::PatchType::kMerge,
      kube::J::Obj(
          {{"metadata",
            kube::J::Obj({{"annotations",
                           kube::J::Obj({{"kubelet-sim.catalyst.dev/log", tail},
                                         {"kubelet-sim.catalyst.dev/fault", "web=crashloop"}})}})}})
          .Serialize());
  ASSERT_TRUE(patched.ok()) << patched.status();

  // Failed, naming the cause.
  ASSERT_TRUE(WaitFor(absl::Seconds(90), [&] {
    return Phase(ns.name(), "pr-1") == "Failed" &&
           absl::StrContains(ReadyMessage(GetEnv(ns.name(), "pr-1")), cause);
  })) << GetEnv(ns.name(), "pr-1").Serialize();

  // The pod itself keeps the whole tail (for those who may read pods).
  auto crashed = Admin().Get(kPods, target, pod);
  ASSERT_TRUE(crashed.ok());
  EXPECT_THAT(crashed->Serialize(), HasSubstr(password));

  const std::string status = GetEnv(ns.name(), "pr-1").Serialize();
  auto events = Admin().List(kEvents, ns.name(), {.field_selector = "involvedObject.name=pr-1"});
  ASSERT_TRUE(events.ok()) << events.status();
  std::string failed_event;
  std::string all_events;
  for (const kube::Object& e : events->items) {
    absl::StrAppend(&all_events, e.Str({"message"}), "\n");
    if (e.Str({"reason"}) == "Failed") failed_event = std::string(e.Str({"message"}));
  }
  // The operator's line for the phase change.
  std::string log_line;
  ASSERT_TRUE(WaitFor(absl::Seconds(10), [&] {
    for (absl::string_view line : absl::StrSplit(op_->Log(), '\n'))
      if (absl::StrContains(line, "phase changed") &&
          absl::StrContains(line, ns.name() + "/pr-1") &&
          absl::StrContains(line, "Cannot find module"))
        log_line = std::string(line);
    return !log_line.empty();
  })) << op_->Log();
  const std::string log = op_->Log();

  struct Output {
    const char* what;
    const std::string& text;
  };
  for (const Output& out :
       {Output{"status", status}, Output{"Events", all_events}, Output{"operator log", log}}) {
    EXPECT_THAT(out.text, Not(HasSubstr(password))) << out.what;
    EXPECT_THAT(out.text, Not(HasSubstr(url_password))) << out.what;
    EXPECT_THAT(out.text, Not(HasSubstr(token))) << out.what;
  }
  // What is not secret is still there, and where the secrets were is marked.
  for (const Output& out : {Output{"status", status}, Output{"Failed Event", failed_event},
                            Output{"log line", log_line}}) {
    EXPECT_THAT(out.text, HasSubstr("Cannot find module 'express'")) << out.what;
    EXPECT_THAT(out.text, HasSubstr("postgres://[redacted]@db.internal:5432/app")) << out.what;
    EXPECT_THAT(out.text, HasSubstr("password [redacted]")) << out.what;
    EXPECT_THAT(out.text, HasSubstr("fetching with [redacted]")) << out.what;
  }
}

}  // namespace
}  // namespace e2e
