// The client against the real API server: verbs, errors, watch.
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "e2e/harness.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"

namespace e2e {
namespace {

using namespace kube::resources;

std::string ConfigMap(absl::string_view name, absl::string_view value) {
  return absl::StrCat(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")", name,
                      R"(","labels":{"app":"e2e"}},"data":{"k":")", value, R"("}})");
}

TEST(ClientE2E, CrudOnCoreResource) {
  TestNamespace ns("crud");
  kube::Client& c = Admin();
  auto created = c.Create(kConfigMaps, ns.name(), ConfigMap("cm", "1"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(kube::apierrors::IsAlreadyExists(
      c.Create(kConfigMaps, ns.name(), ConfigMap("cm", "1")).status()));

  auto got = c.Get(kConfigMaps, ns.name(), "cm");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->Str({"data", "k"}), "1");

  // Update with the current resourceVersion succeeds; with a stale one conflicts.
  std::string body = absl::StrCat(
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","resourceVersion":")",
      got->ResourceVersion(), R"("},"data":{"k":"2"}})");
  auto updated = c.Update(kConfigMaps, ns.name(), "cm", body);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->Str({"data", "k"}), "2");
  EXPECT_TRUE(kube::apierrors::IsConflict(c.Update(kConfigMaps, ns.name(), "cm", body).status()));

  auto merged =
      c.Patch(kConfigMaps, ns.name(), "cm", kube::PatchType::kMerge, R"({"data":{"m":"x"}})");
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(merged->Str({"data", "m"}), "x");
  auto jsonp = c.Patch(kConfigMaps, ns.name(), "cm", kube::PatchType::kJson,
                       R"([{"op":"replace","path":"/data/k","value":"3"}])");
  ASSERT_TRUE(jsonp.ok()) << jsonp.status();
  EXPECT_EQ(jsonp->Str({"data", "k"}), "3");

  // Precondition on a wrong uid refuses the delete.
  EXPECT_TRUE(kube::apierrors::IsConflict(
      c.Delete(kConfigMaps, ns.name(), "cm", {.precondition_uid = "nope"})));
  ASSERT_TRUE(c.Delete(kConfigMaps, ns.name(), "cm").ok());
  EXPECT_TRUE(kube::apierrors::IsNotFound(c.Get(kConfigMaps, ns.name(), "cm").status()));
  EXPECT_TRUE(kube::apierrors::IsNotFound(c.Delete(kConfigMaps, ns.name(), "cm")));
}

TEST(ClientE2E, ListPaginatesWithSelectors) {
  TestNamespace ns("list");
  kube::Client& c = Admin();
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(c.Create(kConfigMaps, ns.name(), ConfigMap(absl::StrCat("cm", i), "v")).ok());
  std::vector<std::string> names;
  kube::ListOptions opts{.label_selector = "app=e2e", .limit = 2};
  int pages = 0;
  do {
    auto page = c.List(kConfigMaps, ns.name(), opts);
    ASSERT_TRUE(page.ok()) << page.status();
    ++pages;
    for (const auto& o : page->items) names.emplace_back(o.Name());
    opts.continue_token = page->continue_token;
  } while (!opts.continue_token.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names, (std::vector<std::string>{"cm0", "cm1", "cm2", "cm3", "cm4"}));
  auto none = c.List(kConfigMaps, ns.name(), {.label_selector = "app=other"});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->items.empty());
}

TEST(ClientE2E, ServerSideApplyOwnsFields) {
  TestNamespace ns("apply");
  kube::Client& c = Admin();
  const std::string manifest = ConfigMap("applied", "a");
  auto first = c.Patch(kConfigMaps, ns.name(), "applied", kube::PatchType::kApply, manifest,
                       {.field_manager = "kube-operator"});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->Str({"data", "k"}), "a");
  // Another manager changing the same field conflicts unless it forces.
  auto other = c.Patch(kConfigMaps, ns.name(), "applied", kube::PatchType::kApply,
                       ConfigMap("applied", "b"), {.field_manager = "someone-else"});
  EXPECT_TRUE(kube::apierrors::IsConflict(other.status())) << other.status();
  auto forced =
      c.Patch(kConfigMaps, ns.name(), "applied", kube::PatchType::kApply, ConfigMap("applied", "b"),
              {.field_manager = "someone-else", .force = true});
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_EQ(forced->Str({"data", "k"}), "b");
}

TEST(ClientE2E, CrudOnAppsAndNetworking) {
  TestNamespace ns("groups");
  kube::Client& c = Admin();
  auto np = c.Create(kNetworkPolicies, ns.name(),
                     R"({"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",
      "metadata":{"name":"deny"},"spec":{"podSelector":{},"policyTypes":["Ingress","Egress"]}})");
  ASSERT_TRUE(np.ok()) << np.status();
  EXPECT_EQ(c.Get(kNetworkPolicies, ns.name(), "deny")->Kind(), "NetworkPolicy");
  auto d = c.Create(kDeployments, ns.name(),
                    R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},
      "spec":{"replicas":0,"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},
      "spec":{"containers":[{"name":"c","image":"x"}]}}}})");
  ASSERT_TRUE(d.ok()) << d.status();
  auto bad =
      c.Create(kDeployments, ns.name(),
               R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"Bad_Name"}})");
  EXPECT_TRUE(kube::apierrors::IsInvalid(bad.status())) << bad.status();
  EXPECT_TRUE(c.Delete(kDeployments, ns.name(), "d", {.propagation_policy = "Foreground"}).ok());
}

TEST(ClientE2E, WatchSeesAddModifyDeleteAndBookmark) {
  TestNamespace ns("watch");
  kube::Client& c = Admin();
  auto list = c.List(kConfigMaps, ns.name(), {});
  ASSERT_TRUE(list.ok());
  util::Cancellation cancel;
  absl::Mutex mu;
  std::vector<std::string> seen;
  absl::Status result;
  std::thread watcher([&] {
    // A short server timeout makes the server send a bookmark 2 s before it ends.
    // No label selector: the 1.20 watch cache sends no bookmarks through one.
    result = c.Watch(kConfigMaps, ns.name(),
                     {.resource_version = list->resource_version, .timeout_seconds = 8}, cancel,
                     [&](kube::WatchEvent e) {
                       // A controller adds kube-root-ca.crt to every namespace.
                       if (e.object.Name() == "kube-root-ca.crt") return true;
                       absl::MutexLock l(&mu);
                       seen.push_back(absl::StrCat(kube::ToString(e.type), ":", e.object.Name()));
                       return true;
                     });
  });
  ASSERT_TRUE(c.Create(kConfigMaps, ns.name(), ConfigMap("w", "1")).ok());
  ASSERT_TRUE(
      c.Patch(kConfigMaps, ns.name(), "w", kube::PatchType::kMerge, R"({"data":{"k":"2"}})").ok());
  ASSERT_TRUE(c.Delete(kConfigMaps, ns.name(), "w").ok());
  watcher.join();  // the server ends the watch after timeoutSeconds
  EXPECT_TRUE(result.ok()) << result;
  absl::MutexLock l(&mu);
  ASSERT_GE(seen.size(), 4u) << absl::StrJoin(seen, ",");
  EXPECT_EQ(seen[0], "ADDED:w");
  EXPECT_EQ(seen[1], "MODIFIED:w");
  EXPECT_EQ(seen[2], "DELETED:w");
  EXPECT_NE(std::find(seen.begin(), seen.end(), "BOOKMARK:"), seen.end())
      << absl::StrJoin(seen, ",");
}

TEST(ClientE2E, WatchCanBeCancelledFromAnotherThread) {
  TestNamespace ns("cancel");
  util::Cancellation cancel;
  absl::Notification started;
  absl::Status result;
  std::thread watcher([&] {
    result = Admin().Watch(kConfigMaps, ns.name(), {.timeout_seconds = 300}, cancel,
                           [&](kube::WatchEvent) {
                             if (!started.HasBeenNotified()) started.Notify();
                             return true;
                           });
  });
  ASSERT_TRUE(Admin().Create(kConfigMaps, ns.name(), ConfigMap("x", "1")).ok());
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  const absl::Time t0 = absl::Now();
  cancel.Cancel();
  watcher.join();
  EXPECT_EQ(result.code(), absl::StatusCode::kCancelled) << result;
  EXPECT_LT(absl::Now() - t0, absl::Seconds(5));
}

TEST(ClientE2E, RbacForbiddenAndBadCredentials) {
  // A ServiceAccount with no roles, talking with its own bearer token.
  TestNamespace ns("rbac");
  ASSERT_TRUE(Kubectl({"create", "serviceaccount", "nobody", "-n", ns.name()}).ok());
  const std::string token = ServiceAccountToken(ns.name(), "nobody");
  ASSERT_FALSE(token.empty());
  kube::RestConfig sa = AdminConfig();
  sa.client_cert_pem.clear();
  sa.client_key_pem.clear();
  sa.token = std::make_shared<kube::StaticTokenSource>(token);
  auto client = NewClient(sa);
  auto forbidden = client->List(kPods, ns.name(), {});
  EXPECT_TRUE(kube::apierrors::IsForbidden(forbidden.status())) << forbidden.status();
  EXPECT_NE(std::string(forbidden.status().message()).find("nobody"), std::string::npos);

  sa.token = std::make_shared<kube::StaticTokenSource>("not-a-token");
  auto bad = NewClient(sa)->List(kPods, ns.name(), {});
  EXPECT_TRUE(kube::apierrors::IsUnauthorized(bad.status())) << bad.status();
}

TEST(ClientE2E, TlsIsVerified) {
  // Without the cluster CA the server's certificate is not trusted.
  kube::RestConfig c = AdminConfig();
  c.ca_pem.clear();
  auto s = NewClient(c)->Get(kNamespaces, "", "default");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable) << s.status();
  // Only an explicit opt-out skips verification.
  c.insecure_skip_tls_verify = true;
  EXPECT_TRUE(NewClient(c)->Get(kNamespaces, "", "default").ok());
}

}  // namespace
}  // namespace e2e
