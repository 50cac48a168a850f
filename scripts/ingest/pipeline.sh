#!/usr/bin/env bash
# Kafka -> Flink -> each store (issue 10, item 4): scripts/ingest/pipeline.lua once per store on the stack's
# Kafka, Flink and stores, holding the benchmark lock throughout; each run deploys the pipeline job in its
# setup and cancels it in its teardown, and measures freshness with marker records (see pipeline.lua).
# Each run's result and printed summary go to OUT_DIR, with summary.tsv (one row a store, from the result
# files; markers_unseen = produced - seen by the end of the probing).
#   RATES="500 2000" SECONDS_RUN=30 STORES="elasticsearch phoenix hive" scripts/ingest/pipeline.sh [OUT_DIR]
# (MARKER_RATE, MARKER_TIMEOUT_S, CHECKPOINT_MS, BATCH, FLUSH_MS, REFRESH: as pipeline.lua; PROBE_MS: its
# default per store unless set.)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh
# shellcheck source=scripts/suite/rc.sh
source scripts/suite/rc.sh
: "${RATES:=500 2000}" "${SECONDS_RUN:=30}" "${STORES:=elasticsearch phoenix hive}" "${CHECKPOINT_MS:=1000}"
: "${BATCH:=1000}" "${FLUSH_MS:=200}" "${MARKER_RATE:=2}" "${MARKER_TIMEOUT_S:=30}" "${REFRESH:=1s}"
OUT_DIR=${1:-results/ingest/$(date -u +%Y%m%d%H%M%S)-pipeline}
LOADGEN_BIN=${LOADGEN_BIN:-target/release/loadgen}
[ -x "$LOADGEN_BIN" ] || bench_die "$LOADGEN_BIN not built: cargo build --release"
bench_need jq
mkdir -p "$OUT_DIR"
# The settings that set each store's floor, next to the figures.
jq -n --arg rates "$RATES" --arg s "$SECONDS_RUN" --arg stores "$STORES" --arg cp "$CHECKPOINT_MS" --arg b "$BATCH" \
    --arg f "$FLUSH_MS" --arg mr "$MARKER_RATE" --arg mt "$MARKER_TIMEOUT_S" --arg r "$REFRESH" --arg p "${PROBE_MS:-}" \
    '{rates: $rates, seconds: ($s|tonumber), stores: $stores, marker_rate: ($mr|tonumber),
      marker_timeout_s: ($mt|tonumber), probe_ms: (if $p == "" then "elasticsearch, phoenix 100; hive 500" else $p end),
      floors: {elasticsearch: "bulk of \($b) documents or \($f) ms, then the index refresh (refresh_interval \($r))",
               phoenix: "JDBC batch of \($b) rows or \($f) ms, auto-commit (each executed batch is visible)",
               hive: "a completed checkpoint (every \($cp) ms): the in-progress file becomes a visible part file"},
      flink: "2.3.0, parallelism 1, checkpoint every \($cp) ms", topic: "3 partitions, replication 3, acks=all"}' \
    >"$OUT_DIR/method.json"

bench_hold_lock
scripts/stack up >/dev/null
JAR=$(scripts/stack flink-jar Pipeline)
for RATE in $RATES; do
for store in $STORES; do
    bench_log "$store: $RATE records/s for ${SECONDS_RUN}s through Flink"
    rc=0
    "$LOADGEN_BIN" run scripts/ingest/pipeline.lua --quiet -e "STORE=$store" -e "RATE=$RATE" -e "SECONDS=$SECONDS_RUN" \
        -e "JAR=$JAR" -e "CHECKPOINT_MS=$CHECKPOINT_MS" -e "BATCH=$BATCH" -e "FLUSH_MS=$FLUSH_MS" \
        -e "MARKER_RATE=$MARKER_RATE" -e "MARKER_TIMEOUT_S=$MARKER_TIMEOUT_S" -e "REFRESH=$REFRESH" \
        ${PROBE_MS:+-e "PROBE_MS=$PROBE_MS"} --tag rate="$RATE" --tag checkpoint_ms="$CHECKPOINT_MS" \
        --tag batch="$BATCH" --tag flush_ms="$FLUSH_MS" --tag refresh="$REFRESH" \
        --tag suite=pipeline --tag store="$store" --out "$OUT_DIR/pipeline-$store-$RATE.json" \
        >"$OUT_DIR/pipeline-$store-$RATE.txt" 2>&1 || rc=$?
    grep '^pipeline:' "$OUT_DIR/pipeline-$store-$RATE.txt" || true
    note_rc "$rc"
done
done
{
    printf 'store\trate\tstatus\texit\tproduced\tproduce_p99_ms\tsubmit_s\tall_visible\tfreshness_p50_ms\tfreshness_p99_ms\tfreshness_max_ms\tmarkers_produced\tmarkers_unseen\tnewest_visible_age_max_ms\tcheckpoint_ms_max\tbackpressured_ms_per_s_max\n'
    for RATE in $RATES; do for store in $STORES; do
        # (a run that failed early has no such metrics: its row shows "-")
        jq -r --arg s "$store" --arg r "$RATE" '.metrics as $m | def n(x): x // "-";
            def ms(x): if x == null then "-" else x / 1000 end;
            [$s, $r, .status, .exit_code, n($m.pipeline_rows_produced.sum),
            n($m["kafka.produce"].latency.p99), ms($m["flink.submit"].latency.max),
            n($m.pipeline_all_rows_visible.rate), n($m.pipeline_freshness_ms.values.p50),
            n($m.pipeline_freshness_ms.values.p99), n($m.pipeline_freshness_ms.values.max),
            n($m.pipeline_markers_produced.sum),
            (if $m.pipeline_markers_produced == null then "-"
             else $m.pipeline_markers_produced.sum - ($m.pipeline_markers_seen.sum // 0) end),
            n($m.pipeline_newest_visible_age_ms.gauge.max), n($m["flink.checkpoint_ms"].gauge.max),
            n($m["flink.backpressured_ms_per_s"].gauge.max)] | @tsv' "$OUT_DIR/pipeline-$store-$RATE.json" ||
            printf '%s\t%s\tno result file\n' "$store" "$RATE"
    done; done
} >"$OUT_DIR/summary.tsv"
cat "$OUT_DIR/summary.tsv"
exit "$worst"
