// LeaseLock (leaderelection/lease_lock.h): the Lease it writes and reads back.
#include "leaderelection/lease_lock.h"

#include "gtest/gtest.h"
#include "kube/object.h"

namespace leaderelection {
namespace {

TEST(LeaseLockTest, ManifestRoundTrips) {
  LeaseLock lock(nullptr, "ops", "kube-operator");
  const LeaderElectionRecord r{.holder_identity = "pod-1_ab12",
                               .lease_duration_seconds = 15,
                               .acquire_time = absl::FromUnixMicros(1'700'000'000'123'456),
                               .renew_time = absl::FromUnixMicros(1'700'000'010'000'001),
                               .leader_transitions = 7};
  auto obj = kube::Object::Parse(lock.Manifest(r, "42"));
  ASSERT_TRUE(obj.ok()) << obj.status();
  EXPECT_EQ(obj->ResourceVersion(), "42");
  EXPECT_EQ(obj->Str({"spec", "renewTime"}), "2023-11-14T22:13:30.000001Z");
  auto back = LeaseLock::FromLease(*obj);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, r);
}

}  // namespace
}  // namespace leaderelection
