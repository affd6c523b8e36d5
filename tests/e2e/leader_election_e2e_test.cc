// Two kube-operator replicas with leader election on the local control plane:
// exactly one reconciles, a killed leader is replaced within the lease
// duration, a SIGTERMed one hands over at once, and a stopped-then-resumed
// leader writes nothing.
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <memory>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/v1alpha1/resources.h"
#include "e2e/harness.h"
#include "e2e/operator_process.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"
#include "kube/object.h"

namespace e2e {
namespace {

using namespace kube::resources;

class LeaderElectionE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Kubectl({"apply", "-f", SOURCE_ROOT "/crds/"}).ok());
    // The chart's Role grants only its own Lease: each test starts it afresh
    // (the replicas of the test before are gone).
    auto gone = Admin().Delete(kLeases, "kube-operator-e2e", lease_);
    ASSERT_TRUE(gone.ok() || kube::apierrors::IsNotFound(gone)) << gone;
    absl::BitGen gen;
    const std::string run = absl::StrCat("le", absl::Uniform<uint32_t>(gen, 0, 1u << 30));
    for (int i = 0; i < 2; ++i) {
      replicas_.push_back(std::make_unique<OperatorProcess>(
          absl::StrCat(run, "-", i), 28090 + 2 * i,
          // A 10 s lease: a standby polls every jittered 2–4.4 s and counts
          // the lease from when it saw the last renewal, so a takeover can
          // come up to lease + 2 × 4.4 s after the leader's end; with the
          // default 15 s that is 23.8 s, beyond the 20 s takeover bound.
          std::vector<std::string>{"--leader-elect", "--leader-election-id=" + lease_,
                                   "--leader-election-lease-duration=10s",
                                   "--leader-election-renew-deadline=7s"}));
      replicas_.back()->Start();
    }
  }
  void TearDown() override {
    for (auto& r : replicas_) {
      r->Signal(SIGCONT);
      r->Signal(SIGTERM);
      r->Wait(absl::Seconds(30));
      ExpectCleanLog(r->Log());
    }
  }

  // The index of the replica reporting leadership once exactly one does; -1 otherwise.
  int Leader() const {
    int leader = -1, leaders = 0;
    for (size_t i = 0; i < replicas_.size(); ++i)
      if (replicas_[i]->running() &&
          replicas_[i]->Metric(
              absl::StrCat("leader_election_master_status{name=\"", lease_, "\"}")) == 1)
        leader = static_cast<int>(i), ++leaders;
    return leaders == 1 ? leader : -1;
  }
  int WaitForLeader(absl::Duration timeout) const {
    int leader = -1;
    WaitFor(
        timeout, [&] { return (leader = Leader()) >= 0; }, absl::Milliseconds(200));
    return leader;
  }
  std::string Holder() const {
    auto lease = Admin().Get(kLeases, "kube-operator-e2e", lease_);
    return lease.ok() ? std::string(lease->Str({"spec", "holderIdentity"})) : "";
  }
  static void CreateEnv(const std::string& ns, const std::string& name) {
    auto s = Admin().Create(
        v1alpha1::kEnvironments, ns,
        absl::StrCat(R"({"apiVersion":"catalyst.catalyst.dev/v1alpha1","kind":"Environment",)",
                     R"("metadata":{"name":")", name,
                     R"("},"spec":{"type":"development","projectRef":{"name":"p"},)",
                     R"("sources":[{"name":"web","repositoryUrl":"https://github.com/o/r",)",
                     R"("branch":"main","commitSha":"a1b2c3d"}]}})"));
    ASSERT_TRUE(s.ok()) << s.status();
  }
  static bool Ready(const std::string& ns, const std::string& name) {
    auto e = Admin().Get(v1alpha1::kEnvironments, ns, name);
    return e.ok() && e->Str({"status", "phase"}) == "Ready";
  }
  double Reconciles(int i) const {
    return replicas_[i]->SumMetric("controller_runtime_reconcile_total");
  }

  const std::string lease_ = "kube-operator-leader";
  std::vector<std::unique_ptr<OperatorProcess>> replicas_;
};

TEST_F(LeaderElectionE2E, OnlyTheLeaderReconcilesAndAKilledLeaderIsReplacedWithinTheLease) {
  const int leader = WaitForLeader(absl::Seconds(30));
  ASSERT_GE(leader, 0);
  const int standby = 1 - leader;
  EXPECT_TRUE(absl::StrContains(Holder(), absl::StrCat("-", leader, "_"))) << Holder();
  // The standby's caches are warm: it is ready, too.
  EXPECT_TRUE(WaitFor(absl::Seconds(30), [&] {
    return replicas_[standby]->Get("/readyz") == "ok\n 200";
  })) << replicas_[standby]->Get("/readyz");

  TestNamespace ns("le-kill");
  CreateEnv(ns.name(), "one");
  EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] { return Ready(ns.name(), "one"); }));
  EXPECT_GT(Reconciles(leader), 0);
  EXPECT_EQ(Reconciles(standby), 0) << "a standby must not reconcile";
  EXPECT_EQ(replicas_[standby]->Metric(
                absl::StrCat("leader_election_master_status{name=\"", lease_, "\"}")),
            0);

  const absl::Time killed = absl::Now();
  replicas_[leader]->Signal(SIGKILL);
  replicas_[leader]->Wait(absl::Seconds(10));
  // The bound: the lease duration (10 s) after the last renewal the standby
  // saw, which it saw up to one jittered retry (2 s × 2.2) late, plus one more.
  ASSERT_TRUE(WaitFor(
      absl::Seconds(25), [&] { return Leader() == standby; }, absl::Milliseconds(200)));
  const absl::Duration takeover = absl::Now() - killed;
  EXPECT_LE(takeover, absl::Seconds(10 + 2 * 4.4 + 1)) << takeover;
  std::cout << "[ figure ] takeover after SIGKILL of the leader: " << takeover << "\n";
  CreateEnv(ns.name(), "two");
  EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] { return Ready(ns.name(), "two"); }));
}

TEST_F(LeaderElectionE2E, SigtermReleasesTheLeaseAndTheStandbyTakesOverAtOnce) {
  const int leader = WaitForLeader(absl::Seconds(30));
  ASSERT_GE(leader, 0);
  const int standby = 1 - leader;
  const absl::Time stopped = absl::Now();
  replicas_[leader]->Signal(SIGTERM);
  const int status = replicas_[leader]->Wait(absl::Seconds(30));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_TRUE(WaitFor(
      absl::Seconds(15), [&] { return Leader() == standby; }, absl::Milliseconds(100)));
  const absl::Duration takeover = absl::Now() - stopped;
  // Released (holder ""): taken at the standby's next attempt, not after 15 s.
  EXPECT_LT(takeover, absl::Seconds(8)) << takeover;
  std::cout << "[ figure ] takeover after SIGTERM of the leader: " << takeover << "\n";
  EXPECT_NE(replicas_[leader]->Log().find("released the lease"), std::string::npos);
}

// SIGSTOP the leader; the standby takes over within 20 s;
// the old leader, resumed, writes nothing (the API server's audit log says
// so) and exits to come back as a standby.
TEST_F(LeaderElectionE2E, AStoppedLeaderIsReplacedAndWritesNothingWhenResumed) {
  const std::string audit_path = ClusterDir() + "/audit.log";
  ASSERT_TRUE(std::ifstream(audit_path).good())
      << "needs the API server's audit log: scripts/cluster-up.sh --audit-log " << audit_path;
  const int leader = WaitForLeader(absl::Seconds(30));
  ASSERT_GE(leader, 0);
  const int standby = 1 - leader;
  const std::string old_identity = Holder();
  ASSERT_FALSE(old_identity.empty());

  const absl::Time stopped = absl::Now();
  replicas_[leader]->Signal(SIGSTOP);
  ASSERT_TRUE(WaitFor(absl::Seconds(25), [&] {
    return absl::StrContains(Holder(), absl::StrCat("-", standby, "_"));
  }));
  const absl::Duration takeover = absl::Now() - stopped;
  EXPECT_LE(takeover, absl::Seconds(20)) << takeover;
  std::cout << "[ figure ] takeover after SIGSTOP of the leader: " << takeover << "\n";
  // Work for both: the old leader will see these events the moment it resumes.
  TestNamespace ns("le-stop");
  CreateEnv(ns.name(), "during-stop");
  EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] { return Ready(ns.name(), "during-stop"); }));

  const absl::Time resumed = absl::Now();
  replicas_[leader]->Signal(SIGCONT);
  const int status = replicas_[leader]->Wait(absl::Seconds(30));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1)
      << "a leader that lost its lease exits non-zero; status " << status;
  EXPECT_NE(replicas_[leader]->Log().find("leader election lost"), std::string::npos);
  // Nothing written by the old leader after it resumed: every mutating
  // request in the audit log from its User-Agent predates the stop.
  std::ifstream audit(audit_path);
  int writes_after = 0, lease_reads_after = 0;
  for (std::string line; std::getline(audit, line);) {
    if (!absl::StrContains(line, old_identity)) continue;
    auto ev = kube::Object::Parse(line);
    if (!ev.ok()) continue;
    absl::Time at;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, ev->Str({"requestReceivedTimestamp"}), &at, &err) ||
        at < resumed)
      continue;
    const absl::string_view verb = ev->Str({"verb"});
    if (verb == "create" || verb == "update" || verb == "patch" || verb == "delete") ++writes_after;
    if (verb == "get" && ev->Str({"objectRef", "resource"}) == "leases") ++lease_reads_after;
  }
  EXPECT_EQ(writes_after, 0) << "the resumed old leader wrote";
  EXPECT_GE(lease_reads_after, 1) << "it re-read its lease before giving up";
}

}  // namespace
}  // namespace e2e
