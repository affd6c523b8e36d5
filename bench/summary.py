#!/usr/bin/env python3
"""Prints the results JSON of scripts/bench.sh as a markdown table (one column per N)."""
import json
import sys


def row(name, runs, fn):
    cells = []
    for r in runs:
        try:
            cells.append(fn(r))
        except (KeyError, TypeError):
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


def main():
    res = json.load(open(sys.argv[1]))
    runs = res["runs"]
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


if __name__ == "__main__":
    main()
