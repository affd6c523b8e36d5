// The Helm chart installed into the local control plane: everything it declares is created, with
// two replicas and leader election on, and an uninstall removes it again.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "e2e/harness.h"
#include "e2e/operator_process.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"

namespace e2e {
namespace {

using namespace kube::resources;

std::string Helm(const std::string& args, int* rc) {
  std::string out;
  *rc = RunCommand(absl::StrCat("helm --kubeconfig ", KubeconfigPath(), " ", args, " 2>&1"), &out);
  return out;
}

TEST(HelmE2E, InstallCreatesEverythingTheChartDeclaresAndUninstallRemovesIt) {
  TestNamespace ns("helm");
  const std::string release = "ko-" + ns.name().substr(ns.name().rfind('-') + 1);
  int rc = 0;
  const std::string out =
      Helm(absl::StrCat("install ", release, " " SOURCE_ROOT "/deploy/kube-operator --namespace ",
                        ns.name(), ""),
           &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "STATUS: deployed")) << out;
  const std::string name = release + "-kube-operator";
  auto deployment = Admin().Get(kDeployments, ns.name(), name);
  ASSERT_TRUE(deployment.ok()) << deployment.status();
  EXPECT_EQ(deployment->Int({"spec", "replicas"}), 2);
  const std::string args = deployment->Serialize();
  EXPECT_TRUE(absl::StrContains(args, "--leader-elect=true")) << args;
  EXPECT_TRUE(absl::StrContains(args, "\"readOnlyRootFilesystem\":true")) << args;
  EXPECT_TRUE(Admin().Get(kServiceAccounts, ns.name(), name).ok());
  EXPECT_TRUE(Admin().Get(kServices, ns.name(), name + "-metrics").ok() ||
              Admin().Get(kServices, ns.name(), name).ok());
  EXPECT_TRUE(Admin().Get(kClusterRoles, "", name).ok());
  EXPECT_TRUE(Admin().Get(kClusterRoleBindings, "", name).ok());
  EXPECT_TRUE(
      Admin().Get(kCustomResourceDefinitions, "", "environments.catalyst.catalyst.dev").ok());
  // The Deployment's pods come up under the kubelet simulator (it runs no image).
  EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] {
    auto d = Admin().Get(kDeployments, ns.name(), name);
    return d.ok() && d->Int({"status", "readyReplicas"}) == 2;
  }));
  // Secure metrics by default: the operator may review tokens, and there is a
  // role for scrapers.
  EXPECT_TRUE(absl::StrContains(args, "--metrics-secure=true")) << args;
  EXPECT_TRUE(Admin().Get(kClusterRoles, "", name + "-metrics-reader").ok());
  // `helm test`: its ServiceAccount, binding and Pod are accepted and the Pod
  // succeeds (under the kubelet simulator, which runs no image, a
  // restartPolicy Never pod exits 0: the check itself runs on a real cluster).
  const std::string test =
      Helm(absl::StrCat("test ", release, " --namespace ", ns.name(), " --timeout 3m"), &rc);
  EXPECT_EQ(rc, 0) << test;
  EXPECT_TRUE(absl::StrContains(test, "Phase:          Succeeded")) << test;
  // hook-succeeded: nothing of the test is left behind.
  EXPECT_TRUE(kube::apierrors::IsNotFound(
      Admin().Get(kClusterRoleBindings, "", name + "-test-metrics-reader").status()));

  const std::string un = Helm(absl::StrCat("uninstall ", release, " --namespace ", ns.name()), &rc);
  ASSERT_EQ(rc, 0) << un;
  EXPECT_TRUE(kube::apierrors::IsNotFound(Admin().Get(kClusterRoles, "", name).status()));
  EXPECT_TRUE(kube::apierrors::IsNotFound(Admin().Get(kDeployments, ns.name(), name).status()));
  // CRDs are kept (Helm never deletes them: Environments would go with them).
  EXPECT_TRUE(
      Admin().Get(kCustomResourceDefinitions, "", "environments.catalyst.catalyst.dev").ok());
}

}  // namespace
}  // namespace e2e
