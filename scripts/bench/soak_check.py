#!/usr/bin/env python3
"""Judges a soak run (scripts/bench/soak.sh): reads OUT_DIR/result.json, server_counts.json, rss.tsv and
meta.txt, writes OUT_DIR/summary.md and OUT_DIR/rss.svg (loadgen's RSS and each operation's throughput
over the run), exits 0 when every criterion holds and 1 otherwise.

    python3 scripts/bench/soak_check.py OUT_DIR LOADGEN_EXIT_CODE

Criteria (the warm-up is the first five minutes, or the first quarter of a shorter run):
- loadgen exited 0 and its result says completed;
- RSS flat: the mean RSS of every window (5 minutes, or a quarter of a shorter run) after the warm-up
  within RSS_TOLERANCE_PCT (default 5 %) of the first such window's;
- throughput: every full 10-second window of every operation (the load's first and last 2 s left out)
  within THROUGHPUT_TOLERANCE_PCT (default 5 %) of its rate x 10;
- counts: what the servers acknowledged to the run (soak_*_acked counters) equals the servers' own
  counts (Kafka high watermarks, ES _count, Phoenix COUNT(*)); records the run consumed equal the
  group's committed offsets;
- errors: under 0.1 % of each operation's calls;
- latency stable, that is, not climbing: per window (5 minutes, or a quarter of a shorter run) the
  median of the per-second p99s; every window after the warm-up at most twice the first one after it,
  plus 1 ms (servers still warming up make it fall, which is not instability).
"""
import json
import os
import statistics
import sys

OPS = {  # operation metric -> (rate env, default)
    "http.request": ("HTTP_RATE", 200),
    "kafka.produce": ("KAFKA_RATE", 200),
    "es.bulk": ("ES_RATE", 5),
    "es.search": ("SEARCH_RATE", 2),
    "phoenix.execute": ("PHOENIX_RATE", 50),
}
COUNTS = [  # (what the run counted, what the server counted, label)
    ("soak_kafka_acked", "kafka_high_watermark", "Kafka records acknowledged / topic high watermarks"),
    ("soak_kafka_consumed", "kafka_committed", "Kafka records consumed / the group's committed offsets"),
    ("soak_es_acked", "es_count", "Elasticsearch documents acknowledged / _count"),
    ("soak_phoenix_acked", "phoenix_count", "Phoenix rows acknowledged / COUNT(*)"),
]


def main():
    out, lg_rc = sys.argv[1], int(sys.argv[2])
    rates = {op: float(os.environ.get(env, d)) for op, (env, d) in OPS.items()}
    checks = []  # (criterion, ok, detail)

    def check(name, ok, detail):
        checks.append((name, bool(ok), detail))

    try:
        r = json.load(open(os.path.join(out, "result.json")))
    except (OSError, ValueError) as e:
        r = None
        check("result file", False, f"cannot read result.json: {e}")
    check("loadgen exit code", lg_rc == 0, f"exit {lg_rc}")
    rss = []
    for line in open(os.path.join(out, "rss.tsv")).read().splitlines()[1:]:
        t, kib, cpu = line.split("\t")[:3]
        rss.append((int(t), int(kib), float(cpu)))
    lines = []
    if r is not None:
        check("result status", r["status"] == "completed", r["status"])
        lines += judge(r, rss, rates, out, check)
    md = ["# Soak", ""]
    md += [f"    {l}" for l in open(os.path.join(out, "meta.txt")).read().splitlines()]
    md += ["", "| criterion | holds | measured |", "|---|---|---|"]
    md += [f"| {n} | {'yes' if ok else '**NO**'} | {d} |" for n, ok, d in checks]
    md += [""] + lines
    md += ["", "Raw files: result.json (loadgen), rss.tsv (loadgen's RSS and CPU every few seconds from "
           "/proc), server_counts.json (the servers' counts, written by the script's teardown), "
           "loadgen.log; chart: rss.svg."]
    open(os.path.join(out, "summary.md"), "w").write("\n".join(md) + "\n")
    failed = [n for n, ok, _ in checks if not ok]
    if failed:
        print("soak: criteria not met: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


def per_second(r, op):
    """(t, count, errors, p99) for every second of the load (0 for seconds without the operation)."""
    ts = [s["t"] for s in r["series"]]
    if not ts:
        return []
    by_t = {s["t"]: s["metrics"].get(op) for s in r["series"]}
    rows = []
    for t in range(min(ts), max(ts) + 1):
        m = by_t.get(t)
        rows.append((t, m["count"] if m else 0, m["errors"] if m else 0, m["p99"] if m else None))
    return rows


def judge(r, rss, rates, out, check):
    lines = []
    secs = {op: per_second(r, op) for op in rates}
    if not any(secs.values()):
        check("per-second series", False, "the result has no seconds of load")
        return lines
    t_first = min(s[0][0] for s in secs.values() if s)
    t_last = max(s[-1][0] for s in secs.values() if s)
    span = t_last - t_first + 1
    warm = min(300, span // 4)
    # RSS: flat means no growth. The Lua states' garbage collection and the allocator move RSS up and
    # down by several MiB from sample to sample, so the criterion is on window means: every window
    # after the warm-up (5 minutes, or a quarter of a shorter run) within RSS_TOLERANCE_PCT of the
    # first. The spread of single samples is reported beside it.
    tol = float(os.environ.get("RSS_TOLERANCE_PCT", "5"))
    wlen = 300 if span >= 1200 else max(span // 4, 10)
    after = [(t, kib) for t, kib, _ in rss if t_first + warm <= t <= t_last]
    means = []
    for i in range((span - warm) // wlen):
        w = [kib for t, kib in after if t_first + warm + i * wlen <= t < t_first + warm + (i + 1) * wlen]
        if w:
            means.append(statistics.mean(w) / 1024)
    if len(means) >= 2:
        worst = max(abs(m - means[0]) / means[0] * 100 for m in means)
        lo, hi = min(k for _, k in after) / 1024, max(k for _, k in after) / 1024
        check(f"RSS flat after the warm-up ({wlen}-s window means within {tol:g} % of the first)", worst <= tol,
              f"means {', '.join(f'{m:.1f}' for m in means)} MiB (worst {worst:.2f} %); "
              f"samples {lo:.1f}-{hi:.1f} MiB, {len(after)} after {warm} s")
    else:
        check("RSS flat after the warm-up", False, f"{len(means)} windows after the warm-up")
    # Throughput per 10-second window (THROUGHPUT_TOLERANCE_PCT, default 5 %: the 2-minute soak of
    # scripts/test runs a debug build right after the fault tests restarted servers, whose stalls move
    # a few calls across windows)
    ttol = float(os.environ.get("THROUGHPUT_TOLERANCE_PCT", "5"))
    windows = {}
    for op, rows in secs.items():
        rows = [x for x in rows if t_first + 2 <= x[0] <= t_last - 2]
        want = rates[op] * 10
        ws = [sum(c for _, c, _, _ in rows[i:i + 10]) for i in range(0, len(rows) - 9, 10)]
        windows[op] = ws
        bad = [w for w in ws if abs(w - want) > ttol / 100 * want]
        per_s = [c for _, c, _, _ in rows]
        within10 = sum(1 for c in per_s if abs(c - rates[op]) <= 0.1 * rates[op]) / max(len(per_s), 1) * 100
        check(f"{op} at {rates[op]:g}/s, every 10-s window within {ttol:g} %", ws and not bad,
              f"{len(ws)} windows, {min(ws, default=0)}-{max(ws, default=0)} (want {want:g}); "
              f"per second {min(per_s, default=0)}-{max(per_s, default=0)}, {within10:.1f} % of seconds within 10 %")
    # Counts
    sc_path = os.path.join(out, "server_counts.json")
    sc = json.load(open(sc_path)) if os.path.exists(sc_path) else {}
    for ours, theirs, label in COUNTS:
        a = r["metrics"].get(ours, {}).get("sum")
        b = sc.get(theirs)
        check(label, a is not None and b is not None and int(a) == int(b) and a > 0,
              f"{a if a is None else int(a)} / {b}")
    # Errors
    for op in rates:
        m = r["metrics"].get(op, {})
        n, e = m.get("count", 0), m.get("error_count", 0)
        check(f"{op} errors under 0.1 %", n > 0 and e / n < 0.001, f"{e} of {n} ({m.get('errors', {})})")
    # Latency p99 per window
    lines += ["", f"Latency (from the scheduled start), median of the per-second p99s per {wlen}-s window, ms "
              f"(the stability criterion leaves out the windows that start in the warm-up):", ""]
    lines += ["| operation | " + " | ".join(f"{i * wlen // 60}-{(i + 1) * wlen // 60} min" if wlen >= 60
                                           else f"{i * wlen}-{(i + 1) * wlen} s"
                                           for i in range(span // wlen)) + " |"]
    lines += ["|---" * (span // wlen + 1) + "|"]
    for op, rows in secs.items():
        meds = []
        for i in range(span // wlen):
            p = [p99 for t, _, _, p99 in rows if p99 is not None and t_first + i * wlen <= t < t_first + (i + 1) * wlen]
            meds.append(statistics.median(p) if p else None)
        vals = [m for i, m in enumerate(meds) if m is not None and i * wlen >= warm]
        lines += [f"| {op} | " + " | ".join("-" if m is None else f"{m:.2f}" for m in meds) + " |"]
        # Stable means it does not climb as the run goes on (what a leak or a backlog would do);
        # servers still warming up after the warm-up make it fall, which is not instability.
        check(f"{op} p99 does not climb (every window after the warm-up <= 2 x the first + 1 ms)",
              vals and max(vals) <= 2 * vals[0] + 1.0,
              f"first {vals[0] if vals else 0:.2f} ms, then {min(vals, default=0):.2f}-{max(vals, default=0):.2f} ms over {len(vals)} windows")
    g = r["generator"]
    ops = sum(r["metrics"].get(op, {}).get("count", 0) for op in rates)
    lat = g.get("scheduler_lateness") or {}
    lines += ["", f"Generator: {g['cpu_seconds']:.1f} CPU s for {ops} operations "
              f"({g['cpu_seconds'] / max(ops, 1) * 1e6:.0f} µs each), peak RSS {g['peak_rss_bytes'] / 2**20:.1f} MiB, "
              f"scheduler lateness p99 {lat.get('p99', float('nan')):.3f} ms, max {lat.get('max', float('nan')):.3f} ms."]
    # soak.lua makes every VU before the load (pre_allocated_vus = max_vus): a VU made on demand
    # would be memory kept to the end, read as growth.
    made = ", ".join(f"{s['name']} {s.get('vus_max', '?')}" for s in r.get("scenarios", []))
    lines += [f"VUs initialised per scenario (soak.lua makes each before the load): {made}."]
    if rss:
        slope = growth_per_hour(rss, t_first + warm, t_last)
        lines += [f"RSS after the warm-up grows {slope:+.2f} MiB an hour (least squares over the samples)."]
    chart(out, rss, windows, rates, t_first, warm)
    return lines


def growth_per_hour(rss, since, until):
    pts = [(t, kib / 1024) for t, kib, _ in rss if since <= t <= until]
    if len(pts) < 2:
        return 0.0
    mt = statistics.mean(t for t, _ in pts)
    mv = statistics.mean(v for _, v in pts)
    den = sum((t - mt) ** 2 for t, _ in pts)
    return sum((t - mt) * (v - mv) for t, v in pts) / den * 3600 if den else 0.0


def chart(out, rss, windows, rates, t0, warm):
    """Two panels: loadgen's RSS (MiB) over minutes, and each operation's 10-s throughput in % of its rate."""
    w, h, left, top, ph, gap = 900, 560, 70, 40, 200, 70
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>']
    pw = w - left - 180
    tmax = max([t - t0 for t, _, _ in rss] + [len(v) * 10 + 2 for v in windows.values()] + [1])

    def panel(y0, title, ymin, ymax, unit, series):
        svg.append(f'<text x="{left}" y="{y0 - 10}" font-weight="bold">{title}</text>')
        svg.append(f'<rect x="{left}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
        # where the warm-up ends (the criteria look at what follows)
        xw = left + pw * warm / tmax
        svg.append(f'<line x1="{xw:.1f}" x2="{xw:.1f}" y1="{y0}" y2="{y0 + ph}" stroke="#888" stroke-dasharray="4 3"/>')
        svg.append(f'<text x="{xw + 4:.1f}" y="{y0 + 12}" fill="#666">end of warm-up</text>')
        for k in range(5):
            v = ymin + (ymax - ymin) * k / 4
            y = y0 + ph - ph * k / 4
            svg.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
            svg.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{v:.1f}{unit}</text>')
        for k in range(6):
            x = left + pw * k / 5
            svg.append(f'<text x="{x:.1f}" y="{y0 + ph + 16}" text-anchor="middle">{tmax * k / 5 / 60:.1f} min</text>')
        for i, (name, pts) in enumerate(series):
            if not pts:
                continue
            c = colors[i % len(colors)]
            path = " ".join(f"{left + pw * t / tmax:.1f},{y0 + ph - ph * (min(max(v, ymin), ymax) - ymin) / ((ymax - ymin) or 1):.1f}"
                            for t, v in pts)
            svg.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.5" points="{path}"/>')
            svg.append(f'<text x="{left + pw + 10}" y="{y0 + 14 + 16 * i}" fill="{c}">{name}</text>')

    mib = [(t - t0, kib / 1024) for t, kib, _ in rss]
    if mib:
        lo, hi = min(v for _, v in mib), max(v for _, v in mib)
        pad = max((hi - lo) * 0.1, 1)
        panel(top, "loadgen resident memory (RSS), MiB", max(lo - pad, 0), hi + pad, "", [("RSS", mib)])
    tp = [(op, [(2 + 10 * i + 5, 100 * v / (rates[op] * 10)) for i, v in enumerate(ws)]) for op, ws in windows.items()]
    panel(top + ph + gap, "throughput per 10-s window, % of the set rate", 90, 110, "%", tp)
    svg.append("</svg>")
    open(os.path.join(out, "rss.svg"), "w").write("\n".join(svg) + "\n")


if __name__ == "__main__":
    sys.exit(main())
