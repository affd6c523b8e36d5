// Diagnose (diagnosis.h): what a Deployment's pods and ReplicaSets say about
// why it is not ready, as the Environment's status names it.
#include "controllers/environment/diagnosis.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kube/object.h"

namespace controllers {
namespace {

// Between two back-offs a crashing container runs, unready: still failing
// (judged by its restarts and last termination), so the phase does not flap.
TEST(DiagnosisTest, ACrashLoopStaysFailingWhileTheContainerRunsBetweenBackOffs) {
  auto pod = [](absl::string_view cs) {
    return *kube::Object::Parse(
        absl::StrCat(R"({"metadata":{"name":"web-1"},"status":{"containerStatuses":[)", cs, "]}}"));
  };
  const std::string crashed =
      R"("lastState":{"terminated":{"reason":"Error","exitCode":1,
         "message":"npm ERR! missing script: start\n"}})";
  auto waiting = Diagnose({pod(absl::StrCat(R"({"name":"web","restartCount":2,"ready":false,
      "state":{"waiting":{"reason":"CrashLoopBackOff"}},)",
                                            crashed, "}"))});
  auto running = Diagnose({pod(absl::StrCat(R"({"name":"web","restartCount":3,"ready":false,
      "state":{"running":{"startedAt":"2026-01-01T00:00:00Z"}},)",
                                            crashed, "}"))});
  for (const Diagnosis& d : {waiting, running}) {
    EXPECT_EQ(d.severity, Diagnosis::Severity::kFailing);
    EXPECT_EQ(d.reason, "CrashLoopBackOff");
    EXPECT_NE(d.message.find("exit 1"), std::string::npos) << d.message;
    // The termination message (the log tail) names the cause.
    EXPECT_NE(d.message.find("npm ERR! missing script: start"), std::string::npos) << d.message;
  }
  // Ready again: recovered.
  auto ready = Diagnose({pod(absl::StrCat(R"({"name":"web","restartCount":3,"ready":true,
      "state":{"running":{"startedAt":"2026-01-01T00:00:00Z"}},)",
                                          crashed, "}"))});
  EXPECT_EQ(ready.severity, Diagnosis::Severity::kNone);
}

// Exit 137 is a SIGKILL; only the kubelet's reason makes it an OOM kill.
TEST(DiagnosisTest, Exit137IsOomKilledOnlyWhenTheReasonSaysSo) {
  auto with = [](absl::string_view reason) {
    return Diagnose({*kube::Object::Parse(absl::StrCat(
        R"({"metadata":{"name":"p"},"status":{"containerStatuses":[{"name":"web","restartCount":1,
            "ready":false,"lastState":{"terminated":{"exitCode":137,"reason":")",
        reason, R"("}}}]}})"))});
  };
  EXPECT_EQ(with("OOMKilled").reason, "OOMKilled");
  EXPECT_EQ(with("Error").reason, "CrashLoopBackOff");
  EXPECT_EQ(with("Error").message.find("OOM"), std::string::npos);
}

TEST(DiagnosisTest, UnschedulablePodsAndQuotaRefusalsAreFailingAtOnce) {
  auto unschedulable = Diagnose({*kube::Object::Parse(
      R"({"metadata":{"name":"web-1"},"status":{"phase":"Pending","conditions":[
          {"type":"PodScheduled","status":"False","reason":"Unschedulable",
           "message":"0/1 nodes are available: 1 Insufficient cpu."}]}})")});
  EXPECT_EQ(unschedulable.severity, Diagnosis::Severity::kFailing);
  EXPECT_EQ(unschedulable.reason, "Unschedulable");
  EXPECT_NE(unschedulable.message.find("Insufficient cpu"), std::string::npos);
  auto refused = Diagnose(
      {}, {*kube::Object::Parse(
              R"({"metadata":{"name":"web-5d9"},"status":{"conditions":[{"type":"ReplicaFailure",
          "status":"True","reason":"FailedCreate","message":"pods \"web-5d9-x\" is forbidden: exceeded quota: q"}]}})")});
  EXPECT_EQ(refused.severity, Diagnosis::Severity::kFailing);
  EXPECT_EQ(refused.reason, "FailedCreate");
  EXPECT_NE(refused.message.find("exceeded quota"), std::string::npos);
}

TEST(DiagnosisTest, NamesContainerAndCause) {
  auto pod = [](absl::string_view status) {
    return *kube::Object::Parse(
        absl::StrCat(R"({"metadata":{"name":"web-1"},"status":)", status, "}"));
  };
  auto oom = Diagnose({pod(R"({"containerStatuses":[{"name":"web","restartCount":3,
      "state":{"waiting":{"reason":"CrashLoopBackOff"}},"lastState":{"terminated":{"reason":"OOMKilled","exitCode":137}}}]})")});
  EXPECT_EQ(oom.severity, Diagnosis::Severity::kFailing);
  EXPECT_EQ(oom.reason, "OOMKilled");
  EXPECT_NE(oom.message.find("container web"), std::string::npos);
  auto pull = Diagnose({pod(
      R"({"containerStatuses":[{"name":"web","state":{"waiting":{"reason":"ImagePullBackOff","message":"Back-off pulling image \"x\""}}}]})")});
  EXPECT_EQ(pull.reason, "ImagePullBackOff");
  auto hang = Diagnose(
      {pod(R"({"initContainerStatuses":[{"name":"git-clone","state":{"terminated":{"exitCode":0}}},
      {"name":"db-migrate","state":{"running":{"startedAt":"2026-01-01T00:00:00Z"}}}]})")});
  EXPECT_EQ(hang.severity, Diagnosis::Severity::kWaiting);
  EXPECT_NE(hang.message.find("db-migrate"), std::string::npos);
  auto initfail = Diagnose({pod(R"({"initContainerStatuses":[{"name":"npm-install","restartCount":2,
      "state":{"waiting":{"reason":"CrashLoopBackOff"}},"lastState":{"terminated":{"reason":"Error","exitCode":1}}}]})")});
  EXPECT_EQ(initfail.reason, "InitContainerFailing");
  EXPECT_NE(initfail.message.find("npm-install"), std::string::npos);
  EXPECT_EQ(Diagnose({}).severity, Diagnosis::Severity::kNone);
}

}  // namespace
}  // namespace controllers
