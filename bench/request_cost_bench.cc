// Request cost benchmark: the API server's (and etcd's) CPU per request, for
// each kind of request the operators send when an Environment is created,
// against a live control plane (scripts/bench.sh --request-costs runs it).
//
// While it runs, kube-controller-manager and the kubelet simulator are paused
// (SIGSTOP, --pause-pid) so no controller reacts to what it writes: the CPU
// measured is the requests', their storage and their watch fan-out to the
// informers that are connected. The API server's idle rate (measured first,
// everything paused) is subtracted.
//
// The objects are kube-operator's own manifests for a development Environment
// (controllers::BuildAll: the namespace, quota, two NetworkPolicies, two
// claims, two Deployments, two Services, the Ingress), sent N of each kind,
// from --threads threads:
//   create      POST (what the client-go reference sends, and a first write could)
//   apply       server-side apply PATCH, force (kube-operator's writes today)
//   apply-noop  the same apply again on the applied object (a repair finding nothing)
// and the per-Environment requests around them: the finalizer (merge patch),
// a status (merge patch on /status), an Event (POST), the diagnosis lists
// (pods, replicasets by label in the namespace).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "api/v1alpha1/environment.h"
#include "api/v1alpha1/resources.h"
#include "bench_client.h"
#include "controllers/environment/manifests.h"
#include "controllers/environment/naming.h"
#include "controllers/environment/resolve.h"
#include "kube/api_error.h"
#include "kube/client.h"
#include "kube/cpprest_transport.h"
#include "kube/kubeconfig.h"
#include "kube/resource.h"
#include "util/clock.h"

namespace {

using Clock = std::chrono::steady_clock;
using Time = Clock::time_point;

double Seconds(Time a, Time b) { return std::chrono::duration<double>(b - a).count(); }

struct Options {
  std::string kubeconfig, out, ns = "bench-cost";
  int n = 100, threads = 4, apiserver_pid = 0, etcd_pid = 0;
  std::vector<int> pause_pids;
  double idle_seconds = 5;
};

bool ParseFlags(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::pair<std::string, std::string> kv = absl::StrSplit(argv[i], absl::MaxSplits('=', 1));
    auto& [k, v] = kv;
    bool ok = true;
    int pid = 0;
    if (k == "--kubeconfig")
      o.kubeconfig = v;
    else if (k == "--out")
      o.out = v;
    else if (k == "--namespace")
      o.ns = v;
    else if (k == "--n")
      ok = absl::SimpleAtoi(v, &o.n);
    else if (k == "--threads")
      ok = absl::SimpleAtoi(v, &o.threads);
    else if (k == "--apiserver-pid")
      ok = absl::SimpleAtoi(v, &o.apiserver_pid);
    else if (k == "--etcd-pid")
      ok = absl::SimpleAtoi(v, &o.etcd_pid);
    else if (k == "--pause-pid") {
      ok = absl::SimpleAtoi(v, &pid) && pid > 0;
      if (ok) o.pause_pids.push_back(pid);
    } else if (k == "--idle-seconds")
      ok = absl::SimpleAtod(v, &o.idle_seconds);
    else
      ok = false;
    if (!ok) {
      std::fprintf(stderr, "bad flag %s\n", argv[i]);
      return false;
    }
  }
  if (o.kubeconfig.empty() || o.out.empty() || o.apiserver_pid == 0) {
    std::fprintf(
        stderr,
        "usage: request_cost_bench --kubeconfig=F --apiserver-pid=P --out=F [--etcd-pid=P] "
        "[--pause-pid=P]... [--n=100] [--threads=4] [--namespace=bench-cost] "
        "[--idle-seconds=5]\n");
    return false;
  }
  return true;
}

double CpuSeconds(int pid) {
  if (pid == 0) return 0;
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  const size_t comm_end = text.rfind(") ");
  if (comm_end == std::string::npos) return 0;
  std::vector<absl::string_view> f =
      absl::StrSplit(absl::string_view(text).substr(comm_end + 2), ' ');
  long utime = 0, stime = 0;
  if (f.size() > 12 && absl::SimpleAtoi(f[11], &utime) && absl::SimpleAtoi(f[12], &stime))
    return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  return 0;
}

// Runs fn(i) for i in [0, n) on `threads` threads; the latencies in ms.
std::vector<double> Parallel(int n, int threads, const std::function<bool(int)>& fn,
                             std::atomic<int>& errors) {
  std::atomic<int> next{0};
  std::vector<double> lat(n);
  std::vector<std::thread> pool;
  for (int t = 0; t < std::min(n, threads); ++t)
    pool.emplace_back([&] {
      for (int i; (i = next++) < n;) {
        const Time start = Clock::now();
        if (!fn(i)) ++errors;
        lat[i] = 1000 * Seconds(start, Clock::now());
      }
    });
  for (auto& t : pool) t.join();
  return lat;
}

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(i, 1, v.size()) - 1];
}

std::string EnvJson(absl::string_view ns, absl::string_view name, int i) {
  return absl::StrCat(
      R"({"apiVersion":"catalyst.catalyst.dev/v1alpha1","kind":"Environment","metadata":{"name":")",
      name, R"(","namespace":")", ns, R"(","uid":")",
      absl::StrFormat("00000000-0000-4000-8000-%012d", i),
      R"("},"spec":{"type":"development","projectRef":{"name":"p"},"sources":[{"name":"web",)",
      R"("repositoryUrl":"https://github.com/org/repo","branch":"main","commitSha":"a1b2c3d"}]}})");
}

// The status the operators write on a phase change (four conditions).
std::string StatusPatch(absl::string_view target_ns, absl::string_view phase) {
  auto cond = [](absl::string_view type, bool ok) {
    return absl::StrCat(R"({"type":")", type, R"(","status":")", ok ? "True" : "False",
                        R"(","reason":")", ok ? type : "Pending", R"(","message":")",
                        ok ? "ready" : "waiting for an earlier step",
                        R"(","lastTransitionTime":"2026-12-06T00:00:00Z","observedGeneration":1})");
  };
  return absl::StrCat(R"({"status":{"phase":")", phase, R"(","namespace":")", target_ns,
                      R"(","observedGeneration":1,"conditions":[)",
                      absl::StrJoin({cond("NamespaceReady", true), cond("PostgresReady", false),
                                     cond("WebReady", false), cond("Ready", false)},
                                    ","),
                      "]}}");
}

std::string EventJson(absl::string_view ns, absl::string_view env, int i) {
  return absl::StrCat(
      R"({"apiVersion":"v1","kind":"Event","metadata":{"name":")", env, ".", absl::Hex(i),
      R"(","namespace":")", ns,
      R"("},"involvedObject":{"apiVersion":"catalyst.catalyst.dev/v1alpha1",)",
      R"("kind":"Environment","namespace":")", ns, R"(","name":")", env,
      R"("},"reason":"Provisioning","message":"Provisioning: creating the namespace",)",
      R"("type":"Normal","source":{"component":"kube-operator"},)",
      R"("firstTimestamp":"2026-12-06T00:00:00Z","lastTimestamp":"2026-12-06T00:00:00Z","count":1})");
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseFlags(argc, argv, o)) return 2;
  auto say = [](const std::string& s) {
    std::fprintf(stderr, "[request_cost_bench] %s\n", s.c_str()), std::fflush(stderr);
  };
  auto connected = bench::Connect(o.kubeconfig, o.ns);
  if (!connected.ok()) return say(connected.status().ToString()), 1;
  kube::Client& client = **connected;

  // Desired objects of N Environments per path ("c": create, "a": apply).
  const controllers::OperatorConfig cfg;
  auto build = [&](const std::string& prefix) {
    std::vector<std::vector<controllers::Built>> all;
    for (int i = 0; i < o.n; ++i) {
      const std::string name = absl::StrFormat("%s-%05d", prefix, i);
      absl::StatusOr<kube::Object> obj = kube::Object::Parse(EnvJson(o.ns, name, i));
      if (!obj.ok()) return absl::StatusOr<decltype(all)>(obj.status());
      absl::StatusOr<v1alpha1::EnvironmentSpec> env = v1alpha1::ParseEnvironment(*obj);
      if (!env.ok()) return absl::StatusOr<decltype(all)>(env.status());
      absl::StatusOr<std::string> target = controllers::TargetNamespace(*env);
      if (!target.ok()) return absl::StatusOr<decltype(all)>(target.status());
      absl::StatusOr<controllers::Desired> d = controllers::Resolve({*env, *target, nullptr, cfg});
      if (!d.ok()) return absl::StatusOr<decltype(all)>(d.status());
      all.push_back(controllers::BuildAll(*d, cfg));
    }
    return absl::StatusOr<decltype(all)>(std::move(all));
  };
  auto created_or = build("cost-c"), applied_or = build("cost-a");
  if (!created_or.ok() || !applied_or.ok())
    return say((created_or.ok() ? applied_or.status() : created_or.status()).ToString()), 1;
  const auto& created = *created_or;
  const auto& applied = *applied_or;
  const size_t kinds = created.front().size();

  for (int pid : o.pause_pids) kill(pid, SIGSTOP);
  say(absl::StrFormat("idle %.0f s (paused %d processes)", o.idle_seconds, o.pause_pids.size()));
  const Time idle_t0 = Clock::now();
  const double idle_cpu0 = CpuSeconds(o.apiserver_pid), idle_etcd0 = CpuSeconds(o.etcd_pid);
  std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<long>(o.idle_seconds * 1000)));
  const double idle_s = Seconds(idle_t0, Clock::now());
  const double idle_rate = (CpuSeconds(o.apiserver_pid) - idle_cpu0) / idle_s;
  const double idle_etcd_rate = (CpuSeconds(o.etcd_pid) - idle_etcd0) / idle_s;

  std::vector<std::string> rows;
  // Measures one batch of N requests: API server and etcd CPU beyond their idle rate.
  auto measure = [&](const std::string& what, const std::string& resource,
                     const std::function<bool(int)>& fn) {
    std::atomic<int> errors{0};
    const double cpu0 = CpuSeconds(o.apiserver_pid), etcd0 = CpuSeconds(o.etcd_pid);
    const Time t0 = Clock::now();
    std::vector<double> lat = Parallel(o.n, o.threads, fn, errors);
    const double wall = Seconds(t0, Clock::now());
    const double cpu = CpuSeconds(o.apiserver_pid) - cpu0 - idle_rate * wall;
    const double etcd = CpuSeconds(o.etcd_pid) - etcd0 - idle_etcd_rate * wall;
    rows.push_back(
        absl::StrFormat(R"({"request":"%s","resource":"%s","count":%d,"errors":%d,"seconds":%.2f,)"
                        R"("apiserver_cpu_ms_per_request":%.2f,"etcd_cpu_ms_per_request":%.2f,)"
                        R"("latency_ms":{"p50":%.1f,"p99":%.1f}})",
                        what, resource, o.n, errors.load(), wall, 1000 * cpu / o.n,
                        1000 * etcd / o.n, Quantile(lat, 0.5), Quantile(lat, 0.99)));
    say(absl::StrFormat("%-10s %-24s %6.2f ms API server CPU, %5.2f ms etcd, p50 %.1f ms%s", what,
                        resource, 1000 * cpu / o.n, 1000 * etcd / o.n, Quantile(lat, 0.5),
                        errors ? absl::StrCat(" (", errors.load(), " errors)") : ""));
  };
  auto label = [](const controllers::Built& b) {
    return absl::StrCat(b.resource->plural, "/", b.object.Name());
  };
  const kube::PatchOptions apply{.field_manager = "kube-operator", .force = true};
  for (size_t k = 0; k < kinds; ++k) {
    const controllers::Built& sample = created.front()[k];
    measure("create", label(sample), [&](int i) {
      const controllers::Built& b = created[i][k];
      return client.Create(*b.resource, b.object.Namespace(), b.object.Serialize()).ok();
    });
    measure("apply", label(sample), [&](int i) {
      const controllers::Built& b = applied[i][k];
      return client
          .Patch(*b.resource, b.object.Namespace(), b.object.Name(), kube::PatchType::kApply,
                 b.object.Serialize(), apply)
          .ok();
    });
    measure("apply-noop", label(sample), [&](int i) {
      const controllers::Built& b = applied[i][k];
      return client
          .Patch(*b.resource, b.object.Namespace(), b.object.Name(), kube::PatchType::kApply,
                 b.object.Serialize(), apply)
          .ok();
    });
  }
  // Around the objects: the Environment's own writes, an Event, the diagnosis lists.
  std::vector<std::string> envs;
  for (int i = 0; i < o.n; ++i) envs.push_back(absl::StrFormat("cost-e-%05d", i));
  measure("create", "environments", [&](int i) {
    return client.Create(v1alpha1::kEnvironments, o.ns, EnvJson(o.ns, envs[i], i)).ok();
  });
  measure("patch", "environments (finalizer)", [&](int i) {
    return client
        .Patch(v1alpha1::kEnvironments, o.ns, envs[i], kube::PatchType::kMerge,
               R"({"metadata":{"finalizers":["catalyst.dev/finalizer"]}})")
        .ok();
  });
  measure("patch", "environments/status", [&](int i) {
    return client
        .Patch(v1alpha1::kEnvironments, o.ns, envs[i], kube::PatchType::kMerge,
               StatusPatch(absl::StrCat(o.ns, "-", envs[i]), "Provisioning"), {}, "status")
        .ok();
  });
  measure("create", "events", [&](int i) {
    return client.Create(kube::resources::kEvents, o.ns, EventJson(o.ns, envs[i], i)).ok();
  });
  measure("list", "pods (label selector)", [&](int i) {
    return client
        .List(kube::resources::kPods, applied[i][0].object.Name(),
              {.label_selector = "app.kubernetes.io/managed-by=kube-operator"})
        .ok();
  });
  measure("list", "replicasets (label selector)", [&](int i) {
    return client
        .List(kube::resources::kReplicaSets, applied[i][0].object.Name(),
              {.label_selector = "app.kubernetes.io/managed-by=kube-operator"})
        .ok();
  });
  for (int pid : o.pause_pids) kill(pid, SIGCONT);

  // Leave nothing behind: the Environments (no finalizer owner runs: drop it) and the namespaces.
  for (const auto& e : envs) {
    (void)client.Patch(v1alpha1::kEnvironments, o.ns, e, kube::PatchType::kMerge,
                       R"({"metadata":{"finalizers":null}})");
    (void)client.Delete(v1alpha1::kEnvironments, o.ns, e);
  }
  for (const auto* set : {&created, &applied})
    for (const auto& objs : *set)
      (void)client.Delete(kube::resources::kNamespaces, "", objs.front().object.Name());

  std::ofstream f(o.out);
  f << absl::StrFormat(
           R"({"n":%d,"threads":%d,"idle_apiserver_cpu_percent":%.2f,"idle_etcd_cpu_percent":%.2f,"requests":[%s]})",
           o.n, o.threads, 100 * idle_rate, 100 * idle_etcd_rate, absl::StrJoin(rows, ","))
    << "\n";
  say(absl::StrCat("wrote ", o.out));
  return 0;
}
