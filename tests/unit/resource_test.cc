// The resources the operator knows (kube/resource.h, api/v1alpha1/resources.h).
#include "kube/resource.h"

#include "api/v1alpha1/resources.h"
#include "gtest/gtest.h"

namespace kube {
namespace {

TEST(ResourcesTest, ForKindFindsTheConstant) {
  EXPECT_EQ(resources::ForKind("Deployment"), &resources::kDeployments);
  EXPECT_EQ(resources::ForKind("Environment"), nullptr) << "not a built-in kind";
  EXPECT_EQ(v1alpha1::ForKind("Environment"), &v1alpha1::kEnvironments);
  EXPECT_EQ(v1alpha1::ForKind("Deployment"), &resources::kDeployments);
  EXPECT_EQ(resources::ForKind("deployment"), nullptr) << "kinds are case-sensitive";
  EXPECT_EQ(resources::ForKind("Widget"), nullptr);
}

}  // namespace
}  // namespace kube
