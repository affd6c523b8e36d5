// Tenant input refused at admission (docs/contract.md, "Bounds"): the CRDs
// (scripts/gen-crds.py) bound every string, list and map and refuse, with CEL
// rules, what the operator must never act on — a probe's host, a secretKeyRef
// to a Secret that is not the tenant's, git@host without a colon, an
// installation id that is not a number. The web app's POST (and its PUT of a
// Project) gets a 422 naming the field instead of an object the operator
// later fails, or a field silently pruned. Nothing here needs the operator:
// the API server alone answers.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/v1alpha1/bounds.h"
#include "api/v1alpha1/resources.h"
#include "e2e/catalyst_client.h"
#include "e2e/harness.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"
#include "rapidjson/document.h"
#include "rapidjson/pointer.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "support/catalyst.h"

namespace e2e {
namespace {

namespace bounds = v1alpha1::bounds;

// json with the JSON value `value` at the JSON pointer `at` (RFC 6901).
std::string With(const std::string& json, const char* at, const std::string& value) {
  rapidjson::Document doc, v(&doc.GetAllocator());
  doc.Parse(json.c_str());
  v.Parse(value.c_str());
  EXPECT_FALSE(doc.HasParseError() || v.HasParseError()) << at;
  rapidjson::Pointer(at).Set(doc, v);
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> w(out);
  doc.Accept(w);
  return out.GetString();
}

std::string Quoted(const std::string& s) { return absl::StrCat("\"", s, "\""); }

// An API server answer: a 422 (Invalid) whose message contains every part.
void ExpectRefused(const absl::Status& s, const std::vector<std::string>& parts) {
  const std::optional<kube::ApiError> e = kube::GetApiError(s);
  ASSERT_TRUE(e.has_value()) << "admitted, or no answer: " << s;
  EXPECT_EQ(e->code, 422) << s;
  EXPECT_TRUE(kube::apierrors::IsInvalid(s)) << s;
  for (const std::string& part : parts)
    EXPECT_TRUE(absl::StrContains(e->message, part))
        << "message \"" << e->message << "\" should contain \"" << part << "\"";
}

class AdmissionE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(Kubectl({"apply", "-f", SOURCE_ROOT "/crds/"}).ok());
    // An updated CRD reaches the API server's handlers shortly after it is
    // stored: wait until a probe host is refused (an object admitted by the
    // previous schema is removed again).
    const std::string probe = With(testing_support::EnvironmentJson({.ns = "default"}),
                                   "/spec/config/livenessProbe/httpGet/host", "\"x\"");
    ASSERT_TRUE(WaitFor(absl::Seconds(30), [&] {
      absl::Status s = Admin().Create(v1alpha1::kEnvironments, "default", probe).status();
      if (s.ok()) (void)Admin().Delete(v1alpha1::kEnvironments, "default", "dev-happy-otter-42");
      return kube::apierrors::IsInvalid(s);
    }));
  }

  // The Environment the web app creates (actions/environments.ts) in t's
  // project namespace, with `value` at `at`.
  static absl::Status PostEnvironment(const Team& t, const char* at, const std::string& value) {
    const testing_support::EnvironmentFields f = t.Environment("hostile-" + Random());
    absl::Status s = Admin()
                         .Create(v1alpha1::kEnvironments, f.ns,
                                 With(testing_support::EnvironmentJson(f), at, value))
                         .status();
    if (!s.ok()) {  // and nothing was stored
      EXPECT_TRUE(
          kube::apierrors::IsNotFound(Admin().Get(v1alpha1::kEnvironments, f.ns, f.name).status()));
    }
    return s;
  }
  // The Project sync-project-cr.ts creates in t's team namespace, with `value` at `at`.
  static absl::Status PostProject(const Team& t, const char* at, const std::string& value) {
    return Admin()
        .Create(v1alpha1::kProjects, t.team_ns.name(),
                With(testing_support::ProjectJson(t.Project()), at, value))
        .status();
  }
};

// The web app's own objects pass: the nextjs preset with probes (no host), a
// team secret and the database password by secretKeyRef, an scp-like
// repository URL, a numeric installation id.
TEST_F(AdmissionE2E, TheWebAppsProjectAndEnvironmentAreAccepted) {
  Team t(absl::StrCat("Admission Team ", Random()));
  SyncProject(t.Project("git@github.com:acme/catalyst.git"));
  testing_support::EnvironmentFields e = t.Environment("dev-admitted");
  e.config = With(
      With(
          testing_support::NextjsPresetConfig(), "/env/-",
          R"({"name":"API_KEY","valueFrom":{"secretKeyRef":{"name":"catalyst-secrets","key":"API_KEY"}}})"),
      "/env/-",
      R"({"name":"PGPASSWORD","valueFrom":{"secretKeyRef":{"name":"postgres-credentials","key":"password"}}})");
  CreateEnvironment(e);
  if (HasFailure()) return;
  auto stored = Admin().Get(v1alpha1::kEnvironments, e.ns, e.name);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->Str({"spec", "config", "livenessProbe", "httpGet", "path"}),
            "/api/health/liveness");
  auto project = Admin().Get(v1alpha1::kProjects, t.team_ns.name(), t.ProjectName());
  ASSERT_TRUE(project.ok()) << project.status();
  EXPECT_EQ(project->Str({"spec", "githubInstallationId"}), "12345678");
}

TEST_F(AdmissionE2E, AStringOverItsBoundIsRefused) {
  Team t(absl::StrCat("Admission Team ", Random()));
  ExpectRefused(
      PostEnvironment(t, "/spec/config/env/0/value", Quoted(std::string(bounds::kValue + 1, 'v'))),
      {"spec.config.env[0].value: Too long", absl::StrCat(bounds::kValue)});
  ExpectRefused(
      PostProject(t, "/spec/templates/development/config/image",
                  Quoted(std::string(bounds::kImage + 1, 'i'))),
      {"spec.templates.development.config.image: Too long", absl::StrCat(bounds::kImage)});
}

TEST_F(AdmissionE2E, TooManyEnvEntriesAreRefused) {
  Team t(absl::StrCat("Admission Team ", Random()));
  std::string env = "[";
  for (size_t i = 0; i <= bounds::kEnvItems; ++i)
    absl::StrAppend(&env, i ? "," : "", R"({"name":"V)", i, R"(","value":"x"})");
  env += "]";
  ExpectRefused(PostEnvironment(t, "/spec/config/env", env),
                {"spec.config.env: Too many", absl::StrCat(bounds::kEnvItems)});
}

// (The API server names a map key as .key in schema errors, as [key] in
// those of CEL rules.)

// The kubelet would send a probe with a host from the node's network,
// outside every NetworkPolicy: refused, not pruned, on an Environment and on
// a Project template (also when the web app PUTs a Project it has).
TEST_F(AdmissionE2E, AProbeHostIsRefusedOnAnEnvironmentAndOnAProjectTemplate) {
  Team t(absl::StrCat("Admission Team ", Random()));
  ExpectRefused(
      PostEnvironment(t, "/spec/config/livenessProbe/httpGet/host", Quoted("169.254.169.254")),
      {"spec.config.livenessProbe.httpGet.host: Forbidden",
       "outside the environment's NetworkPolicies"});
  ExpectRefused(PostEnvironment(t, "/spec/config/readinessProbe",
                                R"({"tcpSocket":{"port":10250,"host":"10.0.0.1"}})"),
                {"spec.config.readinessProbe.tcpSocket.host: Forbidden"});
  ExpectRefused(PostProject(t, "/spec/templates/development/config/startupProbe/httpGet/host",
                            Quoted("169.254.169.254")),
                {"spec.templates[development].config.startupProbe.httpGet.host: Forbidden"});

  // updateProjectCR: GET, the new spec, PUT whole.
  SyncProject(t.Project());
  auto existing = Admin().Get(v1alpha1::kProjects, t.team_ns.name(), t.ProjectName());
  ASSERT_TRUE(existing.ok()) << existing.status();
  ExpectRefused(Admin()
                    .Update(v1alpha1::kProjects, t.team_ns.name(), t.ProjectName(),
                            With(existing->Serialize(),
                                 "/spec/templates/deployment/config/readinessProbe/httpGet/host",
                                 Quoted("metadata.google.internal")))
                    .status(),
                {"spec.templates[deployment].config.readinessProbe.httpGet.host: Forbidden"});
}

// git reads git@host/path (no colon before the first '/') as a local path.
TEST_F(AdmissionE2E, GitAtHostWithoutAColonIsRefused) {
  Team t(absl::StrCat("Admission Team ", Random()));
  ExpectRefused(PostEnvironment(t, "/spec/sources/0/repositoryUrl",
                                Quoted("git@github.com/acme/catalyst.git")),
                {"spec.sources[0].repositoryUrl", "without one git reads a local path"});
  ExpectRefused(PostProject(t, "/spec/sources/0/repositoryUrl", Quoted("git@github.com")),
                {"spec.sources[0].repositoryUrl", "git@host needs a colon"});
}

// valueFrom.secretKeyRef reads the tenant's own Secrets only: not the pull
// secret the operator copies from the Project's namespace.
TEST_F(AdmissionE2E, ASecretKeyRefToAnotherSecretIsRefused) {
  Team t(absl::StrCat("Admission Team ", Random()));
  const std::string ref =
      R"({"name":"DOCKER","valueFrom":{"secretKeyRef":{"name":"registry-credentials","key":".dockerconfigjson"}}})";
  ExpectRefused(PostEnvironment(t, "/spec/config/env/-", ref),
                {"spec.config.env[3].valueFrom.secretKeyRef.name",
                 "Secret registry-credentials is not the tenant's"});
  ExpectRefused(PostProject(t, "/spec/templates/deployment/config/initContainers/1/env/-", ref),
                {"spec.templates[deployment].config.initContainers[1].env[1].valueFrom.secretKeyRef."
                 "name"});
}

// The installation id is a path segment of the web app's git-token URL.
TEST_F(AdmissionE2E, AnInstallationIdThatIsNotANumberIsRefused) {
  Team t(absl::StrCat("Admission Team ", Random()));
  ExpectRefused(PostProject(t, "/spec/githubInstallationId", Quoted("../internal/x")),
                {"spec.githubInstallationId"});
}

}  // namespace
}  // namespace e2e
