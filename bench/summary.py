#!/usr/bin/env python3
"""Prints the results JSON of scripts/bench.sh as markdown tables.

One operator per N (the scale bench): one column per N. Several operators per N (the burst
comparison, `--run kube-operator --run peer-go`): for each N a side-by-side table with the ratio
of each operator to the reference (`"reference"` in the JSON, the run the ratios divide by), then
the requests per new Environment by verb and resource (audit log; an `apply` is a server-side
apply PATCH)."""
import json
import sys
from collections import OrderedDict


def row(name, runs, fn):
    cells = []
    for r in runs:
        try:
            cells.append(fn(r))
        except (KeyError, TypeError, ZeroDivisionError):
            cells.append("–")
    return f"| {name} | " + " | ".join(cells) + " |"


def ms(d):
    return f"{d['p50'] / 1000:.2f} s / {d['p99'] / 1000:.2f} s" if d["p50"] >= 1000 else \
        f"{d['p50']:.0f} ms / {d['p99']:.0f} ms"


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def verbs(a):
    return f"{a['total']}" + (" (" + ", ".join(f"{k} {v}" for k, v in sorted(a["by_verb"].items())) + ")"
                              if a["by_verb"] else "")


def label(r):
    return r.get("operator", "kube-operator")


def scale_table(runs):
    print("| | " + " | ".join(f"N = {r['n']:,}" for r in runs) + " |")
    print("|---|" + "---|" * len(runs))
    for name, fn in [
        ("create → namespace p50 / p99", lambda r: ms(r["ramp"]["create_to_namespace_ms"])),
        ("create → Ready p50 / p99", lambda r: ms(r["ramp"]["create_to_ready_ms"])),
        ("time until all Ready", lambda r: f"{r['ramp']['all_ready_seconds']:.1f} s"),
        ("operator API requests during the ramp", lambda r: verbs(r["ramp"]["api_requests"])),
        ("operator CPU during the ramp", lambda r: f"{r['ramp']['cpu_seconds']:.1f} s"),
        ("RSS idle (0 Environments)", lambda r: mib(r["idle"]["rss_kib"])),
        ("RSS steady (all Ready)", lambda r: mib(r["steady"]["rss_kib"])),
        ("RSS peak (VmHWM, whole run)", lambda r: mib(r["rss_hwm_kib"])),
        ("CPU in 60 s of steady state", lambda r: f"{r['steady']['cpu_seconds']:.2f} s "
                                                  f"({r['steady']['cpu_percent_of_core']:.2f} % of a core)"),
        ("API requests in 60 s of steady state", lambda r: verbs(r["steady"]["api_requests"])),
        ("new Environment create → namespace p50 / p99 (while N resync)",
         lambda r: f"{ms(r['probe']['create_to_namespace_ms'])} "
                   f"({r['probe']['create_to_namespace_ms']['count']} probes)"),
        ("floor: the driver's own namespace create → watch p50 / p99",
         lambda r: ms(r["probe"]["floor_namespace_create_to_watch_ms"])
         if "floor_namespace_create_to_watch_ms" in r["probe"] else "–"),
        ("time to delete all", lambda r: f"{r['delete']['all_gone_seconds']:.1f} s"),
    ]:
        print(row(name, runs, fn))


def apiserver_cpu(r, phase="ramp"):
    return r[phase]["processes"]["cpu_seconds"]["kube-apiserver"]


# Side-by-side rows: (name, value -> number, number -> text). The ratio column divides numbers.
COMPARE = [
    ("time until all Ready", lambda r: r["ramp"]["all_ready_seconds"], lambda v: f"{v:.1f} s"),
    ("create → namespace p50", lambda r: r["ramp"]["create_to_namespace_ms"]["p50"] / 1000, lambda v: f"{v:.2f} s"),
    ("create → namespace p99", lambda r: r["ramp"]["create_to_namespace_ms"]["p99"] / 1000, lambda v: f"{v:.2f} s"),
    ("create → Ready p50", lambda r: r["ramp"]["create_to_ready_ms"]["p50"] / 1000, lambda v: f"{v:.2f} s"),
    ("create → Ready p99", lambda r: r["ramp"]["create_to_ready_ms"]["p99"] / 1000, lambda v: f"{v:.2f} s"),
    ("API requests in the ramp", lambda r: r["ramp"]["api_requests"]["total"], lambda v: f"{v:,.0f}"),
    ("… per second (until all Ready)", lambda r: r["ramp"]["api_requests"]["total"] / r["ramp"]["all_ready_seconds"],
     lambda v: f"{v:.1f}/s"),
    ("… per Environment", lambda r: r["ramp"]["api_requests"]["total"] / r["n"], lambda v: f"{v:.1f}"),
    ("API server CPU in the ramp", lambda r: apiserver_cpu(r), lambda v: f"{v:.1f} s"),
    ("API server CPU per Environment", lambda r: 1000 * apiserver_cpu(r) / r["n"], lambda v: f"{v:.0f} ms"),
    ("API server CPU per operator request", lambda r: 1000 * apiserver_cpu(r) / r["ramp"]["api_requests"]["total"],
     lambda v: f"{v:.1f} ms"),
    ("etcd CPU per Environment", lambda r: 1000 * r["ramp"]["processes"]["cpu_seconds"]["etcd"] / r["n"],
     lambda v: f"{v:.0f} ms"),
    ("control plane + operator CPU per Environment (API server, etcd, controller-manager, simulator, operator)",
     lambda r: 1000 * (sum(r["ramp"]["processes"]["cpu_seconds"].values()) + r["ramp"]["cpu_seconds"]) / r["n"],
     lambda v: f"{v:.0f} ms"),
    ("machine CPU busy in the ramp", lambda r: r["ramp"]["processes"]["machine_busy_percent"], lambda v: f"{v:.0f} %"),
    ("… of which other work on the machine (not this run's processes)",
     lambda r: 100 * (r["ramp"]["processes"]["machine_cpu_seconds"] - sum(r["ramp"]["processes"]["cpu_seconds"].values())
                      - r["ramp"]["cpu_seconds"]) / (r["ramp"]["processes"]["seconds"] * 2),
     lambda v: f"{v:.0f} %"),
    ("operator CPU in the ramp", lambda r: r["ramp"]["cpu_seconds"], lambda v: f"{v:.1f} s"),
    ("operator's client-side limiter wait (sum over requests)", lambda r: r["ramp"]["limiter"]["wait_seconds"],
     lambda v: f"{v:.1f} s"),
    ("load average at the ramp's start", lambda r: float(r["ramp"]["loadavg_start"].split()[0]), lambda v: f"{v:.1f}"),
    ("RSS idle", lambda r: r["idle"]["rss_kib"] / 1024, lambda v: f"{v:.1f} MiB"),
    ("RSS steady (all Ready)", lambda r: r["steady"]["rss_kib"] / 1024, lambda v: f"{v:.1f} MiB"),
    ("RSS peak (VmHWM)", lambda r: r["rss_hwm_kib"] / 1024, lambda v: f"{v:.1f} MiB"),
    ("steady: operator CPU in 60 s", lambda r: r["steady"]["cpu_seconds"], lambda v: f"{v:.2f} s"),
    ("steady: API requests in 60 s", lambda r: r["steady"]["api_requests"]["total"], lambda v: f"{v:.0f}"),
    ("probe create → namespace p50", lambda r: r["probe"]["create_to_namespace_ms"]["p50"], lambda v: f"{v:.0f} ms"),
    ("probe create → namespace p99", lambda r: r["probe"]["create_to_namespace_ms"]["p99"], lambda v: f"{v:.0f} ms"),
    ("time to delete all", lambda r: r["delete"]["all_gone_seconds"], lambda v: f"{v:.1f} s"),
    ("API requests in the deletion", lambda r: r["delete"]["api_requests"]["total"], lambda v: f"{v:,.0f}"),
    ("API server CPU in the deletion", lambda r: apiserver_cpu(r, "delete"), lambda v: f"{v:.1f} s"),
]


# Conditions, not results: no ratio.
NO_RATIO = {"… of which other work on the machine (not this run's processes)", "load average at the ramp's start",
            "machine CPU busy in the ramp"}


def value(fn, r):
    try:
        return fn(r)
    except (KeyError, TypeError, ZeroDivisionError, IndexError, ValueError, AttributeError):
        return None


def compare_table(n, runs, reference):
    ref = next((r for r in runs if label(r) == reference), None)
    others = [r for r in runs if r is not ref] if ref else runs
    head = [label(r) for r in runs]
    ratios = [f"{label(r)} / {reference}" for r in others] if ref else []
    print(f"\nN = {n:,}\n")
    print("| | " + " | ".join(head + ratios) + " |")
    print("|---|" + "---|" * (len(head) + len(ratios)))
    for name, fn, fmt in COMPARE:
        vals = [value(fn, r) for r in runs]
        if all(v is None for v in vals):
            continue
        cells = [fmt(v) if v is not None else "–" for v in vals]
        rv = value(fn, ref) if ref else None
        for r in others if ref else []:
            v = value(fn, r)
            cells.append(f"{v / rv:.2f}x" if v is not None and rv and name not in NO_RATIO else "–")
        print(f"| {name} | " + " | ".join(cells) + " |")
    # Requests per new Environment, by verb and resource, from the ramp's audit counts.
    keys = sorted({k for r in runs for k in (value(lambda x: x["ramp"]["api_requests"]["by_verb_resource"], r) or {})},
                  key=lambda k: (k.split(" ")[1], k))
    if not keys:
        return
    print(f"\nRequests per new Environment in the ramp (N = {n:,}), by verb and resource\n")
    print("| verb resource | " + " | ".join(head) + " |")
    print("|---|" + "---|" * len(head))
    for k in keys:
        cells = []
        for r in runs:
            c = r["ramp"]["api_requests"]["by_verb_resource"].get(k)
            cells.append(f"{c / r['n']:.2f}" if c else "–")
        print(f"| {k} | " + " | ".join(cells) + " |")
    print("| **total** | " + " | ".join(f"**{r['ramp']['api_requests']['total'] / r['n']:.2f}**" for r in runs) + " |")
    codes = [(label(r), k, v) for r in runs for k, v in sorted(r["ramp"]["api_requests"].get("by_code", {}).items())]
    if codes:
        print("\nNot 2xx in the ramp: " + "; ".join(f"{l}: {k} ×{v}" for l, k, v in codes))


def costs_table(c):
    """bench/request_cost_bench: API server and etcd CPU per request, by kind, create vs apply."""
    print(f"\nRequest costs ({c['n']} of each from {c['threads']} threads; controller-manager and simulator "
          f"paused; idle API server {c['idle_apiserver_cpu_percent']:.1f} % of a core subtracted)\n")
    print("| request | API server CPU (ms) | etcd CPU (ms) | latency p50 / p99 (ms) |")
    print("|---|---|---|---|")
    for q in c["requests"]:
        err = f" ({q['errors']} errors)" if q["errors"] else ""
        print(f"| {q['request']} {q['resource']}{err} | {q['apiserver_cpu_ms_per_request']:.2f} | "
              f"{q['etcd_cpu_ms_per_request']:.2f} | {q['latency_ms']['p50']:.1f} / {q['latency_ms']['p99']:.1f} |")


def main():
    res = json.load(open(sys.argv[1]))
    runs = res["runs"]
    by_n = OrderedDict()
    for r in runs:
        by_n.setdefault(r["n"], []).append(r)
    if all(len(g) == 1 for g in by_n.values()):
        scale_table(runs)
    else:
        for n, group in by_n.items():
            compare_table(n, group, res.get("reference", ""))
    for c in res.get("request_costs", []):
        costs_table(c)


if __name__ == "__main__":
    main()
