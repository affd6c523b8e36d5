// The Helm chart installed into the local control plane: everything it declares is created, with
// two replicas and leader election on, and an uninstall removes it again. Its
// ValidatingAdmissionPolicies (templates/admissionpolicy.yaml), rendered for identities of the
// test's own and applied: the operator's writes held to its environment namespaces, the
// hierarchy labels of Namespaces to the web app.
#include <functional>
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/v1alpha1/resources.h"
#include "e2e/environments.h"
#include "e2e/harness.h"
#include "e2e/operator_process.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"
#include "kube/kubeconfig.h"
#include "util/clock.h"

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

constexpr kube::Resource kPolicies{"admissionregistration.k8s.io", "v1",
                                   "validatingadmissionpolicies", false};

// `helm template` of the chart for release in ns, only the templates named,
// with --set args; "" and a test failure if it does not render.
std::string Template(const std::string& release, const std::string& ns,
                     const std::vector<std::string>& templates,
                     const std::vector<std::string>& sets) {
  std::string cmd = absl::StrCat("helm template ", release, " " SOURCE_ROOT "/deploy/kube-operator",
                                 " --namespace ", ns);
  for (const auto& t : templates) absl::StrAppend(&cmd, " --show-only templates/", t);
  for (const auto& s : sets) absl::StrAppend(&cmd, " --set ", s);
  std::string out;
  const int rc = RunCommand(cmd + " 2>&1", &out);
  EXPECT_EQ(rc, 0) << out;
  return rc == 0 ? out : "";
}

// Applies manifests and deletes them again at the end of the scope: the
// policies' bindings are cluster-wide, and other tests share the control plane.
class Applied {
 public:
  explicit Applied(std::string manifests) : manifests_(std::move(manifests)) {
    auto s = Kubectl({"apply", "-f", "-"}, manifests_);
    EXPECT_TRUE(s.ok()) << s.status();
  }
  ~Applied() { (void)Kubectl({"delete", "--ignore-not-found", "-f", "-"}, manifests_); }

 private:
  const std::string manifests_;
};

// Runs fn at the end of the scope.
class Finally {
 public:
  explicit Finally(std::function<void()> fn) : fn_(std::move(fn)) {}
  ~Finally() { fn_(); }

 private:
  std::function<void()> fn_;
};

// A client acting as ServiceAccount ns/name (a TokenRequest token).
std::unique_ptr<kube::Client> As(const std::string& ns, const std::string& name) {
  auto kubeconfig = ServiceAccountKubeconfig(ns, name, nullptr);
  EXPECT_TRUE(kubeconfig.ok()) << kubeconfig.status();
  if (!kubeconfig.ok()) return nullptr;
  static util::RealClock clock;
  auto config = kube::LoadRestConfig({.kubeconfig_flag = *kubeconfig}, &clock);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? NewClient(*config) : nullptr;
}

// The policy was type-checked by the API server without a warning (an
// expression that does not compile for a kind it matches would fail at
// admission, and failurePolicy Fail would refuse the request).
void ExpectTypeChecked(const std::string& policy) {
  std::string last;
  EXPECT_TRUE(WaitFor(absl::Seconds(30), [&] {
    auto p = Admin().Get(kPolicies, "", policy);
    if (!p.ok()) return false;
    last = p->Serialize();
    return p->Find({"status", "typeChecking"}) != nullptr &&
           p->Int({"status", "observedGeneration"}) == p->Int({"metadata", "generation"});
  })) << last;
  EXPECT_FALSE(absl::StrContains(last, "expressionWarnings")) << last;
}

// Refused by the named policy (not by RBAC: that would name no policy).
::testing::AssertionResult DeniedBy(const absl::Status& s, const std::string& policy) {
  if (kube::apierrors::IsForbidden(s) &&
      absl::StrContains(s.message(), "ValidatingAdmissionPolicy '" + policy + "'"))
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "not denied by " << policy << ": " << s;
}

std::string NamespaceJson(const std::string& name, const std::string& labels) {
  return absl::StrCat(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")", name,
                      R"(","labels":{)", labels, "}}}");
}

std::string SecretJson(const std::string& name) {
  return absl::StrCat(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":")", name,
                      R"("},"stringData":{"k":"v"}})");
}

std::string ServiceJson(const std::string& name) {
  return absl::StrCat(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":")", name,
                      R"("},"spec":{"ports":[{"port":80}]}})");
}

std::string EventJson(const std::string& name, const std::string& ns, const std::string& kind) {
  return absl::StrCat(R"({"apiVersion":"v1","kind":"Event","metadata":{"name":")", name,
                      R"("},"involvedObject":{"kind":")", kind, R"(","name":"e","namespace":")", ns,
                      R"("},"reason":"Ready","message":"m","type":"Normal"})");
}

// RBAC lets the operator write Secrets, Services and Namespaces anywhere (its
// environment namespaces are made at run time); the chart's policy holds
// those writes to the namespaces labelled as its environment namespaces. The
// chart is rendered for a release of the test's own, so the policy matches
// only this test's ServiceAccount: nothing else on the control plane (the
// admin below included) is held by it.
TEST(HelmE2E, AdmissionPolicyHoldsTheOperatorToItsEnvironmentNamespaces) {
  TestNamespace ns("helm-vap");
  const std::string suffix = ns.name().substr(ns.name().rfind('-') + 1);
  const std::string release = "vap-" + suffix;
  const std::string sa = release + "-kube-operator";
  const std::string policy = sa + "-operator-writes";
  // The chart's defaults: the operator's policy on, the hierarchy-label one off.
  const std::string manifests =
      Template(release, ns.name(), {"rbac.yaml", "serviceaccount.yaml", "admissionpolicy.yaml"},
               {"rbac.userRoles=false"});
  ASSERT_TRUE(absl::StrContains(manifests, "name: " + policy)) << manifests;
  ASSERT_FALSE(absl::StrContains(manifests, "hierarchy-labels")) << manifests;
  Applied applied(manifests);
  ExpectTypeChecked(policy);
  auto op = As(ns.name(), sa);
  ASSERT_NE(op, nullptr);

  TestNamespace plain("helm-vap-plain");
  TestNamespace env("helm-vap-env");
  const std::string uid = "e2e-" + suffix;
  ASSERT_TRUE(Admin()
                  .Patch(kNamespaces, "", env.name(), kube::PatchType::kMerge,
                         absl::StrCat(R"({"metadata":{"labels":{)",
                                      R"("catalyst.dev/namespace-type":"environment",)",
                                      R"("app.kubernetes.io/managed-by":"kube-operator",)",
                                      R"("catalyst.dev/environment-uid":")", uid, R"("}}})"))
                  .ok());

  // The policy takes effect within seconds of its creation: until a write of
  // the operator's outside its namespaces is refused (each try a new name).
  int probe = 0;
  absl::Status last;
  ASSERT_TRUE(WaitFor(absl::Seconds(30), [&] {
    last =
        op->Create(kServices, plain.name(), ServiceJson(absl::StrCat("probe-", ++probe))).status();
    return kube::apierrors::IsForbidden(last);
  })) << last;
  EXPECT_TRUE(DeniedBy(last, policy));

  // Secrets and Services: in an environment namespace, not in another one.
  EXPECT_TRUE(DeniedBy(
      op->Create(kSecrets, plain.name(), SecretJson("postgres-credentials")).status(), policy));
  EXPECT_TRUE(op->Create(kSecrets, env.name(), SecretJson("postgres-credentials")).ok());
  EXPECT_TRUE(op->Create(kServices, env.name(), ServiceJson("web")).ok());
  EXPECT_TRUE(DeniedBy(op->Create(kServices, plain.name(), ServiceJson("web")).status(), policy));
  // Only the three Secrets it writes, even there.
  EXPECT_TRUE(DeniedBy(op->Create(kSecrets, env.name(), SecretJson("not-ours")).status(), policy));
  EXPECT_TRUE(op->Delete(kSecrets, env.name(), "postgres-credentials").ok());

  // ServiceAccount tokens (the git token's, controllers/environment/git_token.h):
  // of `default` only, for at most an hour, only in its environment namespaces.
  ASSERT_TRUE(Admin()
                  .Create(kServiceAccounts, env.name(),
                          R"({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"ci"}})")
                  .ok());
  ASSERT_TRUE(WaitFor(absl::Seconds(30), [&] {
    return Admin().Get(kServiceAccounts, env.name(), "default").ok() &&
           Admin().Get(kServiceAccounts, plain.name(), "default").ok();
  }));
  EXPECT_TRUE(op->CreateToken(env.name(), "default", {.expiration_seconds = 600}).ok());
  EXPECT_TRUE(
      DeniedBy(op->CreateToken(env.name(), "ci", {.expiration_seconds = 600}).status(), policy));
  EXPECT_TRUE(DeniedBy(
      op->CreateToken(env.name(), "default", {.expiration_seconds = 7200}).status(), policy));
  EXPECT_TRUE(DeniedBy(
      op->CreateToken(plain.name(), "default", {.expiration_seconds = 600}).status(), policy));

  // Namespaces: a foreign one is neither deleted nor relabelled as its own;
  // one is created only labelled as an environment namespace, and deleted
  // only with the Environment's uid label.
  EXPECT_TRUE(DeniedBy(op->Delete(kNamespaces, "", plain.name()), policy));
  auto still = Admin().Get(kNamespaces, "", plain.name());
  ASSERT_TRUE(still.ok()) << still.status();
  EXPECT_FALSE(still->Deleting());
  EXPECT_TRUE(
      DeniedBy(op->Patch(kNamespaces, "", plain.name(), kube::PatchType::kMerge,
                         R"({"metadata":{"labels":{"catalyst.dev/namespace-type":)"
                         R"("environment","app.kubernetes.io/managed-by":"kube-operator"}}})")
                   .status(),
               policy));
  const std::string made = "e2e-helm-vap-made-" + suffix;
  EXPECT_TRUE(DeniedBy(op->Create(kNamespaces, "", NamespaceJson(made, "")).status(), policy));
  const std::string own_labels =
      R"("catalyst.dev/namespace-type":"environment","app.kubernetes.io/managed-by":"kube-operator")";
  auto created = op->Create(kNamespaces, "", NamespaceJson(made, own_labels));
  Finally delete_made([&] { (void)Admin().Delete(kNamespaces, "", made); });
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(DeniedBy(op->Delete(kNamespaces, "", made), policy));  // no uid label
  EXPECT_TRUE(op->Delete(kNamespaces, "", env.name()).ok());

  // Outside its namespaces: an Environment's finalizers and status, never its
  // spec; Events about Environments, not about anything else.
  ASSERT_TRUE(Kubectl({"apply", "-f", SOURCE_ROOT "/crds/"}).ok());
  CreateEnv(plain.name(), "env", "a1b2c3d");
  EXPECT_TRUE(op->Patch(v1alpha1::kEnvironments, plain.name(), "env", kube::PatchType::kMerge,
                        R"({"metadata":{"finalizers":["catalyst.dev/finalizer"]}})")
                  .ok());
  EXPECT_TRUE(op->Patch(v1alpha1::kEnvironments, plain.name(), "env", kube::PatchType::kMerge,
                        R"({"status":{"phase":"Pending"}})", {}, "status")
                  .ok());
  EXPECT_TRUE(DeniedBy(op->Patch(v1alpha1::kEnvironments, plain.name(), "env",
                                 kube::PatchType::kMerge, R"({"spec":{"type":"deployment"}})")
                           .status(),
                       policy));
  EXPECT_TRUE(op->Patch(v1alpha1::kEnvironments, plain.name(), "env", kube::PatchType::kMerge,
                        R"({"metadata":{"finalizers":null}})")
                  .ok());
  EXPECT_TRUE(
      op->Create(kEvents, plain.name(), EventJson("about-env", plain.name(), "Environment")).ok());
  EXPECT_TRUE(DeniedBy(
      op->Create(kEvents, plain.name(), EventJson("about-pod", plain.name(), "Pod")).status(),
      policy));

  // The admin is not held.
  EXPECT_TRUE(Admin().Create(kSecrets, plain.name(), SecretJson("not-ours")).ok());
}

// Only the web app's identity (webApp.serviceAccount), the operator and the
// cluster admins set or change the hierarchy labels of Namespaces. The
// binding is scoped with the chart's namespaceSelector to Namespaces labelled
// for this test, so other tests' namespaces are not held.
TEST(HelmE2E, OnlyTheWebAppSetsTheHierarchyLabels) {
  TestNamespace ns("helm-hl");
  const std::string suffix = ns.name().substr(ns.name().rfind('-') + 1);
  const std::string release = "hl-" + suffix;
  const std::string policy = release + "-kube-operator-hierarchy-labels";
  // A label value that --set keeps a string (the suffix alone would be a number).
  const std::string scope = "t" + suffix;
  const std::string selector = absl::StrCat(R"("e2e-hierarchy-labels":")", scope, R"(")");
  const std::string manifests = Template(
      release, ns.name(), {"admissionpolicy.yaml"},
      {"admissionPolicies.operator.enabled=false",
       "webApp.serviceAccount=" + ns.name() + "/web-app",
       "admissionPolicies.hierarchyLabels.namespaceSelector.matchLabels.e2e-hierarchy-labels=" +
           scope});
  ASSERT_TRUE(absl::StrContains(manifests, "name: " + policy)) << manifests;
  ASSERT_FALSE(absl::StrContains(manifests, "operator-writes")) << manifests;
  // The web app and a tenant may write Namespaces (RBAC); the policy decides
  // which labels.
  const std::string role = "e2e-" + release + "-namespace-writer";
  Applied rbac(absl::StrCat(R"(
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: )",
                            role, R"(
rules:
  - apiGroups: [""]
    resources: ["namespaces"]
    verbs: ["get", "create", "patch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: )",
                            role, R"(
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: )",
                            role, R"(
subjects:
  - kind: ServiceAccount
    name: web-app
    namespace: )",
                            ns.name(), R"(
  - kind: ServiceAccount
    name: tenant
    namespace: )",
                            ns.name(), "\n"));
  Applied applied(manifests);
  ExpectTypeChecked(policy);
  auto web = As(ns.name(), "web-app");
  auto tenant = As(ns.name(), "tenant");
  ASSERT_NE(web, nullptr);
  ASSERT_NE(tenant, nullptr);
  std::vector<std::string> made;
  Finally delete_made([&] {
    for (const auto& n : made) (void)Admin().Delete(kNamespaces, "", n);
  });
  auto name = [&](const std::string& what) {
    made.push_back(absl::StrCat("e2e-helm-hl-", what, "-", suffix));
    return made.back();
  };

  // In force within seconds: until the tenant's team label is refused.
  int probe = 0;
  absl::Status last;
  ASSERT_TRUE(WaitFor(absl::Seconds(30), [&] {
    last = tenant
               ->Create(kNamespaces, "",
                        NamespaceJson(name(absl::StrCat("probe", ++probe)),
                                      selector + R"(,"catalyst.dev/team":"victim")"))
               .status();
    return kube::apierrors::IsForbidden(last);
  })) << last;
  EXPECT_TRUE(DeniedBy(last, policy));
  EXPECT_TRUE(absl::StrContains(last.message(), "catalyst.dev/team")) << last;

  // The tenant: a namespace of its own, but no hierarchy label, set or changed.
  const std::string own = name("tenant");
  ASSERT_TRUE(tenant->Create(kNamespaces, "", NamespaceJson(own, selector)).ok());
  EXPECT_TRUE(tenant
                  ->Patch(kNamespaces, "", own, kube::PatchType::kMerge,
                          R"({"metadata":{"labels":{"anything":"else"}}})")
                  .ok());
  EXPECT_TRUE(DeniedBy(tenant
                           ->Patch(kNamespaces, "", own, kube::PatchType::kMerge,
                                   R"({"metadata":{"labels":{"catalyst.dev/namespace-type":)"
                                   R"("environment"}}})")
                           .status(),
                       policy));
  // The web app sets and changes them.
  const std::string team = name("team");
  ASSERT_TRUE(
      web->Create(kNamespaces, "",
                  NamespaceJson(team, selector + R"(,"catalyst.dev/team":"a",)"
                                                 R"("catalyst.dev/project":"p",)"
                                                 R"("catalyst.dev/namespace-type":"project")"))
          .ok());
  EXPECT_TRUE(web->Patch(kNamespaces, "", team, kube::PatchType::kMerge,
                         R"({"metadata":{"labels":{"catalyst.dev/project":"q"}}})")
                  .ok());
  // The tenant can neither change nor remove the web app's.
  EXPECT_TRUE(DeniedBy(tenant
                           ->Patch(kNamespaces, "", team, kube::PatchType::kMerge,
                                   R"({"metadata":{"labels":{"catalyst.dev/team":"b"}}})")
                           .status(),
                       policy));
  EXPECT_TRUE(DeniedBy(tenant
                           ->Patch(kNamespaces, "", team, kube::PatchType::kMerge,
                                   R"({"metadata":{"labels":{"catalyst.dev/project":null}}})")
                           .status(),
                       policy));
  // A cluster admin (system:masters) is never locked out.
  EXPECT_TRUE(Admin()
                  .Patch(kNamespaces, "", team, kube::PatchType::kMerge,
                         R"({"metadata":{"labels":{"catalyst.dev/team":"c"}}})")
                  .ok());
  // Namespaces outside the binding's selector are not held (here: every other
  // test's).
  EXPECT_TRUE(tenant
                  ->Create(kNamespaces, "",
                           NamespaceJson(name("unscoped"), R"("catalyst.dev/team":"victim")"))
                  .ok());
}

}  // namespace
}  // namespace e2e
