#!/usr/bin/env bash
# Kafka produce throughput: Kafka's own ProducerPerformance (the class behind kafka-producer-perf-test)
# and loadgen, one after the other against the same three-broker stack, same record size, acks,
# compression, linger and batch size, each on a fresh 3-partition RF-3 topic. Prints a Markdown table.
#   RECORDS=1000000 SIZE=100 ACKS=1 COMPRESSION=none LINGER_MS=5 BATCH_SIZE=65536 scripts/bench/kafka_produce.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh
: "${RECORDS:=1000000}" "${SIZE:=100}" "${ACKS:=1}" "${COMPRESSION:=none}" "${LINGER_MS:=5}" "${BATCH_SIZE:=65536}"
: "${LOADGEN_CACHE:=$HOME/.cache/loadgen}"
BROKERS=127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096
OUT_DIR=${OUT_DIR:-$(mktemp -d)}
LOADGEN_BIN=${LOADGEN_BIN:-target/release/loadgen}
[ -x "$LOADGEN_BIN" ] || bench_die "$LOADGEN_BIN not built: cargo build --release"
scripts/stack up kafka >/dev/null

kjava() { java -Xmx512m -cp "$LOADGEN_CACHE/kafka/lib/*" "$@"; }
topic() {
    local t="bench-$1-$(date +%s%N)"
    kjava org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKERS" --create --topic "$t" \
        --partitions 3 --replication-factor 3 >/dev/null 2>&1 || bench_die "cannot create topic $t"
    echo "$t"
}

t1=$(topic perf)
bench_log "ProducerPerformance: $RECORDS records of $SIZE bytes to $t1"
bench_timed perf "$OUT_DIR" -- java -Xmx1g -cp "$LOADGEN_CACHE/kafka/lib/*" org.apache.kafka.tools.ProducerPerformance \
    --topic "$t1" --num-records "$RECORDS" --record-size "$SIZE" --throughput -1 \
    --producer-props bootstrap.servers="$BROKERS" acks="$ACKS" compression.type="$COMPRESSION" \
    linger.ms="$LINGER_MS" batch.size="$BATCH_SIZE"
perf_line=$(grep -E 'records sent' "$OUT_DIR/perf.stdout" | tail -1)
perf_rate=$(echo "$perf_line" | sed -E 's/.* ([0-9.]+) records\/sec.*/\1/')
perf_p50=$(echo "$perf_line" | sed -E 's/.* ([0-9.]+) ms 50th.*/\1/')
perf_p99=$(echo "$perf_line" | sed -E 's/.* ([0-9.]+) ms 99th.*/\1/')
perf_cpu=$(awk -v u="$BT_USER" -v s="$BT_SYS" 'BEGIN {print u + s}')

t2=$(topic loadgen)
bench_log "loadgen: $RECORDS records of $SIZE bytes to $t2"
bench_timed loadgen "$OUT_DIR" -- "$LOADGEN_BIN" run scripts/bench/kafka_produce.lua --quiet --out "$OUT_DIR/loadgen.json" \
    -e TOPIC="$t2" -e RECORDS="$RECORDS" -e SIZE="$SIZE" -e ACKS="$ACKS" -e COMPRESSION="$COMPRESSION" \
    -e LINGER_MS="$LINGER_MS" -e BATCH_SIZE="$BATCH_SIZE"
res=$OUT_DIR/loadgen.json
lg_rate=$(jq -r '.metrics["kafka.produce"].unit_throughput.records' "$res")
lg_p50=$(jq -r '.metrics["kafka.produce"].latency.p50' "$res")
lg_p99=$(jq -r '.metrics["kafka.produce"].latency.p99' "$res")
lg_err=$(jq -r '.metrics["kafka.produce"].error_count' "$res")
lg_cpu=$(awk -v u="$BT_USER" -v s="$BT_SYS" 'BEGIN {print u + s}')

echo "## Kafka produce: $RECORDS records of $SIZE bytes, acks=$ACKS, compression=$COMPRESSION, linger.ms=$LINGER_MS, batch.size=$BATCH_SIZE"
echo
echo "$(date -u +%FT%TZ), $(nproc) cores; 3 brokers on this machine; topic 3 partitions, RF 3"
echo
echo "| tool | records/s | p50 ms | p99 ms | CPU s | errors |"
echo "|---|---:|---:|---:|---:|---:|"
printf '| ProducerPerformance (Kafka %s) | %.0f | %s | %s | %.1f | - |\n' "$(ls "$LOADGEN_CACHE/kafka/lib" | sed -nE 's/^kafka-clients-(.*)\.jar$/\1/p')" "$perf_rate" "$perf_p50" "$perf_p99" "$perf_cpu"
printf '| loadgen %s (2 VUs x 10000 in flight) | %.0f | %.2f | %.2f | %.1f | %s |\n' "$("$LOADGEN_BIN" version | awk '{print $2}')" "$lg_rate" "$lg_p50" "$lg_p99" "$lg_cpu" "$lg_err"
awk -v a="$lg_rate" -v b="$perf_rate" 'BEGIN {printf "\nloadgen / ProducerPerformance = %.2f\n", a / b}'
echo "Raw outputs: $OUT_DIR"
