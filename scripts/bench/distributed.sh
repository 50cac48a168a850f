#!/usr/bin/env bash
# One plan run as one process and as N instances (`loadgen run --instance I/N`, docs/distributed.md),
# side by side, on the method of scripts/bench/harness.sh: ROUNDS rounds (at least 5), the two ways
# rotated per round, /tmp/loadgen-bench.lock held for the whole script. Per round and way:
#   one  `loadgen run SCRIPT` once                                         -> rR-one.json
#   n    N processes of `loadgen run SCRIPT --instance I/N --start-at T`, T = LEAD_S seconds ahead,
#        started together on this machine, then `loadgen merge`          -> rR-n/part-I.json, merged.json
# Recorded per run (rounds.tsv), from the result files (one's, n's merged one): METRIC's count, errors,
# throughput/s, latency p50/p99/max ms, the iterations of all scenarios, the exit code (n: the merge's),
# and for n the largest measured start skew of its instances (ms). Raw outputs: every result file, each
# process's stdout/stderr, `loadgen compare` of the pair, an HTML report of the last round.
# Extra `loadgen run` arguments (-e KEY=VALUE, --duration ...) follow `--`; they go to every process.
#   SCRIPT=scripts/bench/kafka_produce.lua N=4 METRIC=kafka.produce scripts/bench/distributed.sh -- -e KEY=V
# With no SCRIPT, the example is HTTP GETs at RATE/s against a local nginx that this script starts on
# 127.0.0.1 (scripts/bench/distributed_http.lua).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bench/harness.sh
source scripts/bench/harness.sh
: "${N:=4}" "${LEAD_S:=5}" "${SCRIPT:=}" "${METRIC:=}" "${RATE:=2000}" "${DURATION:=20s}"
LOADGEN_BIN=${LOADGEN_BIN:-target/release/loadgen}
[ -x "$LOADGEN_BIN" ] || bench_die "$LOADGEN_BIN not built: cargo build --release"
bench_need jq
[ "${1:-}" = "--" ] && shift
EXTRA=("$@")
BENCH_COMMAND="N=$N LEAD_S=$LEAD_S SCRIPT=$SCRIPT METRIC=$METRIC RATE=$RATE DURATION=$DURATION LOADGEN_BIN=$LOADGEN_BIN scripts/bench/distributed.sh${EXTRA[*]:+ -- ${EXTRA[*]}}"

bench_begin distributed
if [ -z "$SCRIPT" ]; then
    SCRIPT=scripts/bench/distributed_http.lua
    METRIC=${METRIC:-http.request}
    nginx_start
    trap nginx_stop EXIT
    EXTRA+=(-e "TARGET=http://127.0.0.1:$NGINX_PORT/1k" -e "RATE=$RATE" -e "DURATION=$DURATION")
fi
[ -n "$METRIC" ] || bench_die "METRIC: the operation metric to record (kafka.produce, http.request, ...)"
bench_meta tools "loadgen $("$LOADGEN_BIN" version | awk '{print $2}') ($LOADGEN_BIN)"
bench_meta plan "$SCRIPT ${EXTRA[*]}; one process, and $N instances started $LEAD_S s ahead with --start-at"
cp "$SCRIPT" "$OUT_DIR/script.lua"

# record WAY ROUND FILE EXIT [SKEW]: the figures of one result file
record() {
    local way=$1 r=$2 f=$3 code=$4 skew=${5:-}
    local q=".metrics[\"$METRIC\"]"
    bench_record plan "$way" "$r" \
        count "$(jq "$q.count" "$f")" errors "$(jq "$q.error_count" "$f")" \
        throughput "$(jq "$q.throughput" "$f")" p50_ms "$(jq "$q.latency.p50" "$f")" \
        p99_ms "$(jq "$q.latency.p99" "$f")" max_ms "$(jq "$q.latency.max" "$f")" \
        iterations "$(jq '[.scenarios[].iterations] | add' "$f")" exit "$code" \
        ${skew:+max_skew_ms "$skew"}
}

run_one() {   # ROUND
    local r=$1 code=0
    bench_log "round $r: one process"
    "$LOADGEN_BIN" run "$SCRIPT" --quiet -o "$OUT_DIR/r$r-one.json" "${EXTRA[@]}" \
        >"$OUT_DIR/r$r-one.stdout" 2>"$OUT_DIR/r$r-one.stderr" || code=$?
    record one "$r" "$OUT_DIR/r$r-one.json" "$code"
}

run_n() {   # ROUND
    local r=$1 d="$OUT_DIR/r$r-n" at i code=0 pids=() skew
    mkdir -p "$d"
    at=$(date -u -d "+$LEAD_S seconds" +%Y-%m-%dT%H:%M:%SZ)
    bench_log "round $r: $N instances, --start-at $at"
    for ((i = 1; i <= N; i++)); do
        "$LOADGEN_BIN" run "$SCRIPT" --quiet --instance "$i/$N" --start-at "$at" -o "$d/part-$i.json" \
            "${EXTRA[@]}" >"$d/part-$i.stdout" 2>"$d/part-$i.stderr" &
        pids+=($!)
    done
    for i in "${!pids[@]}"; do
        # An instance's 99 (a threshold crossed by its part alone) is not the verdict: the merge's is.
        wait "${pids[$i]}" || echo "exit $?" >>"$d/part-$((i + 1)).stderr"
    done
    "$LOADGEN_BIN" merge "$d"/part-*.json -o "$d/merged.json" >"$d/merge.stdout" 2>"$d/merge.stderr" || code=$?
    skew=$(jq -s 'map(.start_skew_ms) | max' "$d"/part-*.json)
    record n "$r" "$d/merged.json" "$code" "$skew"
}

for ((r = 1; r <= BENCH_ROUNDS; r++)); do
    for way in $(bench_order "$r" one n); do
        "run_$way" "$r"
    done
    "$LOADGEN_BIN" compare "$OUT_DIR/r$r-one.json" "$OUT_DIR/r$r-n/merged.json" >"$OUT_DIR/r$r-compare.txt" 2>&1 || true
done
last=$BENCH_ROUNDS
"$LOADGEN_BIN" report "$OUT_DIR/r$last-one.json" "$OUT_DIR/r$last-n/merged.json" "$OUT_DIR/r$last-n"/part-*.json \
    -o "$OUT_DIR/report.html" >/dev/null 2>&1 || bench_log "report failed (see loadgen report)"
bench_finish
