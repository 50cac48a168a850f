#!/usr/bin/env bash
# Kafka consume throughput: Kafka's own ConsumerPerformance (the class behind kafka-consumer-perf-test)
# beside loadgen (scripts/bench/kafka_consume.lua), each reading the same RECORDS records of SIZE bytes
# from the beginning of one 3-partition RF-3 topic, in a consumer group of its own, with the same fetch
# settings and at most MAX records a poll (Java's max.poll.records). loadgen runs twice: counting records
# and bytes only (`loadgen`, poll's { records = false }: ConsumerPerformance's work) and with every record
# as a Lua table (`loadgen-records`). The topic is filled once with ProducerPerformance before the rounds.
# ROUNDS rounds; round r runs TOOLS rotated by r - 1, so each goes first as often as the others. The whole
# script holds /tmp/loadgen-bench.lock. Writes OUT_DIR/rounds.tsv and every run's files; prints Markdown.
#   ROUNDS=5 RECORDS=2000000 SIZE=100 MAX=500 scripts/bench/kafka_consume.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh
: "${ROUNDS:=5}" "${RECORDS:=2000000}" "${SIZE:=100}" "${MAX:=500}" "${TOOLS:=perf loadgen loadgen-records}"
: "${FETCH_MIN_BYTES:=1}" "${FETCH_MAX_BYTES:=52428800}" "${MAX_PARTITION_FETCH_BYTES:=1048576}" "${FETCH_MAX_WAIT_MS:=500}"
: "${LOADGEN_CACHE:=$HOME/.cache/loadgen}" "${BENCH_LOCK:=/tmp/loadgen-bench.lock}"
BROKERS=127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/loadgen-kafka-consume.XXXXXX)}
LOADGEN_BIN=${LOADGEN_BIN:-target/release/loadgen}
[ -x "$LOADGEN_BIN" ] || bench_die "$LOADGEN_BIN not built: cargo build --release"
bench_need jq
bench_need ss iproute2
mkdir -p "$OUT_DIR"

bench_hold_lock

scripts/stack up kafka >/dev/null
SERVER_PIDS="$(bench_pid_on 9092) $(bench_pid_on 9094) $(bench_pid_on 9096)"
export SERVER_PIDS
kjava() { java -Xmx512m -cp "$LOADGEN_CACHE/kafka/lib/*" "$@"; }
KAFKA_VERSION=$(ls "$LOADGEN_CACHE/kafka/lib" | sed -nE 's/^kafka-clients-(.*)\.jar$/\1/p')
LOADGEN_VERSION=$("$LOADGEN_BIN" version | awk '{print $2}')

TOPIC="bench-consume-$(date +%s)"
kjava org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKERS" --create --topic "$TOPIC" \
    --partitions 3 --replication-factor 3 >/dev/null 2>&1 || bench_die "cannot create topic $TOPIC"
bench_log "filling $TOPIC: $RECORDS records of $SIZE bytes (ProducerPerformance, acks=all)"
kjava org.apache.kafka.tools.ProducerPerformance --topic "$TOPIC" --num-records "$RECORDS" --record-size "$SIZE" \
    --throughput -1 --producer-props bootstrap.servers="$BROKERS" acks=all linger.ms=5 batch.size=65536 \
    >"$OUT_DIR/fill.stdout" 2>"$OUT_DIR/fill.stderr" || bench_die "filling $TOPIC failed"
tail -1 "$OUT_DIR/fill.stdout" >&2

CONF=$OUT_DIR/consumer.properties
cat >"$CONF" <<PROPS
max.poll.records=$MAX
fetch.min.bytes=$FETCH_MIN_BYTES
fetch.max.bytes=$FETCH_MAX_BYTES
max.partition.fetch.bytes=$MAX_PARTITION_FETCH_BYTES
fetch.max.wait.ms=$FETCH_MAX_WAIT_MS
auto.offset.reset=earliest
PROPS

RAW=$OUT_DIR/rounds.tsv
printf 'round\ttool\tposition\twall_s\tjoin_ms\tfetch_s\trecords\trecords_per_s\tmib_per_s\ttool_cpu_s\tbroker_cpu_s\n' >"$RAW"
TOTAL_MIB=$(bench_calc 'a * b / 1048576' "$RECORDS" "$SIZE")
read -ra tools <<<"$TOOLS"
for ((r = 1; r <= ROUNDS; r++)); do
    for ((i = 0; i < ${#tools[@]}; i++)); do
        t=${tools[$(( (i + r - 1) % ${#tools[@]} ))]}
        pos=$((i + 1))
        name=r$r-$t group="bench-$t-$r-$(date +%s%N)"
        if [ "$t" = perf ]; then
            scripts/bench/measure.sh "$name" "$OUT_DIR" -- java -Xmx1g -cp "$LOADGEN_CACHE/kafka/lib/*" \
                org.apache.kafka.tools.ConsumerPerformance --bootstrap-server "$BROKERS" --topic "$TOPIC" \
                --num-records "$RECORDS" --group "$group" --timeout 60000 --command-config "$CONF"
            # start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,
            # rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
            line=$(grep -E '^[0-9]{4}-' "$OUT_DIR/$name.stdout" | tail -1)
            n=$(awk -F', ' '{ print int($5) }' <<<"$line")
            join=$(awk -F', ' '{ print $7 }' <<<"$line")
            fetch_ms=$(awk -F', ' '{ print $8 }' <<<"$line")
            fetch_s=$(bench_calc 'a / 1000' "$fetch_ms")
        else
            mode=count
            [ "$t" = loadgen-records ] && mode=records
            scripts/bench/measure.sh "$name" "$OUT_DIR" -- "$LOADGEN_BIN" run scripts/bench/kafka_consume.lua \
                --quiet --out "$OUT_DIR/$name.json" -e TOPIC="$TOPIC" -e GROUP="$group" -e RECORDS="$RECORDS" -e MODE="$mode" \
                -e MAX="$MAX" -e FETCH_MIN_BYTES="$FETCH_MIN_BYTES" -e FETCH_MAX_BYTES="$FETCH_MAX_BYTES" \
                -e MAX_PARTITION_FETCH_BYTES="$MAX_PARTITION_FETCH_BYTES" -e FETCH_MAX_WAIT_MS="$FETCH_MAX_WAIT_MS"
            read -r _ consume_ms _ n _ _ <<<"$(grep '^consume_ms' "$OUT_DIR/$name.stdout")"
            join=$(jq -r '.metrics["kafka.join"].latency.max' "$OUT_DIR/$name.json")
            fetch_s=$(bench_calc '(a - b) / 1000' "$consume_ms" "$join")
        fi
        rc=$(cat "$OUT_DIR/$name.rc")
        [ "$rc" = 0 ] && [ "${n:-0}" -ge "$RECORDS" ] || bench_die "$name: rc $rc, ${n:-0} records (see $OUT_DIR/$name.stderr)"
        read -r wall user sys _ <<<"$(tail -n 1 "$OUT_DIR/$name.time")"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$t" "$pos" "$wall" "$join" "$fetch_s" "$n" \
            "$(bench_calc 'a / b' "$n" "$fetch_s")" "$(bench_calc 'a / b' "$TOTAL_MIB" "$fetch_s")" \
            "$(bench_calc 'a + b' "$user" "$sys")" "$(cat "$OUT_DIR/$name.server_cpu")" >>"$RAW"
        bench_log "$name: $n records, fetch ${fetch_s}s, wall ${wall}s"
    done
done
kjava org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKERS" --delete --topic "$TOPIC" >/dev/null 2>&1 || true

label() {
    case $1 in
        perf) echo "ConsumerPerformance (Kafka $KAFKA_VERSION)" ;;
        loadgen) echo "loadgen $LOADGEN_VERSION, counting (1 VU, poll max $MAX, records = false)" ;;
        loadgen-records) echo "loadgen $LOADGEN_VERSION, every record a Lua table (1 VU, poll max $MAX)" ;;
    esac
}
echo "## Kafka consume: $RECORDS records of $SIZE bytes ($TOTAL_MIB MiB), one consumer, $ROUNDS rounds"
echo
echo "$(date -u +%FT%TZ), $(nproc) cores; 3 brokers on this machine; topic $TOPIC, 3 partitions, RF 3;"
echo "fetch.min.bytes=$FETCH_MIN_BYTES, fetch.max.bytes=$FETCH_MAX_BYTES, max.partition.fetch.bytes=$MAX_PARTITION_FETCH_BYTES,"
echo "fetch wait $FETCH_MAX_WAIT_MS ms, $MAX records a poll on both sides; first tool alternated each round; the whole run held $BENCH_LOCK."
echo
echo "| tool | records/s (fetch phase), median | min-max | MiB/s, median | join ms, median | tool CPU s per 1M records | broker CPU s per 1M records |"
echo "|---|---:|---|---:|---:|---:|---:|"
for t in "${tools[@]}"; do
    awk -F'\t' -v t="$t" -v name="$(label "$t")" '
        function median(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
        NR > 1 && $2 == t { n++; r[n] = $8; m[n] = $9; j[n] = $5; c[n] = $10 * 1e6 / $7; s[n] = $11 * 1e6 / $7
            lo = (n == 1 || $8 < lo) ? $8 : lo; hi = (n == 1 || $8 > hi) ? $8 : hi }
        END { if (n) printf "| %s | %.0f | %.0f-%.0f | %.1f | %.0f | %.2f | %.2f |\n", name, median(r, n), lo, hi, median(m, n), median(j, n), median(c, n), median(s, n) }' "$RAW"
done
echo
for t in "${tools[@]}"; do
    [ "$t" = perf ] && continue
    awk -F'\t' -v t="$t" '
        function median(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
        NR > 1 && $2 == "perf" { p[$1] = $8 } NR > 1 && $2 == t { l[$1] = $8 }
        END { for (k in l) if (k in p) { n++; a[n] = l[k] / p[k]; lo = (n == 1 || a[n] < lo) ? a[n] : lo; hi = (n == 1 || a[n] > hi) ? a[n] : hi }
              if (n) printf "- %s / ConsumerPerformance, within each round: median %.2f (rounds %.2f-%.2f)\n", t, median(a, n), lo, hi }' "$RAW"
done
echo
echo "Fetch phase: ConsumerPerformance's own fetch.time.ms (its run less the group join); loadgen's time from its"
echo "first poll to its last record less kafka.join. Raw figures: $RAW; every run's command, output and time in $OUT_DIR."
