#!/usr/bin/env bash
# Kafka produce throughput: Kafka's own ProducerPerformance (the class behind kafka-producer-perf-test)
# beside loadgen (scripts/bench/kafka_produce.lua), on the method of scripts/bench/harness.sh: ROUNDS
# rounds (at least 5), the tools rotated per round, /tmp/loadgen-bench.lock held for the whole script.
# Every run sends WARMUP unmeasured records, then RECORDS measured ones, of SIZE bytes, to a fresh
# 3-partition RF-3 topic, with the same producer settings on both sides: acks, compression, linger.ms,
# batch.size, max.in.flight.requests.per.connection (MAX_IN_FLIGHT, Java's default 5; librdkafka's
# default is 1,000,000), enable.idempotence=false, no key, and no record header (loadgen runs with
# `sent_header = false`: ProducerPerformance has no option to add one). The payload, both ways:
#   perf            ProducerPerformance --payload-file: one fixed value of SIZE bytes (payload.txt)
#   loadgen         the same bytes as every record's value
#   perf-random     ProducerPerformance --record-size: a new random value per record (its usual mode)
#   loadgen-random  a new random value per record, made in Lua (gen.string)
# Recorded per run (rounds.tsv): the measured phase's records/s and MiB/s (ProducerPerformance's "steady
# state" line; loadgen's from its warm-up's end to its last delivered batch), latency avg/p50/p99/max as
# each tool reports it, the tool's CPU (whole process, warm-up and start included) and the brokers' CPU
# per 1M records sent, process wall time, errors, the records found in the topic afterwards; and per round
# the ratio loadgen / ProducerPerformance for each payload mode.
#   RECORDS=1000000 WARMUP=200000 SIZE=100 ACKS=1 COMPRESSION=none LINGER_MS=5 BATCH_SIZE=65536 \
#   MAX_IN_FLIGHT=5 scripts/bench/kafka_produce.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bench/harness.sh
source scripts/bench/harness.sh
: "${RECORDS:=1000000}" "${WARMUP:=200000}" "${SIZE:=100}" "${ACKS:=1}" "${COMPRESSION:=none}"
: "${LINGER_MS:=5}" "${BATCH_SIZE:=65536}" "${MAX_IN_FLIGHT:=5}" "${BATCH:=10000}" "${VUS:=2}"
: "${TOOLS:=perf loadgen perf-random loadgen-random}"
: "${LOADGEN_CACHE:=$HOME/.cache/loadgen}"
BROKERS=127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096
LOADGEN_BIN=${LOADGEN_BIN:-target/release/loadgen}
[ -x "$LOADGEN_BIN" ] || bench_die "$LOADGEN_BIN not built: cargo build --release"
bench_need jq
bench_need ss iproute2
TOTAL=$((WARMUP + RECORDS))
BENCH_COMMAND="RECORDS=$RECORDS WARMUP=$WARMUP SIZE=$SIZE ACKS=$ACKS COMPRESSION=$COMPRESSION LINGER_MS=$LINGER_MS BATCH_SIZE=$BATCH_SIZE MAX_IN_FLIGHT=$MAX_IN_FLIGHT BATCH=$BATCH VUS=$VUS TOOLS='$TOOLS' LOADGEN_BIN=$LOADGEN_BIN scripts/bench/kafka_produce.sh"

bench_begin kafka_produce

scripts/stack up kafka >/dev/null
SERVER_PIDS="$(bench_pid_on 9092) $(bench_pid_on 9094) $(bench_pid_on 9096)"
export SERVER_PIDS
kjava() { java -Xmx512m -cp "$LOADGEN_CACHE/kafka/lib/*" "$@"; }
KAFKA_VERSION=$(find "$LOADGEN_CACHE/kafka/lib" -name 'kafka-clients-*.jar' -printf '%f\n' | sed -E 's/^kafka-clients-(.*)\.jar$/\1/')
bench_meta tools "ProducerPerformance (Kafka $KAFKA_VERSION), loadgen $("$LOADGEN_BIN" version | awk '{print $2}') ($LOADGEN_BIN)"
bench_meta work "$WARMUP warm-up + $RECORDS measured records of $SIZE bytes per run, a fresh topic per run (3 partitions, RF 3, brokers $BROKERS, broker PIDs $SERVER_PIDS)"
bench_meta producer "acks=$ACKS compression=$COMPRESSION linger.ms=$LINGER_MS batch.size=$BATCH_SIZE max.in.flight.requests.per.connection=$MAX_IN_FLIGHT enable.idempotence=false, no key, no header (loadgen sent_header=false)"
bench_meta loadgen "$VUS VUs x p:send_batch of $BATCH records; warm-up in setup() through the same producer"
bench_meta payload "perf/loadgen: payload.txt ($SIZE bytes) for every record; perf-random: --record-size (new random value per record); loadgen-random: gen.string($SIZE) per record"

# One fixed value of SIZE bytes (letters, no newline), the --payload-file of `perf` and loadgen's VALUE.
VALUE=$(python3 -c "import string, sys; a = string.ascii_uppercase; n = int(sys.argv[1]); print(''.join(a[(i * 7) % 26] for i in range(n)), end='')" "$SIZE")
printf '%s' "$VALUE" >"$OUT_DIR/payload.txt"

topic_records() {   # the records in TOPIC: sum of the partitions' latest offsets
    kjava org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$BROKERS" --topic "$1" --time -1 2>/dev/null |
        awk -F: '{ s += $3 } END { print s + 0 }'
}

# loadgen's measured records' latency: kafka.produce of the scenario (the warm-up ran in setup())
lat() {
    jq -r --arg f "$1" '[.series_totals | to_entries[] | select(.key | startswith("kafka.produce{"))
        | select(.value.tags.scenario == "produce") | .value.latency[$f]] | first // empty' "$res"
}

read -ra tools <<<"$TOOLS"
for ((r = 1; r <= BENCH_ROUNDS; r++)); do
    for t in $(bench_order "$r" "${tools[@]}"); do
        name=r$r-$t
        topic="bench-produce-$t-$r-$(date +%s%N)"
        kjava org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKERS" --create --topic "$topic" \
            --partitions 3 --replication-factor 3 >/dev/null 2>&1 || bench_die "cannot create topic $topic"
        case $t in
            perf | perf-random)
                payload=(--payload-file "$OUT_DIR/payload.txt")
                [ "$t" = perf-random ] && payload=(--record-size "$SIZE")
                scripts/bench/measure.sh "$name" "$OUT_DIR" -- java -Xmx1g -cp "$LOADGEN_CACHE/kafka/lib/*" \
                    org.apache.kafka.tools.ProducerPerformance --topic "$topic" --num-records "$TOTAL" \
                    --warmup-records "$WARMUP" "${payload[@]}" --throughput -1 \
                    --command-property bootstrap.servers="$BROKERS" acks="$ACKS" compression.type="$COMPRESSION" \
                    linger.ms="$LINGER_MS" batch.size="$BATCH_SIZE" \
                    max.in.flight.requests.per.connection="$MAX_IN_FLIGHT" enable.idempotence=false
                # "N steady state records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency,
                #  P50 ms 50th, P95 ms 95th, P99 ms 99th, P999 ms 99.9th."
                line=$(grep -E 'steady state records sent' "$OUT_DIR/$name.stdout" | tail -1)
                [ -n "$line" ] || bench_die "$name: no steady-state line (see $OUT_DIR/$name.stdout, .stderr)"
                sent=$(sed -E 's/^([0-9]+) steady.*/\1/' <<<"$line")
                rate=$(sed -E 's/.* ([0-9.]+) records\/sec.*/\1/' <<<"$line")
                avg=$(sed -E 's/.* ([0-9.]+) ms avg latency.*/\1/' <<<"$line")
                p50=$(sed -E 's/.* ([0-9.]+) ms 50th.*/\1/' <<<"$line")
                p99=$(sed -E 's/.* ([0-9.]+) ms 99th.*/\1/' <<<"$line")
                max=$(sed -E 's/.* ([0-9.]+) ms max latency.*/\1/' <<<"$line")
                errors=$(grep -c 'Exception' "$OUT_DIR/$name.stderr" || true)
                ;;
            loadgen | loadgen-random)
                mode=fixed
                [ "$t" = loadgen-random ] && mode=random
                scripts/bench/measure.sh "$name" "$OUT_DIR" -- "$LOADGEN_BIN" run scripts/bench/kafka_produce.lua \
                    --quiet --out "$OUT_DIR/$name.json" -e TOPIC="$topic" -e RECORDS="$RECORDS" -e WARMUP="$WARMUP" \
                    -e SIZE="$SIZE" -e PAYLOAD="$mode" -e VALUE="$VALUE" -e ACKS="$ACKS" -e COMPRESSION="$COMPRESSION" \
                    -e LINGER_MS="$LINGER_MS" -e BATCH_SIZE="$BATCH_SIZE" -e MAX_IN_FLIGHT="$MAX_IN_FLIGHT" \
                    -e BATCH="$BATCH" -e VUS="$VUS" -e SENT_HEADER=false
                res=$OUT_DIR/$name.json
                [ -s "$res" ] || bench_die "$name: no result (see $OUT_DIR/$name.stderr)"
                t0=$(awk '$1 == "steady_start_us" { print $2 }' "$OUT_DIR/$name.stdout")
                t1=$(awk '$1 == "batch_end_us" && $2 > m { m = $2 } END { print m }' "$OUT_DIR/$name.stdout")
                sent=$(($(grep -c '^batch_end_us' "$OUT_DIR/$name.stdout") * BATCH))
                rate=$(bench_calc 'a * 1e6 / (b - c)' "$sent" "$t1" "$t0")
                avg=$(lat mean) p50=$(lat p50) p99=$(lat p99) max=$(lat max)
                errors=$(jq -r '.metrics["kafka.produce"].error_count' "$res")
                ;;
            *) bench_die "unknown tool '$t'" ;;
        esac
        rc=$(cat "$OUT_DIR/$name.rc")
        [ "$rc" = 0 ] || bench_die "$name: exit $rc (see $OUT_DIR/$name.stderr)"
        [ "$sent" = "$RECORDS" ] || bench_die "$name: $sent measured records, expected $RECORDS"
        in_topic=$(topic_records "$topic")
        kjava org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKERS" --delete --topic "$topic" >/dev/null 2>&1 || true
        read -r wall user sys _ <<<"$(tail -n 1 "$OUT_DIR/$name.time")"
        bench_record produce "$t" "$r" \
            records_per_s "$rate" \
            mib_per_s "$(bench_calc 'a * b / 1048576' "$rate" "$SIZE")" \
            latency_avg_ms "$avg" latency_p50_ms "$p50" latency_p99_ms "$p99" latency_max_ms "$max" \
            tool_cpu_s_per_1m "$(bench_calc '(a + b) * 1e6 / c' "$user" "$sys" "$TOTAL")" \
            broker_cpu_s_per_1m "$(bench_calc 'a * 1e6 / b' "$(cat "$OUT_DIR/$name.server_cpu")" "$TOTAL")" \
            wall_s "$wall" errors "$errors" records_in_topic "$in_topic"
        [ "$in_topic" = "$TOTAL" ] || bench_log "warning: $name: $in_topic records in $topic, expected $TOTAL"
        bench_log "$name: $rate records/s (measured phase), wall ${wall}s, $in_topic records in the topic"
    done
    # the round's ratios, loadgen / ProducerPerformance, for each payload mode both ran
    for pair in "loadgen perf fixed_payload" "loadgen-random perf-random random_payload"; do
        read -r a b case <<<"$pair"
        ra=$(awk -F'\t' -v t="$a" -v r="$r" '$2 == t && $3 == r && $4 == "records_per_s" { print $5 }' "$OUT_DIR/rounds.tsv")
        rb=$(awk -F'\t' -v t="$b" -v r="$r" '$2 == t && $3 == r && $4 == "records_per_s" { print $5 }' "$OUT_DIR/rounds.tsv")
        if [ -n "$ra" ] && [ -n "$rb" ]; then
            bench_record "ratio_$case" "$a/$b" "$r" records_per_s "$(bench_calc 'a / b' "$ra" "$rb")"
        fi
    done
done
bench_finish
