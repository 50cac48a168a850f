#!/usr/bin/env bash
# The regression guard for the engine's cost per request: run it before each landing that touches the
# engine. loadgen (scripts/bench/http_cost.lua, a Lua iteration per request) beside wrk with a Lua
# script (scripts/bench/http_cost_wrk.lua) against our nginx (2 workers, /1k), at one fixed rate and at
# full speed (64 connections), BENCH_ROUNDS rounds (default 5) alternating which tool goes first, under
# the measurement lock for the whole script (harness.sh). It then appends one line to
# results/engine-cost.tsv: the medians of both tools' CPU seconds per 100k requests and their ratio, so
# a loss shows up the day it happens. The raw directory is results/benchmarks/engine_cost/<UTC>/.
#
#   scripts/bench/engine_cost.sh                 # builds target/release/loadgen first (shared lock)
#   LOADGEN_BIN=/path/to/loadgen ENGINE_COST_COMMIT=<hash> scripts/bench/engine_cost.sh   # a given binary
#   ENGINE_COST_CRITERION=1 scripts/bench/engine_cost.sh   # also the criterion hot paths (benches/
#                                                          # hot_paths.rs) -> results/engine-cost-criterion.tsv
#
# Environment: RATE (20000), DURATION (10s), CONNS (64), NGINX_WORKERS (2), WRK_THREADS (2), PAUSE (1),
# BENCH_ROUNDS (5), CARGO_TARGET_DIR (where the build goes; default target/), ENGINE_COST_TSV
# (default results/engine-cost.tsv).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_COMMAND="$0 $*"
WORKERS="${NGINX_WORKERS:-2}"   # lib.sh's default is 1: read ours before sourcing it
# shellcheck source-path=SCRIPTDIR source=harness.sh
source "$HERE/harness.sh"

RATE="${RATE:-20000}"
DURATION="${DURATION:-10s}"
ARRIVAL_DURATION="$DURATION"
CONNS="${CONNS:-64}"
WRK_THREADS="${WRK_THREADS:-2}"
PAUSE="${PAUSE:-1}"
NGINX_WORKERS="$WORKERS"
TSV="${ENGINE_COST_TSV:-$BENCH_REPO_ROOT/results/engine-cost.tsv}"
CRIT_TSV="$(dirname "$TSV")/engine-cost-criterion.tsv"
DUR_S="$(bench_duration_seconds "$DURATION")"
ARR_S="$DUR_S"
export BENCH_TIMEOUT="${BENCH_TIMEOUT:-$((DUR_S + 60))}"

bench_need jq jq
bench_need curl curl
bench_need wrk wrk

COMMIT="${ENGINE_COST_COMMIT:-}"
if [ -z "${LOADGEN_BIN:-}" ]; then
    # our own build of this tree, made before the lock is taken exclusively
    tgt="${CARGO_TARGET_DIR:-$BENCH_REPO_ROOT/target}"
    bench_log "building $tgt/release/loadgen (cargo build --release, shared lock)"
    (cd "$BENCH_REPO_ROOT" && CARGO_TARGET_DIR="$tgt" flock -s /tmp/loadgen-bench.lock cargo build --release --quiet) ||
        bench_die "cargo build --release failed"
    export LOADGEN_BIN="$tgt/release/loadgen"
    [ -n "$COMMIT" ] || COMMIT="$(git -C "$BENCH_REPO_ROOT" rev-parse --short=12 HEAD)$(git -C "$BENCH_REPO_ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo '+dirty')"
fi
[ -n "$COMMIT" ] || COMMIT="unknown (LOADGEN_BIN=$LOADGEN_BIN; set ENGINE_COST_COMMIT)"
if [ -n "${ENGINE_COST_CRITERION:-}" ]; then
    bench_log "building the criterion bench (cargo bench --no-run, shared lock)"
    (cd "$BENCH_REPO_ROOT" && flock -s /tmp/loadgen-bench.lock cargo bench --bench hot_paths --no-run --quiet) ||
        bench_die "cargo bench --no-run failed"
fi

# shellcheck source-path=SCRIPTDIR source=http_tools.sh
source "$HERE/http_tools.sh"
tool_ok loadgen || bench_die "no loadgen binary at $LOADGEN"

TMP_RAW="$(mktemp -d /tmp/loadgen-bench-enginecost.XXXXXX)"
cleanup() { nginx_stop; rm -rf "$TMP_RAW"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_begin engine_cost
bench_meta tools "loadgen $(tool_version loadgen), wrk $(tool_version wrk)"
bench_meta loadgen_bin "$LOADGEN ($(stat -c '%y' "$LOADGEN" 2>/dev/null)), commit $COMMIT"
bench_meta target "$(nginx_version), $NGINX_WORKERS worker(s), keep-alive, access_log off, GET /1k (1024 bytes)"
bench_meta settings "RATE=$RATE DURATION=$DURATION CONNS=$CONNS WRK_THREADS=$WRK_THREADS PAUSE=$PAUSE"
bench_meta load_before "$(cat /proc/loadavg)"
cp "$HERE/http_cost.lua" "$HERE/http_cost_wrk.lua" "$OUT_DIR/"

nginx_start "$NGINX_PORT"
for t in loadgen wrk; do
    bench_log "warm-up: $t for 2s at $RATE/s (not measured)"
    run_tool "$t" "$RATE" 2s "$t" "$TMP_RAW/warmup" "http://127.0.0.1:$NGINX_PORT/1k" 2>/dev/null
done
for ((r = 1; r <= BENCH_ROUNDS; r++)); do
    for c in $(bench_order "$r" "rate$RATE" full); do
        rate=0
        [ "$c" = full ] || rate="$RATE"
        for t in $(bench_order "$r" loadgen wrk); do measured "$t" "$rate" "$c" "$r"; done
    done
done
nginx_stop

if [ -n "${ENGINE_COST_CRITERION:-}" ]; then
    bench_log "criterion hot paths (cargo bench --bench hot_paths)"
    (cd "$BENCH_REPO_ROOT" && cargo bench --bench hot_paths -- --warm-up-time 1 --measurement-time 3) \
        >"$OUT_DIR/criterion_hot_paths.txt" 2>&1
    # "NAME  time: [low mid high]" (the name may be on the line before): the middle estimate, in ns
    awk '
        function ns(v, u) { return u == "ps" ? v / 1000 : u == "ns" ? v : u == "µs" || u == "us" ? v * 1000 : u == "ms" ? v * 1e6 : v * 1e9 }
        /time:/ {
            name = $0; sub(/[[:space:]]*time:.*/, "", name); gsub(/^[[:space:]]+|[[:space:]]+$/, "", name)
            if (name == "") name = prev
            s = $0; sub(/.*time:[[:space:]]*\[/, "", s); split(s, a, /[[:space:]]+/)
            if (name !~ /^change/ && prev !~ /change:/) printf "%s\t%s\n", name, ns(a[3], a[4])
        }
        { if ($0 !~ /time:|thrpt:/) { p = $0; gsub(/^[[:space:]]+|[[:space:]]+$/, "", p); if (p != "") prev = p } }
    ' "$OUT_DIR/criterion_hot_paths.txt" >"$TMP_RAW/criterion.tsv"
    while IFS=$'\t' read -r name v; do
        bench_record criterion loadgen 1 "$name ns" "$v"
    done <"$TMP_RAW/criterion.tsv"
fi
bench_meta load_after "$(cat /proc/loadavg)"
bench_finish

# One line per run in results/engine-cost.tsv (medians over the rounds, from rounds.tsv)
python3 - "$OUT_DIR/rounds.tsv" "$TSV" "$COMMIT" "$RATE" "${OUT_DIR#"$BENCH_REPO_ROOT"/}" "$BENCH_ROUNDS" <<'EOF'
import csv, os, statistics, sys, time
rounds, tsv, commit, rate, raw, n = sys.argv[1:7]
v = {}
for r in csv.DictReader(open(rounds), delimiter="\t"):
    try:
        v.setdefault((r["case"], r["tool"], r["metric"]), []).append(float(r["value"]))
    except ValueError:
        pass
def med(c, t, m):
    x = v.get((c, t, m))
    return statistics.median(x) if x else None
def f(x, d=3):
    return "n/a" if x is None else f"{x:.{d}f}"
cols = ["utc", "commit", "rate", "rate_loadgen_cpu_per_100k", "rate_wrk_cpu_per_100k", "rate_ratio",
        "rate_loadgen_rps", "rate_wrk_rps", "full_loadgen_cpu_per_100k", "full_wrk_cpu_per_100k", "full_ratio",
        "full_loadgen_rps", "full_wrk_rps", "rounds", "raw_dir"]
row = [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), commit, rate]
for c in (f"rate{rate}", "full"):
    lg, wrk = med(c, "loadgen", "cpu_per_100k"), med(c, "wrk", "cpu_per_100k")
    row += [f(lg), f(wrk), f(lg / wrk if lg is not None and wrk else None, 2),
            f(med(c, "loadgen", "rps"), 0), f(med(c, "wrk", "rps"), 0)]
row += [n, raw]
new = not os.path.exists(tsv)
with open(tsv, "a") as out:
    if new:
        out.write("\t".join(cols) + "\n")
    out.write("\t".join(row) + "\n")
print("\t".join(cols))
print("\t".join(row))
EOF
if [ -s "$TMP_RAW/criterion.tsv" ]; then
    [ -e "$CRIT_TSV" ] || printf 'utc\tcommit\tbench\tns\traw_dir\n' >"$CRIT_TSV"
    now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    while IFS=$'\t' read -r name v; do
        printf '%s\t%s\t%s\t%s\t%s\n' "$now" "$COMMIT" "$name" "$v" "${OUT_DIR#"$BENCH_REPO_ROOT"/}" >>"$CRIT_TSV"
    done <"$TMP_RAW/criterion.tsv"
    bench_log "criterion medians appended to $CRIT_TSV"
fi
bench_log "appended to $TSV"
