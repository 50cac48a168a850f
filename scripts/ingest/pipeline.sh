#!/usr/bin/env bash
# Kafka -> Flink -> each store (issue 10, item 4): scripts/ingest/pipeline.lua once per store on the stack's
# Kafka, Flink and stores, holding the benchmark lock throughout; each run deploys the pipeline job in its
# setup and cancels it in its teardown. Each run's result and printed summary go to OUT_DIR, with
# summary.tsv (one row a store, from the result files).
#   RATE=500 DURATION=30s STORES="elasticsearch phoenix hive" scripts/ingest/pipeline.sh [OUT_DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh
: "${RATE:=500}" "${DURATION:=30s}" "${STORES:=elasticsearch phoenix hive}" "${CHECKPOINT_MS:=1000}"
: "${BATCH:=1000}" "${FLUSH_MS:=200}"
OUT_DIR=${1:-results/ingest/$(date -u +%Y%m%d%H%M%S)-pipeline}
LOADGEN_BIN=${LOADGEN_BIN:-target/release/loadgen}
[ -x "$LOADGEN_BIN" ] || bench_die "$LOADGEN_BIN not built: cargo build --release"
bench_need jq
mkdir -p "$OUT_DIR"

bench_hold_lock
scripts/stack up >/dev/null
JAR=$(scripts/stack flink-jar Pipeline)
worst=0
for store in $STORES; do
    bench_log "$store: $RATE records/s for $DURATION through Flink"
    rc=0
    "$LOADGEN_BIN" run scripts/ingest/pipeline.lua --quiet -e "STORE=$store" -e "RATE=$RATE" -e "DURATION=$DURATION" \
        -e "JAR=$JAR" -e "CHECKPOINT_MS=$CHECKPOINT_MS" -e "BATCH=$BATCH" -e "FLUSH_MS=$FLUSH_MS" \
        --tag suite=pipeline --tag store="$store" --out "$OUT_DIR/pipeline-$store.json" \
        >"$OUT_DIR/pipeline-$store.txt" 2>&1 || rc=$?
    grep '^pipeline:' "$OUT_DIR/pipeline-$store.txt" || true
    [ "$rc" -le "$worst" ] || worst=$rc
done
{
    printf 'store\tstatus\texit\tproduced\tproduce_p99_ms\tsubmit_s\tvisible_rate\tcheckpoint_ms_max\tbackpressured_ms_per_s_max\n'
    for store in $STORES; do
        jq -r --arg s "$store" '[$s, .status, .exit_code, .metrics.pipeline_rows_produced.sum,
            .metrics["kafka.produce"].latency.p99, (.metrics["flink.submit"].latency.max / 1000),
            .metrics.pipeline_all_rows_visible.rate, (.metrics["flink.checkpoint_ms"].gauge.max // "-"),
            (.metrics["flink.backpressured_ms_per_s"].gauge.max // "-")] | @tsv' "$OUT_DIR/pipeline-$store.json"
    done
} >"$OUT_DIR/summary.tsv"
cat "$OUT_DIR/summary.tsv"
exit "$worst"
