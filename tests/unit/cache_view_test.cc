// CacheView: each cache known by its watch's name, never by a constant's address.
#include "controllers/environment/cache_view.h"

#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/resource.h"
#include "support/mock_lister_watcher.h"

namespace controllers {
namespace {

using testing_support::Obj;

std::unique_ptr<informer::Informer> Unstarted() {
  return std::make_unique<informer::Informer>(
      std::make_unique<testing_support::MockListerWatcher>(), informer::InformerOptions{});
}

class CacheViewTest : public ::testing::Test {
 protected:
  CacheViewTest() {
    view_.Add("secrets", kube::resources::kSecrets, own_.get(), /*owned=*/true);
    view_.Add(CacheView::kRegistryCredentials, kube::resources::kSecrets, teams_.get(),
              /*owned=*/false);
    own_->store().Upsert(
        Obj("env-ns", "registry-credentials", "1", R"({"catalyst.dev/environment-uid":"u1"})"));
    teams_->store().Upsert(Obj("my-team", "registry-credentials", "2"));
  }
  std::unique_ptr<informer::Informer> own_ = Unstarted(), teams_ = Unstarted();
  CacheView view_;
};

TEST_F(CacheViewTest, AReadOfAResourceGoesToTheWatchNamedByItsPlural) {
  const kube::Resource copy = kube::resources::kSecrets;  // not the constant itself
  EXPECT_TRUE(view_.Get(copy, "env-ns", "registry-credentials"));
  EXPECT_FALSE(view_.Get(copy, "my-team", "registry-credentials"));
  EXPECT_THAT(view_.Owned(copy, "u1"), ::testing::SizeIs(1));
}

TEST_F(CacheViewTest, PullCredentialsAreReadFromTheirOwnWatch) {
  EXPECT_EQ(view_.RegistryCredentials("my-team")->ResourceVersion(), "2");
  EXPECT_FALSE(view_.RegistryCredentials("env-ns"));
  EXPECT_NE(view_.RegistryCredentialsAddMark(), nullptr);
  EXPECT_EQ(view_.Cache(CacheView::kRegistryCredentials), teams_.get());
}

TEST_F(CacheViewTest, AnUnwatchedResourceReadsNothing) {
  EXPECT_FALSE(view_.Get(kube::resources::kDeployments, "env-ns", "web"));
  EXPECT_EQ(view_.AddMark(kube::resources::kDeployments), nullptr);
  CacheView without_credentials;
  EXPECT_FALSE(without_credentials.RegistryCredentials("my-team"));
}

}  // namespace
}  // namespace controllers
