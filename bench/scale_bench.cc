// Scale benchmark driver: against a running control plane and a
// running operator (started by scripts/bench.sh), creates N Environments and
// measures latencies from watches (the project's informers), the operator's
// RSS and CPU from /proc, and its API requests from the audit log. Writes one
// JSON object and a TSV time series.
//
// Phases: idle sample → ramp (create N, wait all Ready) → pause the kubelet
// simulator, settle, steady window → probes (one new Environment at a time
// while N resync) → resume the simulator, delete all.
//
// Any operator: its namespaces are found by --managed-by (the value of
// app.kubernetes.io/managed-by on them) and mapped back to their Environment
// by the catalyst.dev/environment annotation ("<ns>/<name>", kube-operator) or
// the catalyst.dev/environment-namespace and -name labels (the client-go
// reference). Per phase it also reports the CPU of the processes named by
// --pid (the API server, etcd, ...) and of the whole machine (/proc/stat).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "api/v1alpha1/resources.h"
#include "bench_client.h"
#include "informer/informer.h"
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
  std::string kubeconfig, audit_log, operator_user, out, series, ns = "bench";
  std::string label = "kube-operator", managed_by = "kube-operator", metrics_url;
  std::vector<std::pair<std::string, int>> pids;  // --pid=name:PID, CPU per phase
  int n = 100, operator_pid = 0, sim_pid = 0, threads = 16, probes = 20, del = 1;
  double steady_seconds = 60, settle_seconds = 15, idle_seconds = 10, timeout_seconds = 1800;
  // The ramp's request and CPU totals run this long past the last Ready: the
  // operator's last writes (a status, an Event) follow the Ready it caused.
  double ramp_tail_seconds = 5;
};

bool ParseFlags(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::pair<std::string, std::string> kv = absl::StrSplit(argv[i], absl::MaxSplits('=', 1));
    auto& [k, v] = kv;
    bool ok = true;
    if (k == "--kubeconfig")
      o.kubeconfig = v;
    else if (k == "--audit-log")
      o.audit_log = v;
    else if (k == "--operator-user")
      o.operator_user = v;
    else if (k == "--out")
      o.out = v;
    else if (k == "--series")
      o.series = v;
    else if (k == "--namespace")
      o.ns = v;
    else if (k == "--label")
      o.label = v;
    else if (k == "--managed-by")
      o.managed_by = v;
    else if (k == "--metrics-url")
      o.metrics_url = v;
    else if (k == "--pid") {
      std::pair<std::string, std::string> np = absl::StrSplit(v, absl::MaxSplits(':', 1));
      int pid = 0;
      ok = !np.first.empty() && absl::SimpleAtoi(np.second, &pid) && pid > 0;
      if (ok) o.pids.emplace_back(np.first, pid);
    } else if (k == "--n")
      ok = absl::SimpleAtoi(v, &o.n);
    else if (k == "--operator-pid")
      ok = absl::SimpleAtoi(v, &o.operator_pid);
    else if (k == "--sim-pid")
      ok = absl::SimpleAtoi(v, &o.sim_pid);
    else if (k == "--threads")
      ok = absl::SimpleAtoi(v, &o.threads);
    else if (k == "--probes")
      ok = absl::SimpleAtoi(v, &o.probes);
    else if (k == "--delete")
      ok = absl::SimpleAtoi(v, &o.del);
    else if (k == "--steady-seconds")
      ok = absl::SimpleAtod(v, &o.steady_seconds);
    else if (k == "--settle-seconds")
      ok = absl::SimpleAtod(v, &o.settle_seconds);
    else if (k == "--idle-seconds")
      ok = absl::SimpleAtod(v, &o.idle_seconds);
    else if (k == "--timeout-seconds")
      ok = absl::SimpleAtod(v, &o.timeout_seconds);
    else if (k == "--ramp-tail-seconds")
      ok = absl::SimpleAtod(v, &o.ramp_tail_seconds);
    else
      ok = false;
    if (!ok) {
      std::fprintf(stderr, "bad flag %s\n", argv[i]);
      return false;
    }
  }
  if (o.kubeconfig.empty() || o.operator_pid == 0 || o.out.empty()) {
    std::fprintf(stderr,
                 "usage: scale_bench --kubeconfig=F --operator-pid=P --out=F [--n=100] "
                 "[--sim-pid=P] [--audit-log=F --operator-user=U] [--series=F] [--threads=16] "
                 "[--probes=20] [--steady-seconds=60] [--settle-seconds=15] [--idle-seconds=10] "
                 "[--timeout-seconds=1800] [--namespace=bench] [--delete=1] [--label=NAME] "
                 "[--managed-by=kube-operator] [--pid=NAME:PID]... [--metrics-url=URL] "
                 "[--ramp-tail-seconds=5]\n");
    return false;
  }
  return true;
}

// /proc/PID figures.
struct ProcSample {
  long rss_kib = 0, hwm_kib = 0, threads = 0;
  double cpu_seconds = 0;
};

ProcSample Sample(int pid) {
  ProcSample s;
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(status, line);) {
    std::vector<absl::string_view> f =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (f.size() < 2) continue;
    if (f[0] == "VmRSS:") (void)absl::SimpleAtoi(f[1], &s.rss_kib);
    if (f[0] == "VmHWM:") (void)absl::SimpleAtoi(f[1], &s.hwm_kib);
    if (f[0] == "Threads:") (void)absl::SimpleAtoi(f[1], &s.threads);
  }
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  const size_t comm_end = text.rfind(") ");
  if (comm_end == std::string::npos) return s;  // the process is gone
  // Fields after the ")" closing comm: state is field 3, utime 14, stime 15.
  std::vector<absl::string_view> f =
      absl::StrSplit(absl::string_view(text).substr(comm_end + 2), ' ');
  long utime = 0, stime = 0;
  if (f.size() > 12 && absl::SimpleAtoi(f[11], &utime) && absl::SimpleAtoi(f[12], &stime))
    s.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  return s;
}

// The whole machine's CPU from /proc/stat: busy and total jiffies.
struct MachineSample {
  double busy = 0, total = 0;
};

MachineSample SampleMachine() {
  std::ifstream stat("/proc/stat");
  std::string line;
  std::getline(stat, line);  // "cpu  user nice system idle iowait irq softirq steal ..."
  std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
  MachineSample m;
  for (size_t i = 1; i < f.size() && i <= 8; ++i) {
    double v = 0;
    if (!absl::SimpleAtod(f[i], &v)) continue;
    m.total += v;
    if (i != 4 && i != 5) m.busy += v;  // idle and iowait are not busy
  }
  return m;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return absl::StrCat(a, " ", b, " ", c);
}

// The operator's own view of client-side throttling: the sum and count of
// rest_client_rate_limiter_duration_seconds over every verb, from its
// /metrics (curl). Absent metric (an operator without it): nullopt.
std::optional<std::pair<double, double>> ScrapeLimiter(const std::string& url) {
  if (url.empty()) return std::nullopt;
  FILE* p = popen(absl::StrCat("curl -fsS --max-time 5 '", url, "' 2>/dev/null").c_str(), "r");
  if (!p) return std::nullopt;
  std::string text;
  char buf[65536];
  for (size_t got; (got = fread(buf, 1, sizeof(buf), p)) > 0;) text.append(buf, got);
  pclose(p);
  double sum = 0, count = 0;
  bool seen = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    const bool is_sum = absl::StartsWith(line, "rest_client_rate_limiter_duration_seconds_sum");
    const bool is_count = absl::StartsWith(line, "rest_client_rate_limiter_duration_seconds_count");
    if (!is_sum && !is_count) continue;
    double v = 0;
    if (!absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) continue;
    (is_sum ? sum : count) += v, seen = true;
  }
  if (!seen) return std::nullopt;
  return std::make_pair(sum, count);
}

// Everything sampled at a phase boundary.
struct Snapshot {
  Time at;
  ProcSample op;
  MachineSample machine;
  std::map<std::string, double> cpu;  // --pid processes
  std::streamoff audit = 0;
  std::optional<std::pair<double, double>> limiter;
};

// CPU seconds of the --pid processes and the machine's busy share between two snapshots.
std::string CpuBetween(const Snapshot& a, const Snapshot& b) {
  std::string per;
  for (const auto& [name, cpu] : b.cpu) {
    auto it = a.cpu.find(name);
    if (it == a.cpu.end()) continue;
    absl::StrAppend(&per, per.empty() ? "" : ",", "\"", name,
                    absl::StrFormat("\":%.2f", cpu - it->second));
  }
  const double total = b.machine.total - a.machine.total;
  return absl::StrFormat(
      R"({"seconds":%.2f,"machine_busy_percent":%.1f,"machine_cpu_seconds":%.2f,"cpu_seconds":{%s}})",
      Seconds(a.at, b.at), total > 0 ? 100 * (b.machine.busy - a.machine.busy) / total : 0.0,
      (b.machine.busy - a.machine.busy) / static_cast<double>(sysconf(_SC_CLK_TCK)), per);
}

std::string LimiterBetween(const Snapshot& a, const Snapshot& b) {
  if (!a.limiter || !b.limiter) return "null";
  return absl::StrFormat(R"({"wait_seconds":%.3f,"requests":%.0f})",
                         b.limiter->first - a.limiter->first,
                         b.limiter->second - a.limiter->second);
}

std::string Percentiles(std::vector<double> v) {
  if (v.empty()) return R"({"count":0})";
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {  // nearest rank
    size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
    return v[std::clamp<size_t>(i, 1, v.size()) - 1];
  };
  return absl::StrFormat(R"({"count":%d,"p50":%.1f,"p99":%.1f,"max":%.1f})", v.size(), at(0.5),
                         at(0.99), v.back());
}

// Environments by name: when created (POST sent), when their namespace
// appeared, when they were first Ready. Fed by the informers' handlers.
class Tracker {
 public:
  struct Track {
    Time created;
    std::optional<Time> ns_at, ready_at;
  };
  void Created(const std::string& name, Time at) {
    std::lock_guard l(mu_);
    tracks_[name].created = at;
  }
  void NamespaceSeen(const std::string& name) {
    const Time now = Clock::now();
    std::lock_guard l(mu_);
    auto& t = tracks_[name];
    if (!t.ns_at) t.ns_at = now, ++namespaces_;
  }
  void EnvSeen(const kube::Object& env) {
    if (env.Str({"status", "phase"}) != "Ready") return;
    const Time now = Clock::now();
    std::lock_guard l(mu_);
    auto& t = tracks_[std::string(env.Name())];
    if (!t.ready_at) t.ready_at = now, ++ready_;
  }
  int ready() const {
    std::lock_guard l(mu_);
    return ready_;
  }
  int namespaces() const {
    std::lock_guard l(mu_);
    return namespaces_;
  }
  // Latencies in ms of the named Environments: create→namespace, create→Ready.
  std::pair<std::vector<double>, std::vector<double>> Latencies(
      const std::vector<std::string>& names, std::optional<Time>* last_ready) const {
    std::lock_guard l(mu_);
    std::vector<double> ns, ready;
    for (const auto& name : names) {
      auto it = tracks_.find(name);
      if (it == tracks_.end()) continue;
      const Track& t = it->second;
      if (t.ns_at) ns.push_back(1000 * Seconds(t.created, *t.ns_at));
      if (t.ready_at) {
        ready.push_back(1000 * Seconds(t.created, *t.ready_at));
        if (last_ready && (!*last_ready || **last_ready < *t.ready_at)) *last_ready = t.ready_at;
      }
    }
    return {ns, ready};
  }
  std::optional<Time> NamespaceAt(const std::string& name) const {
    std::lock_guard l(mu_);
    auto it = tracks_.find(name);
    return it == tracks_.end() ? std::nullopt : it->second.ns_at;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, Track> tracks_;
  int namespaces_ = 0, ready_ = 0;
};

class EnvHandler : public informer::EventHandler {
 public:
  explicit EnvHandler(Tracker* t) : t_(t) {}
  void OnAdd(const kube::Object& o) override { t_->EnvSeen(o); }
  void OnUpdate(const kube::Object&, const kube::Object& o) override { t_->EnvSeen(o); }
  void OnDelete(const kube::Object&) override {}

 private:
  Tracker* t_;
};

// Maps a managed namespace back to its Environment: kube-operator's annotation
// ("<ns>/<name>") or the client-go reference's two labels.
class NamespaceHandler : public informer::EventHandler {
 public:
  NamespaceHandler(Tracker* t, const std::string& ns)
      : t_(t), ns_(ns), prefix_(ns + "/"), floor_prefix_(FloorPrefix(ns)) {}
  void OnAdd(const kube::Object& o) override {
    absl::string_view ref = o.Annotation("catalyst.dev/environment");
    if (absl::ConsumePrefix(&ref, prefix_)) t_->NamespaceSeen(std::string(ref));
    if (o.Label("catalyst.dev/environment-namespace") == ns_)
      if (absl::string_view name = o.Label("catalyst.dev/environment-name"); !name.empty())
        t_->NamespaceSeen(std::string(name));
    if (absl::StartsWith(o.Name(), floor_prefix_)) t_->NamespaceSeen(std::string(o.Name()));
  }
  // The driver's own namespaces: the floor under a probe (see the probes).
  // Named after the Environments' namespace, so two runs on one control plane
  // (one per operator) never meet each other's.
  static std::string FloorPrefix(const std::string& ns) { return ns + "-floor-"; }
  static constexpr char kFloorLabel[] = "kube-operator-bench/floor=true";
  void OnUpdate(const kube::Object&, const kube::Object& o) override { OnAdd(o); }
  void OnDelete(const kube::Object&) override {}

 private:
  Tracker* t_;
  std::string ns_, prefix_, floor_prefix_;
};

std::string EnvJson(absl::string_view ns, absl::string_view name) {
  return absl::StrCat(
      R"({"apiVersion":"catalyst.catalyst.dev/v1alpha1","kind":"Environment","metadata":{"name":")",
      name, R"(","namespace":")", ns,
      R"("},"spec":{"type":"development","projectRef":{"name":"p"},"sources":[{"name":"web",)",
      R"("repositoryUrl":"https://github.com/org/repo","branch":"main","commitSha":"a1b2c3d"}]}})");
}

// Runs fn(i) for i in [0, n) on `threads` threads.
void Parallel(int n, int threads, const std::function<void(int)>& fn) {
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < std::min(n, threads); ++t)
    pool.emplace_back([&] {
      for (int i; (i = next++) < n;) fn(i);
    });
  for (auto& t : pool) t.join();
}

bool WaitUntil(double timeout_seconds, const std::function<bool()>& done) {
  const Time deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<long>(timeout_seconds * 1000));
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// API requests by the operator's user in the audit log between two offsets:
// distinct auditIDs (a watch logs ResponseStarted and ResponseComplete). A
// server-side apply (a PATCH naming a fieldManager and force) is counted as
// verb "apply", other patches stay "patch". by_code: the answers that were
// not 2xx (409 conflicts, 429s...). by_user: every user's total, for what
// else the API server served in the window.
std::string AuditCounts(const std::string& path, std::streamoff from, std::streamoff to,
                        const std::string& user) {
  std::ifstream in(path);
  in.seekg(from);
  std::set<std::string> seen, seen_all;
  std::map<std::string, int> by_verb, by_verb_resource, by_code, by_user;
  std::string line;
  while (in.tellg() < to && std::getline(in, line)) {
    auto ev = kube::Object::Parse(line);
    if (!ev.ok()) continue;
    if (seen_all.insert(std::string(ev->Str({"auditID"}))).second)
      ++by_user[std::string(ev->Str({"user", "username"}))];
    if (ev->Str({"user", "username"}) != user) continue;
    if (!seen.insert(std::string(ev->Str({"auditID"}))).second) continue;
    std::string verb(ev->Str({"verb"}));
    const absl::string_view uri = ev->Str({"requestURI"});
    if (verb == "patch" && absl::StrContains(uri, "fieldManager=") &&
        absl::StrContains(uri, "force=true"))
      verb = "apply";
    std::string resource(ev->Str({"objectRef", "resource"}));
    if (auto sub = ev->Str({"objectRef", "subresource"}); !sub.empty())
      absl::StrAppend(&resource, "/", sub);
    ++by_verb[verb];
    ++by_verb_resource[absl::StrCat(verb, " ", resource)];
    if (const int64_t code = ev->Int({"responseStatus", "code"}); code < 200 || code > 299)
      ++by_code[absl::StrCat(code, " ", verb, " ", resource)];
  }
  auto obj = [](const std::map<std::string, int>& m) {
    return absl::StrCat("{",
                        absl::StrJoin(m, ",",
                                      [](std::string* s, const auto& kv) {
                                        absl::StrAppend(s, "\"", kv.first, "\":", kv.second);
                                      }),
                        "}");
  };
  return absl::StrCat(R"({"total":)", seen.size(), R"(,"by_verb":)", obj(by_verb),
                      R"(,"by_verb_resource":)", obj(by_verb_resource), R"(,"by_code":)",
                      obj(by_code), R"(,"all_users_total":)", seen_all.size(), R"(,"by_user":)",
                      obj(by_user), "}");
}

std::streamoff FileSize(const std::string& path) {
  std::ifstream in(path, std::ios::ate);
  return in ? static_cast<std::streamoff>(in.tellg()) : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseFlags(argc, argv, o)) return 2;
  auto say = [](const std::string& s) {
    std::fprintf(stderr, "[scale_bench] %s\n", s.c_str()), std::fflush(stderr);
  };
  auto connected = bench::Connect(o.kubeconfig, o.ns);
  if (!connected.ok()) return say(connected.status().ToString()), 1;
  kube::Client& client = **connected;

  Tracker tracker;
  EnvHandler env_handler(&tracker);
  NamespaceHandler ns_handler(&tracker, o.ns);
  informer::Informer envs(
      std::make_unique<informer::ClientListerWatcher>(&client, v1alpha1::kEnvironments, o.ns),
      {.reflector = {.name = "environments"}});
  informer::Informer nss(std::make_unique<informer::ClientListerWatcher>(
                             &client, kube::resources::kNamespaces, "",
                             absl::StrCat("app.kubernetes.io/managed-by=", o.managed_by)),
                         {.reflector = {.name = "namespaces"}});
  // The driver's own namespaces (the floor under a probe), on a watch of their own.
  informer::Informer floors(
      std::make_unique<informer::ClientListerWatcher>(&client, kube::resources::kNamespaces, "",
                                                      NamespaceHandler::kFloorLabel),
      {.reflector = {.name = "floor-namespaces"}});
  envs.AddHandler(&env_handler);
  nss.AddHandler(&ns_handler);
  floors.AddHandler(&ns_handler);
  envs.Start();
  nss.Start();
  floors.Start();
  if (!WaitUntil(30, [&] { return envs.HasSynced() && nss.HasSynced(); }))
    return say("informers did not sync"), 1;

  // Time series, one row a second, for the chart.
  const Time t0 = Clock::now();
  std::atomic<bool> stop_series{false};
  std::atomic<const char*> phase{"idle"};
  std::ofstream series;
  if (!o.series.empty())
    series.open(o.series), series << "# t_s\tphase\trss_mib\tready\tnamespaces\tcpu_s\n";
  std::thread series_thread([&] {
    while (!stop_series) {
      const ProcSample s = Sample(o.operator_pid);
      if (series.is_open())
        series << absl::StrFormat("%.1f\t%s\t%.2f\t%d\t%d\t%.2f\n", Seconds(t0, Clock::now()),
                                  phase.load(), s.rss_kib / 1024.0, tracker.ready(),
                                  tracker.namespaces(), s.cpu_seconds)
               << std::flush;
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  });

  std::vector<std::string> out;  // JSON members
  auto finish = [&](int rc) {
    stop_series = true;
    series_thread.join();
    envs.Stop();
    nss.Stop();
    floors.Stop();
    std::ofstream f(o.out);
    f << "{" << absl::StrJoin(out, ",") << "}\n";
    say(absl::StrCat("wrote ", o.out));
    return rc;
  };
  out.push_back(absl::StrCat(R"("n":)", o.n));
  out.push_back(
      absl::StrCat(R"("operator":")", o.label, R"(","loadavg_start":")", LoadAverage(), R"(")"));
  auto snapshot = [&] {
    Snapshot s{.at = Clock::now(), .op = Sample(o.operator_pid), .machine = SampleMachine()};
    for (const auto& [name, pid] : o.pids) s.cpu[name] = Sample(pid).cpu_seconds;
    if (!o.audit_log.empty()) s.audit = FileSize(o.audit_log);
    s.limiter = ScrapeLimiter(o.metrics_url);
    return s;
  };
  auto audit = [&](const Snapshot& a, const Snapshot& b) {
    return o.audit_log.empty() ? std::string("null")
                               : AuditCounts(o.audit_log, a.audit, b.audit, o.operator_user);
  };

  // Idle: operator synced on an empty cluster.
  say("idle");
  const Snapshot idle_start = snapshot();
  std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<long>(o.idle_seconds * 1000)));
  const Snapshot idle_end = snapshot();
  const ProcSample& idle = idle_end.op;
  out.push_back(absl::StrFormat(
      R"("idle":{"rss_kib":%d,"threads":%d,"cpu_seconds_total":%.2f,"processes":%s})", idle.rss_kib,
      idle.threads, idle.cpu_seconds, CpuBetween(idle_start, idle_end)));

  // Ramp.
  say(absl::StrCat("ramp: creating ", o.n));
  phase = "ramp";
  std::vector<std::string> names;
  for (int i = 0; i < o.n; ++i) names.push_back(absl::StrFormat("env-%05d", i));
  std::atomic<int> create_errors{0};
  const std::string ramp_load = LoadAverage();
  const Snapshot ramp_from = snapshot();
  const Time ramp_start = ramp_from.at;
  const ProcSample& before_ramp = ramp_from.op;
  Parallel(o.n, o.threads, [&](int i) {
    tracker.Created(names[i], Clock::now());
    if (auto s = client.Create(v1alpha1::kEnvironments, o.ns, EnvJson(o.ns, names[i])); !s.ok())
      ++create_errors, say(s.status().ToString());
  });
  const double create_seconds = Seconds(ramp_start, Clock::now());
  say(absl::StrFormat("created in %.1f s; waiting for Ready", create_seconds));
  int logged_tenths = 0;
  const bool all_ready = WaitUntil(o.timeout_seconds, [&] {
    const int r = tracker.ready();
    if (r * 10 / o.n > logged_tenths)
      logged_tenths = r * 10 / o.n,
      say(absl::StrFormat("%d Ready after %.1f s", r, Seconds(ramp_start, Clock::now())));
    return r >= o.n;
  });
  const Snapshot ramp_ready = snapshot();
  const ProcSample& after_ramp = ramp_ready.op;
  // The tail: what the operator still sends because of the last Ready (its
  // Event, a last status) belongs to the ramp.
  std::this_thread::sleep_for(
      std::chrono::milliseconds(static_cast<long>(o.ramp_tail_seconds * 1000)));
  const Snapshot ramp_to = snapshot();
  std::optional<Time> last_ready;
  auto [ns_lat, ready_lat] = tracker.Latencies(names, &last_ready);
  out.push_back(absl::StrFormat(
      R"("ramp":{"all_ready":%s,"create_errors":%d,"create_seconds":%.2f,"all_ready_seconds":%.2f,)"
      R"("create_to_namespace_ms":%s,"create_to_ready_ms":%s,"cpu_seconds":%.2f,"rss_kib_end":%d,"hwm_kib_end":%d,)"
      R"("loadavg_start":"%s","processes":%s,"limiter":%s,)"
      R"("tail_seconds":%.1f,"processes_with_tail":%s,"api_requests":%s})",
      all_ready ? "true" : "false", create_errors.load(), create_seconds,
      last_ready ? Seconds(ramp_start, *last_ready) : -1.0, Percentiles(ns_lat),
      Percentiles(ready_lat), after_ramp.cpu_seconds - before_ramp.cpu_seconds, after_ramp.rss_kib,
      after_ramp.hwm_kib, ramp_load, CpuBetween(ramp_from, ramp_ready),
      LimiterBetween(ramp_from, ramp_ready), o.ramp_tail_seconds, CpuBetween(ramp_from, ramp_to),
      audit(ramp_from, ramp_to)));
  if (!all_ready) return say("not all Ready before the timeout"), finish(1);

  // Steady state: simulator paused so nothing but the operator's resync moves.
  say("steady: pausing the simulator, settling");
  phase = "steady";
  if (o.sim_pid) kill(o.sim_pid, SIGSTOP);
  std::this_thread::sleep_for(
      std::chrono::milliseconds(static_cast<long>(o.settle_seconds * 1000)));
  const Snapshot steady_from = snapshot();
  const ProcSample& steady_start = steady_from.op;
  std::this_thread::sleep_for(
      std::chrono::milliseconds(static_cast<long>(o.steady_seconds * 1000)));
  const Snapshot steady_to = snapshot();
  const ProcSample& steady_end = steady_to.op;
  const double steady_s = Seconds(steady_from.at, steady_to.at);
  std::this_thread::sleep_for(std::chrono::seconds(1));  // let the audit backend write
  Snapshot steady_audit = steady_to;
  steady_audit.audit = o.audit_log.empty() ? 0 : FileSize(o.audit_log);
  const double steady_cpu = steady_end.cpu_seconds - steady_start.cpu_seconds;
  out.push_back(absl::StrFormat(
      R"("steady":{"seconds":%.1f,"cpu_seconds":%.2f,"cpu_percent_of_core":%.2f,"rss_kib":%d,"threads":%d,"processes":%s,"api_requests":%s})",
      steady_s, steady_cpu, 100 * steady_cpu / steady_s, steady_end.rss_kib, steady_end.threads,
      CpuBetween(steady_from, steady_to), audit(steady_from, steady_audit)));

  // Probes: one new Environment at a time while the N resync every 5 s. The
  // spacing is not a multiple of 5 s, so probes land across the resync cycle.
  say("probes");
  phase = "probe";
  std::vector<std::string> probe_names, floor_names;
  for (int i = 0; i < o.probes; ++i) {
    const std::string name = absl::StrFormat("probe-%03d", i);
    probe_names.push_back(name);
    tracker.Created(name, Clock::now());
    if (auto s = client.Create(v1alpha1::kEnvironments, o.ns, EnvJson(o.ns, name)); !s.ok())
      say(s.status().ToString());
    WaitUntil(30, [&] { return tracker.NamespaceAt(name).has_value(); });
    // The floor under that: a namespace the driver creates itself, seen
    // through a watch of its own — one API write and its watch event, where the
    // operator's path is three writes (the Environment, its finalizer, the
    // namespace) and two watch hops.
    const std::string floor = absl::StrCat(NamespaceHandler::FloorPrefix(o.ns), i);
    floor_names.push_back(floor);
    tracker.Created(floor, Clock::now());
    if (auto s = client.Create(
            kube::resources::kNamespaces, "",
            absl::StrCat(R"({"apiVersion":"v1","kind":"Namespace",)", R"("metadata":{"name":")",
                         floor, R"(","labels":{"kube-operator-bench/floor":"true"}}})"));
        !s.ok())
      say(s.status().ToString());
    WaitUntil(30, [&] { return tracker.NamespaceAt(floor).has_value(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(737));
  }
  out.push_back(absl::StrCat(R"("probe":{"create_to_namespace_ms":)",
                             Percentiles(tracker.Latencies(probe_names, nullptr).first),
                             R"(,"floor_namespace_create_to_watch_ms":)",
                             Percentiles(tracker.Latencies(floor_names, nullptr).first), "}"));

  // Resumed here, not only for the deletion: with --delete=0 the next
  // operator of the run would otherwise find the simulator stopped.
  if (o.sim_pid) kill(o.sim_pid, SIGCONT);  // pods need it to finish terminating
  if (!o.del) {
    out.push_back(absl::StrFormat(R"("rss_hwm_kib":%d)", Sample(o.operator_pid).hwm_kib));
    return finish(0);
  }
  // Delete all; an Environment is gone once the operator saw its namespace go.
  say("delete");
  phase = "delete";
  names.insert(names.end(), probe_names.begin(), probe_names.end());
  const Snapshot del_from = snapshot();
  const Time del_start = del_from.at;
  Parallel(static_cast<int>(names.size()), o.threads, [&](int i) {
    if (auto s = client.Delete(v1alpha1::kEnvironments, o.ns, names[i]); !s.ok()) say(s.ToString());
  });
  const double delete_issued = Seconds(del_start, Clock::now());
  const bool all_gone = WaitUntil(o.timeout_seconds, [&] { return envs.store().Size() == 0; });
  const Snapshot del_to = snapshot();
  const double all_gone_s = Seconds(del_start, del_to.at);
  const ProcSample& end = del_to.op;
  std::this_thread::sleep_for(std::chrono::seconds(1));  // let the audit backend write
  const Snapshot del_audit = snapshot();
  out.push_back(absl::StrFormat(
      R"("delete":{"all_gone":%s,"deletes_sent_seconds":%.2f,"all_gone_seconds":%.2f,)"
      R"("cpu_seconds":%.2f,"processes":%s,"api_requests":%s},"rss_hwm_kib":%d,"rss_kib_end":%d)",
      all_gone ? "true" : "false", delete_issued, all_gone_s,
      end.cpu_seconds - del_from.op.cpu_seconds, CpuBetween(del_from, del_to),
      audit(del_from, del_audit), end.hwm_kib, end.rss_kib));
  return finish(all_gone ? 0 : 1);
}
