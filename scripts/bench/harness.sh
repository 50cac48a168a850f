# shellcheck shell=bash disable=SC2034  # BENCH_* globals are read by the scripts that source this
# The method every peer comparison follows (source this file; do not run it):
#
#   source scripts/bench/harness.sh
#   bench_begin http_cost                 # lock held until exit, OUT_DIR=results/benchmarks/http_cost/<UTC>
#   bench_meta tools "wrk 4.1.0, oha 1.16.0"
#   for ((r = 1; r <= BENCH_ROUNDS; r++)); do
#       for tool in $(bench_order "$r" wrk oha loadgen); do
#           ... run it (bench_timed / measure.sh with OUT_DIR/r$r-$tool as the name) ...
#           bench_record rate10k "$tool" "$r" rps 9998.2 cpu_per_100k 1.21
#       done
#   done
#   bench_finish                          # summary.md (median, min, max, spread per case/tool/metric),
#                                         # then the raw directory is made read-only
#
# - One lock for the whole script (setup and cleanup included): bench_begin takes
#   /tmp/loadgen-bench.lock exclusively; builds and installs elsewhere take it shared.
# - At least 5 rounds (BENCH_ROUNDS, default 5; fewer is refused unless BENCH_ALLOW_FEW=1, for trying a
#   script out), each with the tools in a rotated order: round r starts with tool r, so over as many
#   rounds as there are tools every tool runs once in every position, and with two tools they alternate.
# - Raw outputs are written once: OUT_DIR must not exist, and bench_finish removes write permission.
# - Every figure in the summary is computed from rounds.tsv, which holds every measured value.

# shellcheck source=scripts/bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCH_ROUNDS="${BENCH_ROUNDS:-5}"
OUT_DIR="${OUT_DIR:-}"
BENCH_NAME=""

# bench_begin NAME: lock, output directory, meta.txt (commit, time, machine).
bench_begin() {
    BENCH_NAME="$1"
    case "$BENCH_ROUNDS" in '' | *[!0-9]*) bench_die "BENCH_ROUNDS='$BENCH_ROUNDS' is not a number" ;; esac
    if [ "$BENCH_ROUNDS" -lt 5 ] && [ -z "${BENCH_ALLOW_FEW:-}" ]; then
        bench_die "BENCH_ROUNDS=$BENCH_ROUNDS: a comparison needs at least 5 rounds (BENCH_ALLOW_FEW=1 to try a script out; such a run is marked as a trial)"
    fi
    bench_hold_lock
    local stamp
    stamp="$(date -u +%Y%m%dT%H%M%SZ)"
    OUT_DIR="${OUT_DIR:-$BENCH_REPO_ROOT/results/benchmarks/$BENCH_NAME/$stamp}"
    [ -e "$OUT_DIR" ] && bench_die "$OUT_DIR exists: raw outputs are written once (choose another OUT_DIR)"
    mkdir -p "$OUT_DIR"
    printf 'case\ttool\tround\tmetric\tvalue\n' >"$OUT_DIR/rounds.tsv"
    {
        echo "benchmark: $BENCH_NAME"
        echo "started: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "commit: $(git -C "$BENCH_REPO_ROOT" rev-parse HEAD 2>/dev/null)$(git -C "$BENCH_REPO_ROOT" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
        echo "rounds: $BENCH_ROUNDS$([ "$BENCH_ROUNDS" -lt 5 ] && echo ' (TRIAL: fewer than 5 rounds)')"
        echo "order: rotated per round (round r starts with the r-th tool)"
        echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr)"
        echo "command: ${BENCH_COMMAND:-$0}"
    } >"$OUT_DIR/meta.txt"
    bench_log "$BENCH_NAME: $BENCH_ROUNDS rounds, raw outputs in $OUT_DIR"
}

# bench_meta KEY VALUE...: one more line of meta.txt (tool versions, settings).
bench_meta() {
    local k="$1"
    shift
    echo "$k: $*" >>"$OUT_DIR/meta.txt"
}

# bench_order ROUND TOOL...: the tools in round ROUND's order (1-based), one per line.
bench_order() {
    local r="$1" n i
    shift
    n=$#
    local -a tools=("$@")
    for ((i = 0; i < n; i++)); do
        echo "${tools[$(((r - 1 + i) % n))]}"
    done
}

# bench_record CASE TOOL ROUND METRIC VALUE [METRIC VALUE...]: appends measured values to rounds.tsv.
# An empty value is recorded as "n/a" (the summary skips it and says how many rounds it has).
bench_record() {
    local c="$1" t="$2" r="$3"
    shift 3
    while [ $# -ge 2 ]; do
        printf '%s\t%s\t%s\t%s\t%s\n' "$c" "$t" "$r" "$1" "${2:-n/a}" >>"$OUT_DIR/rounds.tsv"
        shift 2
    done
}

# bench_summary TSV: Markdown table, per case, tool and metric: median, min, max, spread
# ((max - min) / median) and the number of rounds with a value.
bench_summary() {
    python3 - "$1" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
keys, vals = [], {}
for r in rows:
    k = (r["case"], r["tool"], r["metric"])
    if k not in vals:
        keys.append(k)
        vals[k] = []
    try:
        vals[k].append(float(r["value"]))
    except ValueError:
        pass
print("| case | tool | metric | median | min | max | spread | rounds |")
print("|---|---|---|---:|---:|---:|---:|---:|")
def f(x):
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}" if abs(x) < 1 else f"{x:,.2f}"
for k in keys:
    v = vals[k]
    if not v:
        print(f"| {k[0]} | {k[1]} | {k[2]} | n/a | | | | 0 |")
        continue
    med = statistics.median(v)
    spread = f"{(max(v) - min(v)) / med * 100:.0f} %" if med else "n/a"
    print(f"| {k[0]} | {k[1]} | {k[2]} | {f(med)} | {f(min(v))} | {f(max(v))} | {spread} | {len(v)} |")
EOF
}

# bench_finish: writes summary.md from rounds.tsv, then makes the raw directory read-only.
bench_finish() {
    echo "finished: $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$OUT_DIR/meta.txt"
    bench_summary "$OUT_DIR/rounds.tsv" >"$OUT_DIR/summary.md"
    chmod -R a-w "$OUT_DIR"
    bench_log "$BENCH_NAME: summary in $OUT_DIR/summary.md"
    cat "$OUT_DIR/summary.md"
}
