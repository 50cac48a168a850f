#!/usr/bin/env bash
# The tool's own cost per request, where the target is not the limit: loadgen (a Lua iteration per
# request) beside wrk (a Lua script building each request), oha, vegeta, Locust (FastHttpUser) and Goose,
# all against our own nginx (NGINX_WORKERS workers, default 2) serving a 1 KiB file on 127.0.0.1/1k.
#
#   scripts/bench/http_cost.sh                                   # 5 rounds, the full run
#   BENCH_ALLOW_FEW=1 BENCH_ROUNDS=1 DURATION=3s scripts/bench/http_cost.sh    # a trial
#
# Cases (case order and tool order rotated per round, harness.sh's bench_order):
#   rate10000, rate20000, rate40000   fixed rates (RATES): every tool asked for RATE requests/s with at
#                                     most CONNS connections (loadgen: constant-arrival-rate with CONNS
#                                     VUs; oha -q; vegeta -rate; Locust constant_throughput per user; Goose
#                                     --throttle-requests; wrk paced per connection with its Lua delay())
#   full                              closed loop, CONNS connections/VUs/users, as fast as nginx answers
#   arrival20000, arrival10000        loadgen only: scripts/bench/arrival_rate.lua -e RATE=R (its own
#                                     200 pre-allocated VUs, max 2000) for ARRIVAL_DURATION: iterations
#                                     due vs run, scheduler lateness, CPU
# Before the rounds: a header capture (each tool for 1 s at 200/s through an nginx that logs each
# request's headers -> headers.txt; its CPU is recorded as case probe200, the tool's fixed cost) and an
# unmeasured warm-up of WARMUP per tool.
#
# Environment: DURATION (10s), ARRIVAL_DURATION (10s), RATES ("10000 20000 40000"), ARRIVAL_RATES
# ("20000 10000"), CONNS (64), NGINX_WORKERS (2), WRK_THREADS (2), TOOLS ("loadgen wrk oha vegeta locust
# goose"), WARMUP (2s), PAUSE (1 s between runs), BENCH_ROUNDS (5), LOADGEN_BIN, OHA_BIN, VEGETA_BIN,
# LOCUST_BIN, GOOSE_BIN (defaults: where scripts/bench/install_peers.sh puts them).
# Raw outputs: results/benchmarks/http_cost/<UTC>/ (harness.sh); rounds.tsv holds every value,
# summary.md the median/min/max/spread, cost_table.md the medians side by side.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_COMMAND="$0 $*"
WORKERS="${NGINX_WORKERS:-2}"   # lib.sh's default is 1: read ours before sourcing it
# shellcheck source-path=SCRIPTDIR source=harness.sh
source "$HERE/harness.sh"

DURATION="${DURATION:-10s}"
ARRIVAL_DURATION="${ARRIVAL_DURATION:-10s}"
RATES="${RATES:-10000 20000 40000}"
ARRIVAL_RATES="${ARRIVAL_RATES:-20000 10000}"
CONNS="${CONNS:-64}"
WRK_THREADS="${WRK_THREADS:-2}"
TOOLS="${TOOLS:-loadgen wrk oha vegeta locust goose}"
WARMUP="${WARMUP:-2s}"
PAUSE="${PAUSE:-1}"
NGINX_WORKERS="$WORKERS"
# shellcheck source-path=SCRIPTDIR source=http_tools.sh
source "$HERE/http_tools.sh"
DUR_S="$(bench_duration_seconds "$DURATION")"
ARR_S="$(bench_duration_seconds "$ARRIVAL_DURATION")"
export BENCH_TIMEOUT="${BENCH_TIMEOUT:-$((DUR_S > ARR_S ? DUR_S + 60 : ARR_S + 60))}"

bench_need jq jq
bench_need curl curl
bench_need wrk wrk

ACTIVE=()
for t in $TOOLS; do
    if tool_ok "$t"; then ACTIVE+=("$t"); else bench_log "$t: not installed (scripts/bench/install_peers.sh), left out"; fi
done
[ "${#ACTIVE[@]}" -gt 0 ] || bench_die "no tool to run"

TMP_RAW="$(mktemp -d /tmp/loadgen-bench-httpcost.XXXXXX)"   # vegeta's binary results (large, not kept)
cleanup() { nginx_stop; rm -rf "$TMP_RAW"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_begin http_cost
versions=""
for t in "${ACTIVE[@]}"; do versions="$versions$t $(tool_version "$t"), "; done
bench_meta tools "${versions%, }"
bench_meta loadgen_bin "$LOADGEN ($(stat -c '%y' "$LOADGEN" 2>/dev/null))"
bench_meta target "$(nginx_version), $NGINX_WORKERS worker(s), keep-alive, access_log off, GET /1k (1024 bytes)"
bench_meta settings "DURATION=$DURATION ARRIVAL_DURATION=$ARRIVAL_DURATION RATES=\"$RATES\" ARRIVAL_RATES=\"$ARRIVAL_RATES\" CONNS=$CONNS WRK_THREADS=$WRK_THREADS WARMUP=$WARMUP PAUSE=$PAUSE"
bench_meta load_before "$(cat /proc/loadavg)"
cp "$HERE/http_cost.lua" "$HERE/http_cost_wrk.lua" "$HERE/http_cost_locust.py" "$HERE/arrival_rate.lua" "$OUT_DIR/"
cp "$HERE/goose/src/main.rs" "$OUT_DIR/goose_main.rs" 2>/dev/null

# 1. What each tool sends: 1 s of each at 200 requests/s through an nginx that logs the headers.
HDR_PORT=$((NGINX_PORT + 1))
NGINX_ACCESS_LOG="$TMP_RAW/access.log" nginx_start "$HDR_PORT"
for t in "${ACTIVE[@]}"; do
    : >"$TMP_RAW/access.log"
    run_tool "$t" 200 1s "$t" "$TMP_RAW/hdr" "http://127.0.0.1:$HDR_PORT/1k" 2>/dev/null
    # the same 1 s run tells each tool's fixed cost (process start, set-up) beside ~200 requests
    bench_record probe200 "$t" 1 requests "$R_N" cpu_s "$(bench_calc 'a + b' "$BT_USER" "$BT_SYS")" \
        wall_s "$BT_WALL" rss_mib "$(bench_kib_to_mib "$BT_RSS_KB")"
    sleep 0.5
    {
        echo "== $t: $(wc -l <"$TMP_RAW/access.log") requests logged by nginx, the tool counted ${R_N:-n/a}; distinct request shapes:"
        sed -E 's/^/    /' "$TMP_RAW/access.log" | sort | uniq -c | sort -rn
    } >>"$OUT_DIR/headers.txt"
done
nginx_stop

# 2. The measured target, warm-up, rounds
nginx_start "$NGINX_PORT"
for t in "${ACTIVE[@]}"; do
    bench_log "warm-up: $t for $WARMUP at ${RATES%% *}/s (not measured)"
    run_tool "$t" "${RATES%% *}" "$WARMUP" "$t" "$TMP_RAW/warmup" "http://127.0.0.1:$NGINX_PORT/1k" 2>/dev/null
done

CASES=()
for rate in $RATES; do CASES+=("rate$rate"); done
CASES+=(full)
for rate in $ARRIVAL_RATES; do CASES+=("arrival$rate"); done
[ -x "$LOADGEN" ] || CASES=("${CASES[@]/arrival*/}")

for ((r = 1; r <= BENCH_ROUNDS; r++)); do
    for c in $(bench_order "$r" "${CASES[@]}"); do
        case "$c" in
            rate*)
                for t in $(bench_order "$r" "${ACTIVE[@]}"); do measured "$t" "${c#rate}" "$c" "$r"; done ;;
            full)
                for t in $(bench_order "$r" "${ACTIVE[@]}"); do measured "$t" 0 full "$r"; done ;;
            arrival*)
                arrival "${c#arrival}" "$r" ;;
        esac
    done
done
bench_meta load_after "$(cat /proc/loadavg)"

# 3. The medians side by side (from rounds.tsv)
python3 - "$OUT_DIR/rounds.tsv" >"$OUT_DIR/cost_table.md" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
v = {}
for r in rows:
    try:
        v.setdefault((r["case"], r["tool"], r["metric"]), []).append(float(r["value"]))
    except ValueError:
        pass
def med(c, t, m):
    x = v.get((c, t, m))
    return statistics.median(x) if x else None
def f(x, d=2):
    return "n/a" if x is None else f"{x:,.{d}f}"
cases = list(dict.fromkeys(r["case"] for r in rows))
tools = list(dict.fromkeys(r["tool"] for r in rows))
print("Medians over the rounds (rounds.tsv). CPU is the tool's own user+sys for the whole process (GNU time), per 100k")
print("responses it counted; steady = the tool's process tree CPU per 100k requests nginx served from 1 s after the load")
print("began to 1 s before it ended; rate = responses / set duration; nginx CPU is its workers' during the run.")
print()
print("| case | tool | rate reached /s | CPU s | CPU s / 100k | ratio to wrk | steady CPU s / 100k | steady ratio to wrk | nginx CPU s / 100k | p50 ms | p99 ms | max RSS MiB | errors | rounds |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for c in cases:
    if c.startswith("arrival") or c == "probe200":
        continue
    w = med(c, "wrk", "cpu_per_100k")
    for t in tools:
        if (c, t, "cpu_s") not in v:
            continue
        p = med(c, t, "cpu_per_100k")
        ratio = f(p / w) if p is not None and w else "n/a"
        sp, sw = med(c, t, "steady_cpu_per_100k"), med(c, "wrk", "steady_cpu_per_100k")
        sratio = f(sp / sw) if sp is not None and sw else "n/a"
        print(f"| {c} | {t} | {f(med(c, t, 'rps'), 0)} | {f(med(c, t, 'cpu_s'))} | {f(p, 3)} | {ratio} | {f(sp, 3)} | {sratio} | "
              f"{f(med(c, t, 'nginx_cpu_per_100k'), 3)} | {f(med(c, t, 'p50_ms'), 3)} | {f(med(c, t, 'p99_ms'), 3)} | "
              f"{f(med(c, t, 'rss_mib'), 1)} | {f(med(c, t, 'errors'), 0)} | {len(v[(c, t, 'cpu_s')])} |")
if "probe200" in cases:
    print()
    print("Fixed cost: each tool's 1 s run at 200 requests/s before the rounds (process start and set-up included).")
    print()
    print("| tool | requests | CPU s | wall s | max RSS MiB |")
    print("|---|---:|---:|---:|---:|")
    for t in tools:
        if ("probe200", t, "cpu_s") in v:
            print(f"| {t} | {f(med('probe200', t, 'requests'), 0)} | {f(med('probe200', t, 'cpu_s'))} | "
                  f"{f(med('probe200', t, 'wall_s'))} | {f(med('probe200', t, 'rss_mib'), 1)} |")
arr = [c for c in cases if c.startswith("arrival")]
if arr:
    print()
    print("| arrival-rate check | iterations due | run (median) | min run | shortfall % (median) | lateness p99 ms (median, max of rounds) | CPU s | CPU % of machine | rounds |")
    print("|---|---:|---:|---:|---:|---|---:|---:|---:|")
    for c in arr:
        runs = v.get((c, "loadgen", "run"), [])
        lp = v.get((c, "loadgen", "lateness_p99_ms"), [])
        print(f"| {c} | {f(med(c, 'loadgen', 'due'), 0)} | {f(med(c, 'loadgen', 'run'), 0)} | {f(min(runs) if runs else None, 0)} | "
              f"{f(med(c, 'loadgen', 'shortfall_pct'))} | {f(med(c, 'loadgen', 'lateness_p99_ms'), 3)}, {f(max(lp) if lp else None, 3)} | "
              f"{f(med(c, 'loadgen', 'cpu_s'))} | {f(med(c, 'loadgen', 'cpu_share_pct'), 0)} | {len(runs)} |")
EOF
bench_finish
echo
cat "$OUT_DIR/cost_table.md"
