// Which Environments a watch event concerns (event_mapping.h).
#include "controllers/environment/event_mapping.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "informer/store.h"
#include "support/environment_fixture.h"

namespace controllers {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

kube::Object Obj(const std::string& json) { return *kube::Object::Parse(json); }

// Environment ns/name of team (its label), naming Project project.
kube::Object Env(const std::string& ns, const std::string& name, const std::string& team,
                 const std::string& project) {
  return testing_support::EnvironmentBuilder()
      .Namespace(ns)
      .Name(name)
      .Label("catalyst.dev/team", team)
      .ProjectRef(project)
      .Build();
}

std::vector<std::string> Keys(const KeysOf& keys, const kube::Object& o) {
  std::vector<std::string> out;
  keys(o, out);
  return out;
}

TEST(ProjectNamespacesTest, LooksInTheTeamNamespaceThenTheEnvironmentsOwn) {
  EXPECT_THAT(ProjectNamespaces(Env("my-team-my-project", "pr-1", "My_Team", "my-project")),
              ElementsAre("my-team", "my-team-my-project"));
}

TEST(ProjectNamespacesTest, NoProjectRefLooksNowhere) {
  EXPECT_THAT(ProjectNamespaces(Obj(R"({"metadata":{"name":"e","namespace":"n"},"spec":{}})")),
              IsEmpty());
}

TEST(ProjectNamespacesTest, TeamNamespaceAlsoTheOwnIsListedOnce) {
  EXPECT_THAT(ProjectNamespaces(Env("my-team", "e", "my-team", "p")), ElementsAre("my-team"));
}

TEST(OwnerKeyTest, IsTheEnvironmentAnnotation) {
  EXPECT_EQ(OwnerKey(Obj(R"({"metadata":{"name":"web","namespace":"x",
      "annotations":{"catalyst.dev/environment":"my-team-my-project/pr-123"}}})")),
            "my-team-my-project/pr-123");
  EXPECT_EQ(OwnerKey(Obj(R"({"metadata":{"name":"web","namespace":"x"}})")), "");
}

TEST(DependentsOfTest, AProjectReachesTheEnvironmentsNamingItInItsNamespace) {
  informer::Store envs;
  envs.Upsert(Env("my-team-p", "a", "my-team", "p"));
  envs.Upsert(Env("my-team-p", "b", "my-team", "other"));
  envs.Upsert(Env("their-team-p", "c", "their-team", "p"));
  const auto project = Obj(R"({"metadata":{"name":"p","namespace":"my-team"}})");
  EXPECT_THAT(Keys(DependentsOf(&envs, /*by_name=*/true), project), ElementsAre("my-team-p/a"));
}

TEST(DependentsOfTest, PullCredentialsReachEveryEnvironmentWhoseProjectNamespaceHoldsThem) {
  informer::Store envs;
  envs.Upsert(Env("my-team-p", "a", "my-team", "p"));
  envs.Upsert(Env("my-team-q", "b", "my-team", "q"));
  envs.Upsert(Env("their-team-p", "c", "their-team", "p"));
  const auto secret = Obj(R"({"metadata":{"name":"registry-credentials","namespace":"my-team"}})");
  EXPECT_THAT(Keys(DependentsOf(&envs, /*by_name=*/false), secret),
              UnorderedElementsAre("my-team-p/a", "my-team-q/b"));
}

TEST(DependentsOfTest, AManagedCopyBelongsToItsOwnerOnly) {
  informer::Store envs;
  envs.Upsert(Env("my-team", "a", "my-team", "p"));
  const auto copy = Obj(R"({"metadata":{"name":"registry-credentials","namespace":"my-team",
      "labels":{"app.kubernetes.io/managed-by":"kube-operator"},
      "annotations":{"catalyst.dev/environment":"my-team-p/pr-1"}}})");
  EXPECT_THAT(Keys(DependentsOf(&envs, /*by_name=*/false), copy), ElementsAre("my-team-p/pr-1"));
}

}  // namespace
}  // namespace controllers
