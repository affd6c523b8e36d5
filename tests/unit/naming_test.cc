// TargetNamespace: docs/contract.md, "Names" — the Catalyst web
// app's namespace-utils.ts, byte for byte (it computes the same name to list
// an Environment's pods). Golden values from the web app's own tests and
// from running its code (docs/contract.md).
#include "controllers/environment/naming.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "support/catalyst.h"

namespace controllers {
namespace {

EnvironmentSpec Env(std::string ns, std::string name, std::string team = "",
                    std::string project = "", std::string environment = "") {
  EnvironmentSpec e;
  e.namespace_ = std::move(ns);
  e.name = std::move(name);
  e.team = std::move(team);
  e.project = std::move(project);
  e.environment = std::move(environment);
  return e;
}

bool IsDns1123Label(absl::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

std::string Target(const EnvironmentSpec& e) {
  absl::StatusOr<std::string> ns = TargetNamespace(e);
  EXPECT_TRUE(ns.ok()) << ns.status();
  return ns.ok() ? *ns : "";
}

// namespace-utils.test.ts: sanitizeNamespaceComponent.
TEST(NamingTest, SanitizeAsTheWebApp) {
  const std::pair<const char*, const char*> cases[] = {{"MyTeam", "myteam"},
                                                       {"my_team", "my-team"},
                                                       {"my team", "my-team"},
                                                       {"my/team", "my-team"},
                                                       {"my.team", "my-team"},
                                                       {"my---team", "my-team"},
                                                       {"my___team", "my-team"},
                                                       {"-myteam-", "myteam"},
                                                       {"--myteam--", "myteam"},
                                                       {"My_Team-Name.123", "my-team-name-123"},
                                                       {"", ""},
                                                       {"--..__", ""},
                                                       {"Ünïcode Team", "n-code-team"}};
  for (const auto& [in, want] : cases) EXPECT_EQ(SanitizeNamespaceComponent(in), want) << in;
}

// generateNamespaceWithHash: outputs of the web app's code for these inputs.
TEST(NamingTest, GenerateAsTheWebApp) {
  const std::pair<std::vector<std::string>, const char*> cases[] = {
      {{"my-team", "my-project", "dev"}, "my-team-my-project-dev"},
      {{"team", "", "project"}, "team-project"},
      {{"my-super-long-team-name", "my-super-long-project-name", "feature-very-long-branch-name"},
       "my-super-long-team-name-my-super-long-project-name-featur-f61d3"},
      {{"my-super-long-team", "my-super-long-project", "feature-branch"},
       "my-super-long-team-my-super-long-project-feature-branch"},
      {{"My_Team", "My/Project", "Feature.Branch"}, "my-team-my-project-feature-branch"},
      {{"aaaaa", "aaaaa", "aaaaa", "aaaaa", "aaaaa", "aaaaa", "aaaaa", "aaaaa", "aaaaa", "aaaaa",
        "aaaaa", "aaaaa", "aaaaa", "aaaaa", "aaaaa", "aaaaa", "aaaaa", "aaaaa", "aaaaa", "aaaaa"},
       "aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaa-3723d"},
      {{std::string(30, 'a'), std::string(31, 'b')},
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},
      {{std::string(30, 'a'), std::string(30, 'b'), std::string(30, 'c')},
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbbbbbbbbbbbb-82d78"},
      {{"long-team-name-that-is-quite-lengthy", "long-project-name-that-is-also-quite-lengthy",
        "long-environment-name"},
       "long-team-name-that-is-quite-lengthy-long-project-name-th-b4f86"},
      {{"my-super-long-team-name", "my-super-long-project-name", "feature-branch-name-1"},
       "my-super-long-team-name-my-super-long-project-name-featur-42486"},
      {{"my-super-long-team-name", "my-super-long-project-name", "feature-branch-name-2"},
       "my-super-long-team-name-my-super-long-project-name-featur-707ce"},
      {{"My Team", "My Cool App!", "dev-happy-otter"}, "my-team-my-cool-app-dev-happy-otter"},
      // The issue's example.
      {{"Acme Corporation International", "Customer Portal Frontend", "dev-brave-otter-42"},
       "acme-corporation-international-customer-portal-frontend-d-30fb3"},
      {{"", "--"}, ""},
  };
  for (const auto& [parts, want] : cases) {
    const std::string got = GenerateNamespace({parts.begin(), parts.end()});
    EXPECT_EQ(got, want);
    EXPECT_EQ(got, testing_support::WebAppNamespace(parts)) << "the tests' own copy";
    if (!got.empty()) {
      EXPECT_TRUE(IsDns1123Label(got)) << got;
    }
  }
}

// The issue's example: the three hierarchy labels as the web app sets them.
TEST(NamingTest, LabelFormWhenAllThreeHierarchyLabelsAreSet) {
  EXPECT_EQ(Target(Env("anywhere", "x", "my-team", "my-project", "pr-123")),
            "my-team-my-project-pr-123");
  const std::string ns = Target(Env("p", "dev-brave-otter-42", "acme-corporation-international",
                                    "customer-portal-frontend", "dev-brave-otter-42"));
  EXPECT_EQ(ns.size(), 63u);
  EXPECT_EQ(ns.substr(0, 57), "acme-corporation-international-customer-portal-frontend-d");
  EXPECT_EQ(ns, absl::StrCat(ns.substr(0, 57), "-",
                             HexSha256("acme-corporation-international-customer-portal-frontend-"
                                       "dev-brave-otter-42",
                                       5)));
}

TEST(NamingTest, FallbackFormWhenAHierarchyLabelIsMissing) {
  EXPECT_EQ(Target(Env("my-team-my-project", "pr-123", "my-team", "my-project", "")),
            "my-team-my-project-pr-123");
  EXPECT_EQ(Target(Env("team-a", "preview")), "team-a-preview");
  EXPECT_EQ(Target(Env("Team_A", "PR.42")), "team-a-pr-42");
}

TEST(NamingTest, ErrorOnlyWhenNothingUsableRemains) {
  absl::StatusOr<std::string> ns = TargetNamespace(Env("x", "y", "--", "__", ".."));
  EXPECT_TRUE(absl::IsInvalidArgument(ns.status()));
  EXPECT_NE(ns.status().message().find("no letter or digit"), absl::string_view::npos);
  EXPECT_TRUE(absl::IsInvalidArgument(TargetNamespace(Env("", "")).status()));
  EXPECT_EQ(Target(Env("x", "y", "--", "a", "..")), "a");
}

TEST(NamingTest, TargetFromMetadataAlone) {
  auto env = kube::Object::Parse(
      R"({"metadata":{"name":"dev-x","namespace":"t-p","labels":{"catalyst.dev/team":"t",
          "catalyst.dev/project":"p","catalyst.dev/environment":"dev-x"}},"spec":"not an object"})");
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(*TargetNamespaceOf(*env), "t-p-dev-x");
}

TEST(NamingTest, LabelValues) {
  EXPECT_EQ(SanitizeLabelValue("feature/login"), "feature-login");
  EXPECT_EQ(SanitizeLabelValue("main"), "main");
  EXPECT_EQ(SanitizeLabelValue("-x_y.Z-"), "x_y.Z");
  EXPECT_EQ(SanitizeLabelValue("/"), "");
  const std::string cut = SanitizeLabelValue(std::string(62, 'a') + "/b");
  EXPECT_EQ(cut, std::string(62, 'a'));  // cut to 63, then no '-' at the end
}

// The hash is part of a stored name: it must never change between releases.
TEST(NamingTest, StableAcrossCallsAndReleases) {
  EXPECT_EQ(HexSha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexSha256("abc", 5), "ba781");
}

}  // namespace
}  // namespace controllers
