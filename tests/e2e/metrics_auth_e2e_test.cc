// The secure metrics endpoint against the real API server (kubebuilder's
// default): the operator, as the chart's ServiceAccount, serves /metrics over
// HTTPS and asks the API server about every bearer token (TokenReview) and
// what it may do (SubjectAccessReview on nonResourceURL /metrics, get). A
// ServiceAccount bound to the chart's metrics-reader ClusterRole reads it, one
// without gets 403, no token 401; the probes stay plain HTTP. With
// --metrics-token-audience, a token minted for another audience gets 401.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "e2e/harness.h"
#include "e2e/operator_process.h"
#include "gtest/gtest.h"

namespace e2e {
namespace {

constexpr int kPortBase = 28400;  // metrics (HTTPS) 28400, probes 28401
constexpr char kNs[] = "kube-operator-e2e";

struct Reply {
  int code = 0;  // 0: nothing answered
  std::string body;
  double seconds = 0;  // curl's time_total: connect, handshake, request, reply
};

// GET https://127.0.0.1:<port><path>, the certificate not verified (it is
// self-signed, as Prometheus' insecureSkipVerify takes it), with a bearer token
// when one is given.
Reply SecureGet(int port, const std::string& path, const std::string& token = "") {
  std::string out;
  const std::string header =
      token.empty() ? "" : absl::StrCat(" -H 'Authorization: Bearer ", token, "'");
  RunCommand(absl::StrCat("curl -sk -m 15", header, " -w '\\n%{http_code} %{time_total}'",
                          " https://127.0.0.1:", port, path),
             &out);
  Reply r;
  const size_t nl = out.rfind('\n');
  if (nl == std::string::npos) return r;
  r.body = out.substr(0, nl);
  std::vector<std::string> last = absl::StrSplit(out.substr(nl + 1), ' ');
  if (last.size() == 2) {
    (void)absl::SimpleAtoi(last[0], &r.code);
    (void)absl::SimpleAtod(last[1], &r.seconds);
  }
  return r;
}

TEST(MetricsAuthE2E, OnlyTheMetricsReaderGetsMetrics) {
  // The chart's identity (its RBAC now includes tokenreviews and
  // subjectaccessreviews create, and the metrics-reader ClusterRole).
  ASSERT_TRUE(ChartIdentityKubeconfig(kNs).ok());
  std::string reader_token, other_token;
  ASSERT_TRUE(ServiceAccountKubeconfig(kNs, "metrics-reader-e2e", &reader_token).ok());
  ASSERT_TRUE(ServiceAccountKubeconfig(kNs, "metrics-nobody-e2e", &other_token).ok());
  ASSERT_FALSE(reader_token.empty());
  ASSERT_FALSE(other_token.empty());
  auto bound = Kubectl({"apply", "-f", "-"}, absl::StrCat(R"(
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: kube-operator-e2e-metrics-reader
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: kube-operator-metrics-reader
subjects:
  - kind: ServiceAccount
    name: metrics-reader-e2e
    namespace: )",
                                                          kNs, "\n"));
  ASSERT_TRUE(bound.ok()) << bound.status();

  OperatorProcess op("metrics-auth", kPortBase, {"--metrics-secure=true"});
  op.Start();
  // The probes are plain HTTP (the kubelet's), and not behind the review.
  ASSERT_TRUE(WaitFor(absl::Seconds(60), [&] { return op.Get("/readyz") == "ok\n 200"; }))
      << op.Get("/readyz") << "\n"
      << op.Log();

  // No token: 401, and the API server was not asked.
  Reply none = SecureGet(kPortBase, "/metrics");
  EXPECT_EQ(none.code, 401) << none.body;
  // A token the API server does not know: 401.
  EXPECT_EQ(SecureGet(kPortBase, "/metrics", "not-a-token").code, 401);
  // A valid token without the role: 403.
  Reply other = SecureGet(kPortBase, "/metrics", other_token);
  EXPECT_EQ(other.code, 403) << other.body;
  EXPECT_TRUE(
      absl::StrContains(other.body, "system:serviceaccount:kube-operator-e2e:metrics-nobody-e2e"))
      << other.body;
  // The metrics reader: 200 with the exposition. The first request asks the
  // API server twice (TokenReview, SubjectAccessReview); the next ones are cached.
  Reply first = SecureGet(kPortBase, "/metrics", reader_token);
  EXPECT_EQ(first.code, 200) << first.body;
  EXPECT_TRUE(absl::StrContains(first.body, "kube_operator_build_info{")) << first.body;
  double cached = 0;
  const int n = 10;
  for (int i = 0; i < n; ++i) {
    Reply r = SecureGet(kPortBase, "/metrics", reader_token);
    EXPECT_EQ(r.code, 200);
    cached += r.seconds;
  }
  std::string probe;
  RunCommand(absl::StrCat("curl -s -o /dev/null -m 5 -w '%{time_total}' http://127.0.0.1:",
                          kPortBase + 1, "/readyz"),
             &probe);
  std::printf(
      "secure /metrics via curl (new connection each): first (TokenReview + SubjectAccessReview) "
      "%.1f ms, cached %.1f ms; plain-HTTP /readyz %.1f ms\n",
      first.seconds * 1e3, cached / n * 1e3, std::strtod(probe.c_str(), nullptr) * 1e3);
  // Plain HTTP to the HTTPS port gets no metrics.
  std::string plain;
  RunCommand(absl::StrCat("curl -s -m 5 http://127.0.0.1:", kPortBase, "/metrics"), &plain);
  EXPECT_FALSE(absl::StrContains(plain, "kube_operator_build_info")) << plain;

  // The reviews the operator sent are counted as its own API requests.
  Reply metrics = SecureGet(kPortBase, "/metrics", reader_token);
  EXPECT_TRUE(absl::StrContains(metrics.body, "rest_client_requests_total{code=\"201\",host="))
      << metrics.body;
  ExpectCleanShutdown(op);
  // No reader token in its log either.
  EXPECT_FALSE(absl::StrContains(op.Log(), reader_token.substr(0, 40)));
  (void)Kubectl(
      {"delete", "clusterrolebinding", "kube-operator-e2e-metrics-reader", "--ignore-not-found"});
}

// --metrics-token-audience: the TokenReview carries spec.audiences, so only a
// token minted for that audience reads /metrics; the same ServiceAccount's
// ordinary token (the API server's audience) is refused with 401.
TEST(MetricsAuthE2E, ATokenForAnotherAudienceIsRefused) {
  constexpr int kAudiencePort = kPortBase + 2;  // metrics 28402, probes 28403
  constexpr char kAudience[] = "kube-operator-metrics";
  ASSERT_TRUE(ChartIdentityKubeconfig(kNs).ok());
  std::string api_token;
  ASSERT_TRUE(ServiceAccountKubeconfig(kNs, "metrics-audience-e2e", &api_token).ok());
  (void)Kubectl(
      {"delete", "clusterrolebinding", "kube-operator-e2e-metrics-audience", "--ignore-not-found"});
  auto bound = Kubectl({"create", "clusterrolebinding", "kube-operator-e2e-metrics-audience",
                        "--clusterrole=kube-operator-metrics-reader",
                        absl::StrCat("--serviceaccount=", kNs, ":metrics-audience-e2e")});
  ASSERT_TRUE(bound.ok()) << bound.status();
  auto minted = Kubectl({"create", "token", "metrics-audience-e2e", "-n", kNs, "--audience",
                         kAudience, "--duration", "3600s"});
  ASSERT_TRUE(minted.ok()) << minted.status();
  const std::string audience_token(absl::StripAsciiWhitespace(*minted));

  OperatorProcess op(
      "metrics-audience", kAudiencePort,
      {"--metrics-secure=true", absl::StrCat("--metrics-token-audience=", kAudience)});
  op.Start();
  ASSERT_TRUE(WaitFor(absl::Seconds(60), [&] { return op.Get("/readyz") == "ok\n 200"; }))
      << op.Get("/readyz") << "\n"
      << op.Log();
  Reply right = SecureGet(kAudiencePort, "/metrics", audience_token);
  EXPECT_EQ(right.code, 200) << right.body;
  EXPECT_TRUE(absl::StrContains(right.body, "kube_operator_build_info{")) << right.body;
  // The same ServiceAccount and role, a token for the API server: 401.
  Reply wrong = SecureGet(kAudiencePort, "/metrics", api_token);
  EXPECT_EQ(wrong.code, 401) << wrong.body;
  ExpectCleanShutdown(op);
  EXPECT_FALSE(absl::StrContains(op.Log(), audience_token.substr(0, 40)));
  (void)Kubectl(
      {"delete", "clusterrolebinding", "kube-operator-e2e-metrics-audience", "--ignore-not-found"});
}

}  // namespace
}  // namespace e2e
