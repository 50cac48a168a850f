#!/usr/bin/env python3
"""The tables of docs/benchmarks.md section 1, computed from an http_cost run's rounds.tsv.

    python3 scripts/bench/http_cost_table.py results/benchmarks/http_cost/<UTC>/rounds.tsv

Every figure is a median over the rounds (with min-max where it says so) of values in rounds.tsv;
"CPU s / 100k (nginx count)" divides the tool's whole-process CPU by the requests nginx served in the run.
"""
import csv
import statistics
import sys

rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
v = {}
for r in rows:
    try:
        v.setdefault((r["case"], r["tool"], r["metric"]), {})[r["round"]] = float(r["value"])
    except ValueError:
        pass
cases = list(dict.fromkeys(r["case"] for r in rows))
tools = list(dict.fromkeys(r["tool"] for r in rows))


def vals(c, t, m):
    return list(v.get((c, t, m), {}).values())


def med(c, t, m):
    x = vals(c, t, m)
    return statistics.median(x) if x else None


def per_round(c, t, f):
    """f(round values dict) per round, for derived figures."""
    out = []
    rounds = set()
    for (cc, tt, _), d in v.items():
        if cc == c and tt == t:
            rounds |= set(d)
    for r in sorted(rounds):
        d = {m: v[(c, t, m)][r] for (cc, tt, m) in v if cc == c and tt == t and r in v[(c, t, m)]}
        x = f(d)
        if x is not None:
            out.append(x)
    return out


def fmt(x, d=2):
    if x is None:
        return "n/a"
    return f"{x:,.{d}f}"


def rng(x, d=2):
    if not x:
        return "n/a"
    return f"{fmt(statistics.median(x), d)} ({fmt(min(x), d)}-{fmt(max(x), d)})"


def nginx_based(d):
    if d.get("nginx_requests"):
        return d["cpu_s"] / d["nginx_requests"] * 100000
    return None


def user_per_100k(d):
    if d.get("requests") and "user_s" in d:
        return d["user_s"] / d["requests"] * 100000
    return None


def sys_per_100k(d):
    if d.get("requests") and "sys_s" in d:
        return d["sys_s"] / d["requests"] * 100000
    return None


def med_of(x):
    return statistics.median(x) if x else None


for c in cases:
    if c.startswith("arrival") or c == "probe200":
        continue
    rate = c[4:] if c.startswith("rate") else None
    title = f"fixed rate {int(rate):,}/s asked" if rate else "full speed (closed loop, 64 connections)"
    print(f"**{title}**")
    print()
    print("| tool | rate reached /s | steady rate /s (nginx) | CPU s / 100k (whole run) | CPU s / 100k (nginx count) "
          "| steady CPU s / 100k | steady ratio to wrk | user / sys CPU s / 100k | context switches / request | nginx CPU s / 100k "
          "| p50 / p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    w = med(c, "wrk", "steady_cpu_per_100k")
    for t in tools:
        if (c, t, "cpu_s") not in v:
            continue
        s = med(c, t, "steady_cpu_per_100k")
        ratio = fmt(s / w) if s is not None and w else "n/a"
        err = vals(c, t, "errors")
        print(f"| {t} | {fmt(med(c, t, 'rps'), 0)} | {fmt(med(c, t, 'steady_rps'), 0)} | "
              f"{rng(vals(c, t, 'cpu_per_100k'))} | {fmt(med_of(per_round(c, t, nginx_based)))} | "
              f"{rng(vals(c, t, 'steady_cpu_per_100k'))} | {ratio} | "
              f"{fmt(med_of(per_round(c, t, user_per_100k)))} / {fmt(med_of(per_round(c, t, sys_per_100k)))} | "
              f"{fmt(med(c, t, 'csw_per_req'))} | {fmt(med(c, t, 'nginx_cpu_per_100k'))} | "
              f"{fmt(med(c, t, 'p50_ms'), 2)} / {fmt(med(c, t, 'p99_ms'), 2)} | {fmt(sum(err), 0) if err else 'n/a'} |")
    print()

arr = [c for c in cases if c.startswith("arrival")]
if arr:
    print("**arrival-rate check** (`arrival_rate.lua`, loadgen only)")
    print()
    print("| rate | due | run: median (min-max) | shortfall % median (worst) | unstarted + dropped (median) "
          "| lateness p50 / p99 ms (median) | lateness p99 ms (worst round) | loadgen CPU s | CPU % of the machine |")
    print("|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    for c in arr:
        run = vals(c, "loadgen", "run")
        sf = vals(c, "loadgen", "shortfall_pct")
        lost = per_round(c, "loadgen", lambda d: d.get("unstarted", 0) + d.get("dropped", 0))
        lp = vals(c, "loadgen", "lateness_p99_ms")
        print(f"| {int(c[7:]):,}/s | {fmt(med(c, 'loadgen', 'due'), 0)} | {rng(run, 0)} | "
              f"{fmt(statistics.median(sf) if sf else None)} ({fmt(min(sf) if sf else None)}) | "
              f"{fmt(statistics.median(lost) if lost else None, 0)} | "
              f"{fmt(med(c, 'loadgen', 'lateness_p50_ms'), 3)} / {fmt(med(c, 'loadgen', 'lateness_p99_ms'), 3)} | "
              f"{fmt(max(lp) if lp else None, 3)} | {fmt(med(c, 'loadgen', 'cpu_s'))} | "
              f"{fmt(med(c, 'loadgen', 'cpu_share_pct'), 0)} |")
    print()

if any(c == "probe200" for c in cases):
    print("**fixed cost** (1 s at 200 requests/s, once before the rounds)")
    print()
    print("| tool | CPU s | wall s |")
    print("|---|---:|---:|")
    for t in tools:
        if ("probe200", t, "cpu_s") in v:
            print(f"| {t} | {fmt(med('probe200', t, 'cpu_s'))} | {fmt(med('probe200', t, 'wall_s'))} |")
