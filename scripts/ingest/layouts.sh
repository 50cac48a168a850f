#!/usr/bin/env bash
# The old ingest layout against the new one (issue 10, item 3): scripts/ingest/layouts.lua run four times
# on the stack's Kafka, with the same records, producer settings and consumer work, holding the benchmark
# lock throughout: the old layout (one partition, one replica) at RATE, then the new (TOPICS x PARTITIONS,
# replication 3) at RATE, 2 x RATE and 4 x RATE. Each run's result, printed summary and the brokers' CPU
# seconds go to OUT_DIR, with one report page of the four and summary.tsv (one row a run, from the files).
#   RATE=1500 SECONDS_RUN=120 WORK_US=1000 scripts/ingest/layouts.sh [OUT_DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh
: "${RATE:=1500}" "${SECONDS_RUN:=120}" "${WORK_US:=1000}" "${CONSUMERS:=8}" "${LINGER_MS:=50}"
OUT_DIR=${1:-results/ingest/$(date -u +%Y%m%d%H%M%S)-layouts}
LOADGEN_BIN=${LOADGEN_BIN:-target/release/loadgen}
[ -x "$LOADGEN_BIN" ] || bench_die "$LOADGEN_BIN not built: cargo build --release"
bench_need jq
bench_need ss iproute2
mkdir -p "$OUT_DIR"

bench_hold_lock
scripts/stack up kafka >/dev/null
BROKER_PIDS="$(bench_pid_on 9092) $(bench_pid_on 9094) $(bench_pid_on 9096)"
brokers_cpu() {
    local total=0 p
    for p in $BROKER_PIDS; do total=$(bench_calc 'a + b' "$total" "$(proc_cpu_seconds "$p")"); done
    echo "$total"
}

printf 'run\tlayout\trate\tbroker_cpu_s\n' >"$OUT_DIR/broker_cpu.tsv"
runs=("old 1" "new 1" "new 2" "new 4")
for spec in "${runs[@]}"; do
    read -r layout times <<<"$spec"
    name="$layout-${times}x"
    rate=$((RATE * times))
    bench_log "$name: $rate records/s for ${SECONDS_RUN}s"
    before=$(brokers_cpu)
    rc=0
    "$LOADGEN_BIN" run scripts/ingest/layouts.lua --quiet -e "LAYOUT=$layout" -e "RATE=$rate" \
        -e "SECONDS=$SECONDS_RUN" -e "WORK_US=$WORK_US" -e "CONSUMERS=$CONSUMERS" -e "LINGER_MS=$LINGER_MS" \
        --out "$OUT_DIR/$name.json" >"$OUT_DIR/$name.txt" 2>&1 || rc=$?
    after=$(brokers_cpu)
    printf '%s\t%s\t%s\t%s\n' "$name" "$layout" "$rate" "$(bench_calc 'b - a' "$before" "$after")" \
        >>"$OUT_DIR/broker_cpu.tsv"
    [ "$rc" = 0 ] || bench_log "$name: loadgen exited $rc (see $OUT_DIR/$name.txt)"
done

"$LOADGEN_BIN" report "$OUT_DIR"/old-1x.json "$OUT_DIR"/new-1x.json "$OUT_DIR"/new-2x.json "$OUT_DIR"/new-4x.json \
    --out "$OUT_DIR/report.html" >/dev/null

# One row a run, every figure read from its result file: what was offered and produced, what the
# consumers read, how far behind they ended (records, summed over partitions; seconds, the worst
# partition), the end-to-end time (over the run, and in its last full second), the process's memory and
# the brokers' CPU. Rates are over the load's SECONDS_RUN (the scenarios' duration).
{
    printf 'run\toffered_per_s\tproduced_per_s\tproduce_p50_ms\tproduce_p99_ms\tconsumed_per_s\tconsumed_share\t'
    printf 'lag_end_records\tlag_end_s_worst\te2e_p50_ms\te2e_p99_ms\te2e_max_ms\te2e_p99_last_s_ms\trss_max_mib\tbroker_cpu_s\n'
    for spec in "${runs[@]}"; do
        read -r layout times <<<"$spec"
        name="$layout-${times}x"
        cpu=$(awk -F'\t' -v n="$name" '$1 == n { print $4 }' "$OUT_DIR/broker_cpu.tsv")
        jq -r --arg name "$name" --arg rate "$((RATE * times))" --arg cpu "$cpu" --argjson secs "$SECONDS_RUN" '
          def r2: (. * 100 | round) / 100;
          def lagsum(p): [.series_totals | to_entries[] | select(.key | startswith(p)) | .value.gauge.value] ;
          .metrics as $m
          | [ $name, $rate,
              ($m["kafka.produce"].units.records / $secs | round),
              ($m["kafka.produce"].latency.p50 | r2), ($m["kafka.produce"].latency.p99 | r2),
              ($m["kafka.consume"].units.records / $secs | round),
              ($m["kafka.consume"].units.records / $m["kafka.produce"].units.records | r2),
              (lagsum("kafka.consumer_lag{") | add),
              (lagsum("kafka.consumer_lag_s{") | max),
              ($m["kafka.e2e"].values.p50 | round), ($m["kafka.e2e"].values.p99 | round),
              ($m["kafka.e2e"].values.max | round),
              ([.series[] | select(.metrics["kafka.e2e"].p99 != null)] | .[-2].metrics["kafka.e2e"].p99 | round),
              ($m["consumer_rss_mib"].gauge.max | round), $cpu ]
          | @tsv' "$OUT_DIR/$name.json"
    done
} >"$OUT_DIR/summary.tsv"
column -t -s $'\t' "$OUT_DIR/summary.tsv"
bench_log "done: $OUT_DIR"
