// The git token the operator asks of the web app for its own clones
// (controllers/environment/git_token.h), end to end: a token of the
// environment namespace's `default` ServiceAccount minted by this control
// plane's TokenRequest API, as the chart's RBAC identity (its ClusterRole's
// `create` on serviceaccounts/token), then GET /api/git-token/<id> of
// tests/webapp/standin.py, which reviews that token and reads the namespace's
// labels and the Project as the web app does. No operator runs here.
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/v1alpha1/resources.h"
#include "controllers/environment/git_token.h"
#include "e2e/catalyst_client.h"
#include "e2e/harness.h"
#include "e2e/operator_process.h"
#include "e2e/webapp_standin.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"
#include "kube/cpprest_transport.h"
#include "kube/kubeconfig.h"
#include "kube/token_source.h"

namespace e2e {
namespace {

namespace fs = std::filesystem;
using kube::resources::kServiceAccounts;

constexpr char kInstallation[] = "12345678";  // testing_support::ProjectJson's

// A client acting as the identity in kubeconfig.
std::unique_ptr<kube::Client> ClientOf(const std::string& kubeconfig) {
  static util::RealClock clock;
  auto config = kube::LoadRestConfig({.kubeconfig_flag = kubeconfig}, &clock);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? NewClient(*config) : nullptr;
}

// An environment namespace of t's project, labelled as the operator labels
// one (docs/contract.md, "Private repositories": the Project's team and name).
std::unique_ptr<TestNamespace> EnvironmentNamespace(const Team& t) {
  auto ns = std::make_unique<TestNamespace>(
      TestNamespace::Exact{}, "e2e-gt-env-" + Random(),
      absl::StrCat(R"("catalyst.dev/team":")", t.team_ns.name(), R"(","catalyst.dev/project":")",
                   t.ProjectName(), R"(","catalyst.dev/namespace-type":"environment",)",
                   R"("app.kubernetes.io/managed-by":"kube-operator")"));
  // The controller-manager gives each new namespace its `default` ServiceAccount.
  EXPECT_TRUE(WaitFor(absl::Seconds(30),
                      [&] { return Admin().Get(kServiceAccounts, ns->name(), "default").ok(); }))
      << "no ServiceAccount default in " << ns->name();
  return ns;
}

class GitTokenE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(Kubectl({"apply", "-f", SOURCE_ROOT "/crds/"}).ok());
    ASSERT_TRUE(WaitFor(absl::Seconds(30), [] {
      return Admin().List(v1alpha1::kProjects, "", {}).ok();
    })) << "the CRDs are not served";
    char tmpl[] = "/tmp/e2e-gittoken.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // A private repository: only the stand-in's tokens read it.
    std::string out;
    ASSERT_EQ(RunCommand(absl::StrCat("git init -q --bare ", dir_, "/git/app.git 2>&1"), &out), 0)
        << out;
    const absl::Status started =
        webapp_.Start(0, {"--git-root", dir_ + "/git"}, dir_ + "/webapp.log");
    ASSERT_TRUE(started.ok()) << started;
    // The operator's identity: the chart's ServiceAccount and ClusterRole.
    auto kubeconfig = ChartIdentityKubeconfig();
    ASSERT_TRUE(kubeconfig.ok()) << kubeconfig.status();
    op_ = ClientOf(*kubeconfig).release();
    ASSERT_NE(op_, nullptr);
    // The web transport as manager.cc makes it: it carries the operator's own
    // token, which each git-token request must replace.
    auto web = kube::NewCpprestTransport(
        {.server = webapp_.url(),
         .token = std::make_shared<kube::StaticTokenSource>(ChartIdentityToken())});
    ASSERT_TRUE(web.ok()) << web.status();
    web_ = web->release();
  }
  static void TearDownTestSuite() {
    delete op_;
    delete web_;
    webapp_.Stop();
    fs::remove_all(dir_);
  }

  static absl::StatusOr<std::string> GitToken(const std::string& ns, const std::string& id) {
    return controllers::GitTokenForNamespace(op_, web_, webapp_.url(), ns, id);
  }
  // Exit code of `git ls-remote` of the private repository with token (none: anonymous).
  static int LsRemote(const std::string& token) {
    // The token reaches git through a credential helper reading the
    // environment, as the operator's clone gives it (chart_render.h).
    const std::string helper =
        R"(!f() { test "$1" = get && echo username=x-access-token && echo "password=$GT"; }; f)";
    std::string out;
    const int rc = RunCommand(
        absl::StrCat("GT='", token, "' GIT_TERMINAL_PROMPT=0 git -c credential.helper= ",
                     token.empty() ? "" : absl::StrCat("-c credential.helper='", helper, "' "),
                     "ls-remote ", webapp_.url(), "/git/app.git 2>&1"),
        &out);
    if (!token.empty()) {
      EXPECT_FALSE(absl::StrContains(out, token)) << "the token in git's output";
    }
    return rc;
  }

  static inline std::string dir_;
  static inline WebAppStandin webapp_;
  static inline kube::Client* op_ = nullptr;
  static inline kube::Transport* web_ = nullptr;
};

TEST_F(GitTokenE2E, TheEnvironmentNamespacesTokenGetsItsProjectsGitToken) {
  Team t("gt-" + Random());
  SyncProject(t.Project());
  const auto env = EnvironmentNamespace(t);

  auto token = GitToken(env->name(), kInstallation);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_FALSE(token->empty());
  // It is the stand-in's: it opens the private repository, which is closed without it.
  EXPECT_EQ(LsRemote(*token), 0);
  EXPECT_NE(LsRemote(""), 0);

  // The mint is the chart's grant: an identity without it is refused.
  auto nobody_kubeconfig = ServiceAccountKubeconfig(env->name(), "nobody");
  ASSERT_TRUE(nobody_kubeconfig.ok()) << nobody_kubeconfig.status();
  auto nobody = ClientOf(*nobody_kubeconfig);
  ASSERT_NE(nobody, nullptr);
  auto refused = controllers::GitTokenForNamespace(nobody.get(), web_, webapp_.url(), env->name(),
                                                   kInstallation);
  EXPECT_TRUE(kube::apierrors::IsForbidden(refused.status())) << refused.status();
  EXPECT_TRUE(
      absl::StrContains(refused.status().message(),
                        absl::StrCat("git token for installation ", kInstallation,
                                     ": no token of ServiceAccount ", env->name(), "/default: ")))
      << refused.status();
}

// The web app's check, unchanged: a namespace whose labels point at another
// team's Project gets only that Project's installation.
TEST_F(GitTokenE2E, ANamespaceOfAnotherTeamIsRefused) {
  Team mine("gt-mine-" + Random()), other("gt-other-" + Random());
  SyncProject(mine.Project());
  SyncProject(other.Project());
  const std::string other_installation = "87654321";
  ASSERT_TRUE(
      Admin()
          .Patch(v1alpha1::kProjects, other.team_ns.name(), other.ProjectName(),
                 kube::PatchType::kMerge,
                 absl::StrCat(R"({"spec":{"githubInstallationId":")", other_installation, R"("}})"))
          .ok());
  const auto env = EnvironmentNamespace(other);

  auto r = GitToken(env->name(), kInstallation);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
  EXPECT_EQ(r.status().message(),
            absl::StrCat("git token for installation ", kInstallation,
                         ": the Catalyst web app refused: not the installation of the Project of "
                         "namespace ",
                         env->name(), " (HTTP 403)"));
  EXPECT_TRUE(GitToken(env->name(), other_installation).ok());

  // A namespace that belongs to no Project: refused alike.
  TestNamespace unlabelled("gt-plain");
  ASSERT_TRUE(WaitFor(absl::Seconds(30), [&] {
    return Admin().Get(kServiceAccounts, unlabelled.name(), "default").ok();
  }));
  EXPECT_EQ(GitToken(unlabelled.name(), kInstallation).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(GitTokenE2E, ATokenTheApiServerDidNotIssueIsUnauthorized) {
  auto r = controllers::FetchGitToken(web_, webapp_.url(), kInstallation, "not-a-token");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "(HTTP 401)")) << r.status();
}

}  // namespace
}  // namespace e2e
