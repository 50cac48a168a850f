#!/usr/bin/env bash
# Phoenix UPSERT throughput: loadgen.phoenix through the Query Server (Avatica; `loadgen` with protobuf on
# 127.0.0.1:8765, `loadgen-json` with JSON on 127.0.0.1:8766; a prepared statement, execute_batch, a commit
# per batch) beside Phoenix's thick JDBC client (`jdbc`: jdbc:phoenix:127.0.0.1:2181, straight to HBase;
# scripts/bench/java/PhoenixBench.java, compiled here), on the method of scripts/bench/harness.sh: ROUNDS
# rounds (at least 5), the tools rotated per round, /tmp/loadgen-bench.lock held for the whole script
# (compiling, table setup, checks and drops included). Every run: a fresh table of the same DDL, WARMUP
# unmeasured rows, then ROWS measured rows, BATCH rows a batch, a commit per batch, one connection. The
# warm-up is the same work on rows after the measured ones, through the same connection and statement
# (the thick client: in the same JVM before its timed loop, so its JIT and connection are warm as the
# Query Server's are).
# Recorded per run (rounds.tsv): rows/s of the measured phase, batch (execute + commit) p50/p99 ms, the
# tool's CPU (whole process, start and warm-up included) per 1M rows sent, the thick client's CPU during
# its measured loop per 1M rows, the Query Server's and HBase's CPU per 1M rows sent, process wall time,
# errors, and whether the table holds the same rows as every other run's (count and sums); and per round
# the ratio loadgen / thick client.
#   ROWS=200000 WARMUP=50000 BATCH=1000 scripts/bench/phoenix_upsert.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bench/harness.sh
source scripts/bench/harness.sh
: "${ROWS:=200000}" "${WARMUP:=50000}" "${BATCH:=1000}" "${TOOLS:=jdbc loadgen loadgen-json}"
: "${LOADGEN_CACHE:=$HOME/.cache/loadgen}" "${LOADGEN_STATE:=$HOME/.local/state/loadgen}"
LOADGEN_BIN=${LOADGEN_BIN:-target/release/loadgen}
[ -x "$LOADGEN_BIN" ] || bench_die "$LOADGEN_BIN not built: cargo build --release"
bench_need jq
TOTAL=$((WARMUP + ROWS))
BENCH_COMMAND="ROWS=$ROWS WARMUP=$WARMUP BATCH=$BATCH TOOLS='$TOOLS' LOADGEN_BIN=$LOADGEN_BIN scripts/bench/phoenix_upsert.sh"

bench_begin phoenix_upsert

scripts/stack up hbase phoenix >/dev/null
status=$(scripts/stack status)
QS_PID=$(awk '$1 == "phoenix" {print $3}' <<<"$status")
HBASE_PID=$(awk '$1 == "hbase" {print $3}' <<<"$status")
{ [ -n "$QS_PID" ] && [ -n "$HBASE_PID" ]; } || bench_die "no Query Server / HBase PID in scripts/stack status"
export SERVER_PIDS=$QS_PID

# The thick client: the Query Server's own jar folder (phoenix-core-client, HBase client, no server jars)
# and its hbase-site.xml, so both tools' JDBC connections are configured alike.
LIB=$LOADGEN_CACHE/phoenix/lib
CONF=$LOADGEN_STATE/stack/conf/phoenix
[ -f "$CONF/hbase-site.xml" ] || bench_die "$CONF/hbase-site.xml missing: scripts/stack up phoenix"
CLASSES=$(mktemp -d /tmp/loadgen-bench-phoenix.XXXXXX)
trap 'rm -rf "$CLASSES"' EXIT
javac --release 17 -nowarn -cp "$LIB/*" -d "$CLASSES" scripts/bench/java/PhoenixBench.java
# the JVM flags the Query Server runs with (docker/lib.sh)
read -r -a JAVA17_OPTS <<<"$(bash -c '. docker/lib.sh >/dev/null 2>&1; echo "$HADOOP_JAVA17_OPTS"')"
PHOENIX_VERSION=$(find "$LIB" -name 'phoenix-core-client-*.jar' -printf '%f\n' | sed -E 's/^phoenix-core-client-(.*)\.jar$/\1/')
PJAVA=(java -Xmx1g "${JAVA17_OPTS[@]}" -Dorg.apache.hbase.thirdparty.io.netty.tryReflectionSetAccessible=true
       -Dlog4j2.configurationFile=docker/kafka/log4j2.properties -Dloadgen.log.level=ERROR
       -cp "$CLASSES:$CONF:$LIB/*" PhoenixBench jdbc:phoenix:127.0.0.1:2181)
DDL="(ID BIGINT NOT NULL PRIMARY KEY, TS TIMESTAMP, HOST VARCHAR, SERVICE VARCHAR, LEVEL VARCHAR, STATUS INTEGER, LATENCY_MS DOUBLE, BYTES BIGINT, MESSAGE VARCHAR)"
bench_meta tools "Phoenix $PHOENIX_VERSION thick JDBC (PhoenixBench, JVM flags of the Query Server), loadgen $("$LOADGEN_BIN" version | awk '{print $2}') ($LOADGEN_BIN) through the Query Server (loadgen: protobuf 127.0.0.1:8765; loadgen-json: JSON 127.0.0.1:8766)"
bench_meta work "$WARMUP warm-up + $ROWS measured rows per run, $BATCH a batch, a commit per batch, one connection, a fresh table per run: $DDL"
bench_meta servers "Query Server PID $QS_PID, HBase (standalone, with its ZooKeeper) PID $HBASE_PID"

REF=""   # the first run's check line (count and sums); every run's table must match it
for ((r = 1; r <= BENCH_ROUNDS; r++)); do
    for t in $(bench_order "$r" $TOOLS); do
        name=r$r-$t
        table=LG_BENCH_UPSERT_$(tr 'a-z-' 'A-Z_' <<<"$t")_${r}_$(date +%s)
        "${PJAVA[@]}" ddl "CREATE TABLE $table $DDL" >"$OUT_DIR/$name.setup.stdout" 2>"$OUT_DIR/$name.setup.stderr" ||
            bench_die "cannot create $table: $(grep -vE '^\s+at ' "$OUT_DIR/$name.setup.stderr" | tail -3)"
        hb0=$(proc_cpu_seconds "$HBASE_PID")
        case $t in
            jdbc)
                scripts/bench/measure.sh "$name" "$OUT_DIR" -- "${PJAVA[@]}" upsert "$table" "$ROWS" "$BATCH" "$WARMUP"
                ;;
            loadgen | loadgen-json)
                ser=protobuf url=http://127.0.0.1:8765
                [ "$t" = loadgen-json ] && ser=json url=http://127.0.0.1:8766
                scripts/bench/measure.sh "$name" "$OUT_DIR" -- "$LOADGEN_BIN" run scripts/bench/phoenix_upsert.lua --quiet \
                    --out "$OUT_DIR/$name.json" -e TABLE="$table" -e ROWS="$ROWS" -e WARMUP="$WARMUP" -e BATCH="$BATCH" \
                    -e PHOENIX="$url" -e SERIALIZATION="$ser"
                ;;
            *) bench_die "unknown tool '$t'" ;;
        esac
        hb1=$(proc_cpu_seconds "$HBASE_PID")
        rc=$(cat "$OUT_DIR/$name.rc")
        [ "$rc" = 0 ] || bench_die "$name: exit $rc: $(grep -vE '^\s+at ' "$OUT_DIR/$name.stderr" | tail -3)"
        read -r wall user sys _ <<<"$(tail -n 1 "$OUT_DIR/$name.time")"
        loop_cpu=""
        if [ "$t" = jdbc ]; then
            kv() { sed -nE "s/^$1=(.*)$/\1/p" "$OUT_DIR/$name.stdout"; }
            rate=$(kv rows_per_s) p50=$(kv batch_p50_ms) p99=$(kv batch_p99_ms) errors=0
            loop_cpu=$(bench_calc 'a * 1e6 / b' "$(kv loop_cpu_s)" "$ROWS")
        else
            res=$OUT_DIR/$name.json
            t0=$(awk '$1 == "steady_start_us" { print $2 }' "$OUT_DIR/$name.stdout")
            t1=$(awk '$1 == "end_us" { print $2 }' "$OUT_DIR/$name.stdout")
            rate=$(bench_calc 'a * 1e6 / (b - c)' "$ROWS" "$t1" "$t0")
            p50=$(jq -r '.metrics.upsert_batch_ms.values.p50' "$res")
            p99=$(jq -r '.metrics.upsert_batch_ms.values.p99' "$res")
            errors=$(jq -r '[.metrics[] | .error_count // 0] | add' "$res")
        fi
        "${PJAVA[@]}" finish "$table" >"$OUT_DIR/$name.check.stdout" 2>"$OUT_DIR/$name.check.stderr" ||
            bench_log "warning: $name: check/drop of $table failed"
        check=$(awk -v t="$table" '$1 == t { $1 = ""; print }' "$OUT_DIR/$name.check.stdout")
        [ -n "$REF" ] || REF=$check
        same=0
        [ -n "$check" ] && [ "$check" = "$REF" ] && same=1
        bench_record upsert "$t" "$r" \
            rows_per_s "$rate" batch_p50_ms "$p50" batch_p99_ms "$p99" \
            tool_cpu_s_per_1m "$(bench_calc '(a + b) * 1e6 / c' "$user" "$sys" "$TOTAL")" \
            tool_loop_cpu_s_per_1m "$loop_cpu" \
            qs_cpu_s_per_1m "$(bench_calc 'a * 1e6 / b' "$(cat "$OUT_DIR/$name.server_cpu")" "$TOTAL")" \
            hbase_cpu_s_per_1m "$(bench_calc '(b - a) * 1e6 / c' "$hb0" "$hb1" "$TOTAL")" \
            wall_s "$wall" errors "$errors" rows_in_table "$(awk '{ print $1 }' <<<"$check")" same_rows_as_first "$same"
        bench_log "$name: $rate rows/s (measured phase), wall ${wall}s, table check: $check"
    done
    for a in loadgen loadgen-json; do
        ra=$(awk -F'\t' -v t="$a" -v r="$r" '$2 == t && $3 == r && $4 == "rows_per_s" { print $5 }' "$OUT_DIR/rounds.tsv")
        rb=$(awk -F'\t' -v r="$r" '$2 == "jdbc" && $3 == r && $4 == "rows_per_s" { print $5 }' "$OUT_DIR/rounds.tsv")
        if [ -n "$ra" ] && [ -n "$rb" ]; then
            bench_record ratio "$a/jdbc" "$r" rows_per_s "$(bench_calc 'a / b' "$ra" "$rb")"
        fi
    done
done
bench_meta check "every table's count and sums (count, sum BYTES, sum LATENCY_MS, max TS, sum LENGTH(MESSAGE), distinct HOST): $REF"
bench_finish
