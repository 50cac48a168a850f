#!/usr/bin/env bash
# Phoenix UPSERT throughput: loadgen.phoenix through the Query Server (Avatica, SERIALIZATION = protobuf on
# 127.0.0.1:8765, the default, or json on 127.0.0.1:8766, prepared statement +
# execute_batch, commit per batch) beside Phoenix's thick JDBC client (jdbc:phoenix:127.0.0.1:2181, straight
# to HBase; scripts/bench/java/PhoenixBench.java compiled here into a temp dir): the same ROWS rows, BATCH
# rows per batch, a commit per batch, one connection, each tool into a fresh table of the same DDL.
# Besides rows/s it shows where the time goes: per-batch execute vs commit time, client CPU, the Query
# Server's and HBase's CPU during each run, and the bytes the Query Server read/wrote (/proc/PID/io).
# Every timed run holds /tmp/loadgen-bench.lock (shared with the other benchmarks); compiling, creating,
# checking and dropping the tables happen outside it. FIRST=loadgen runs loadgen first. Prints Markdown.
#   ROWS=200000 BATCH=1000 FIRST=jdbc SERIALIZATION=json scripts/bench/phoenix_upsert.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh
: "${BENCH_LOCK:=/tmp/loadgen-bench.lock}"

# Internal: `phoenix_upsert.sh --measure OUT_DIR NAME QS_PID HBASE_PID -- CMD...`, run under flock: the
# servers' CPU and the Query Server's I/O before and after CMD, CMD under GNU time.
if [ "${1:-}" = --measure ]; then
    out=$2 name=$3 qs=$4 hb=$5; shift 6
    io() { awk '/^(rchar|wchar):/ {printf "%s ", $2}' "/proc/$1/io"; }
    before="$(proc_cpu_seconds "$qs") $(proc_cpu_seconds "$hb") $(io "$qs")"
    rc=0
    "$BENCH_TIME_BIN" -f '%e %U %S %M' -o "$out/$name.time" "$@" >"$out/$name.stdout" 2>"$out/$name.stderr" || rc=$?
    echo "$before $(proc_cpu_seconds "$qs") $(proc_cpu_seconds "$hb") $(io "$qs")" >"$out/$name.servers"
    exit $rc
fi

: "${ROWS:=200000}" "${BATCH:=1000}" "${FIRST:=jdbc}" "${SERIALIZATION:=protobuf}"
case $SERIALIZATION in
    json) QS_URL=http://127.0.0.1:8766 ;;
    protobuf) QS_URL=http://127.0.0.1:8765 ;;
    *) bench_die "SERIALIZATION must be json or protobuf, not '$SERIALIZATION'" ;;
esac
: "${LOADGEN_CACHE:=$HOME/.cache/loadgen}" "${LOADGEN_STATE:=$HOME/.local/state/loadgen}"
OUT_DIR=${OUT_DIR:-$(mktemp -d)}
LOADGEN_BIN=${LOADGEN_BIN:-target/release/loadgen}
[ -x "$LOADGEN_BIN" ] || bench_die "$LOADGEN_BIN not built: cargo build --release"
bench_need jq
[ -x "$BENCH_TIME_BIN" ] || bench_need "$BENCH_TIME_BIN" time
scripts/stack up hbase phoenix >/dev/null
mkdir -p "$OUT_DIR"
status=$(scripts/stack status)
QS_PID=$(awk '$1 == "phoenix" {print $3}' <<<"$status")
HBASE_PID=$(awk '$1 == "hbase" {print $3}' <<<"$status")
{ [ -n "$QS_PID" ] && [ -n "$HBASE_PID" ]; } || bench_die "no Query Server / HBase PID in scripts/stack status"

# The thick client: the Query Server's own jar folder (phoenix-core-client, HBase client, no server jars)
# and its hbase-site.xml, so both tools' JDBC connections are configured alike. Compiled outside the lock.
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

# Fresh tables, the same DDL (outside the lock).
stamp=$(date +%s)
T_JDBC=LG_BENCH_UPSERT_JDBC_$stamp T_LG=LG_BENCH_UPSERT_LOADGEN_$stamp
DDL="(ID BIGINT NOT NULL PRIMARY KEY, TS TIMESTAMP, HOST VARCHAR, SERVICE VARCHAR, LEVEL VARCHAR, STATUS INTEGER, LATENCY_MS DOUBLE, BYTES BIGINT, MESSAGE VARCHAR)"
bench_log "setup: tables $T_JDBC and $T_LG"
"${PJAVA[@]}" ddl "CREATE TABLE $T_JDBC $DDL" "CREATE TABLE $T_LG $DDL" >"$OUT_DIR/setup.stdout" 2>"$OUT_DIR/setup.stderr" ||
    bench_die "table setup failed: $(grep -vE '^\s+at ' "$OUT_DIR/setup.stderr" | tail -3)"

measure() {
    local name=$1; shift; [ "$1" = -- ] && shift
    printf '%q ' flock "$BENCH_LOCK" "$@" >"$OUT_DIR/$name.cmd"; echo >>"$OUT_DIR/$name.cmd"
    BT_RC=0
    flock "$BENCH_LOCK" "$0" --measure "$OUT_DIR" "$name" "$QS_PID" "$HBASE_PID" -- "$@" || BT_RC=$?
    read -r BT_WALL BT_USER BT_SYS BT_RSS_KB <<<"$(tail -n 1 "$OUT_DIR/$name.time")"
    [ "$BT_RC" = 0 ] || bench_die "$name failed (exit $BT_RC): $(grep -vE '^\s+at ' "$OUT_DIR/$name.stderr" | tail -3)"
}

if [ "$FIRST" = loadgen ]; then ORDER="loadgen jdbc"; else ORDER="jdbc loadgen"; fi
declare -A WALL CPU RSS
for tool in $ORDER; do
    bench_log "$tool: $ROWS rows, batches of $BATCH"
    if [ "$tool" = jdbc ]; then
        measure jdbc -- "${PJAVA[@]}" upsert "$T_JDBC" "$ROWS" "$BATCH"
    else
        measure loadgen -- "$LOADGEN_BIN" run scripts/bench/phoenix_upsert.lua --quiet --out "$OUT_DIR/loadgen.json" \
            -e TABLE="$T_LG" -e ROWS="$ROWS" -e BATCH="$BATCH" -e PHOENIX="$QS_URL" -e SERIALIZATION="$SERIALIZATION"
    fi
    WALL[$tool]=$BT_WALL CPU[$tool]=$(bench_calc 'a + b' "$BT_USER" "$BT_SYS") RSS[$tool]=$(bench_kib_to_mib "$BT_RSS_KB")
done

# Same rows in both tables? Then drop them (outside the lock).
"${PJAVA[@]}" check "$T_JDBC" "$T_LG" >"$OUT_DIR/check.stdout" 2>"$OUT_DIR/check.stderr" || bench_log "warning: check failed"
"${PJAVA[@]}" ddl "DROP TABLE $T_JDBC" "DROP TABLE $T_LG" >/dev/null 2>&1 || bench_log "warning: could not drop the tables"
sums_j=$(awk -v t="$T_JDBC" '$1 == t {$1 = ""; print}' "$OUT_DIR/check.stdout")
sums_l=$(awk -v t="$T_LG" '$1 == t {$1 = ""; print}' "$OUT_DIR/check.stdout")
if [ -n "$sums_j" ] && [ "$sums_j" = "$sums_l" ]; then same="yes (count, sums of BYTES, LATENCY_MS, LENGTH(MESSAGE), MAX(TS), hosts:$sums_j)"; else same="NO: '$sums_j' vs '$sums_l'"; fi

kv() { sed -nE "s/^$2=(.*)$/\1/p" "$OUT_DIR/$1.stdout"; }
# servers: qs_cpu0 hb_cpu0 qs_rchar0 qs_wchar0 qs_cpu1 hb_cpu1 qs_rchar1 qs_wchar1
srv() { awk -v f="$2" '{ if (f == "qs") print $5 - $1; else if (f == "hb") print $6 - $2; else if (f == "qsr") printf "%.1f\n", ($7 - $3) / 1048576; else printf "%.1f\n", ($8 - $4) / 1048576 }' "$OUT_DIR/$1.servers"; }
lgm() { jq -r --arg m "$1" --arg f "$2" '.metrics[$m].service_time[$f]' "$OUT_DIR/loadgen.json"; }
lg_rows=$(jq -r '.metrics["phoenix.execute"].units.rows // .metrics["phoenix.execute"].units' "$OUT_DIR/loadgen.json")
lg_dur=$(jq -r '.duration_s' "$OUT_DIR/loadgen.json")
lg_err=$(jq -r '[.metrics[] | .error_count // 0] | add' "$OUT_DIR/loadgen.json")
lg_rate=$(bench_calc 'a / b' "$ROWS" "$lg_dur")
j_rate=$(kv jdbc rows_per_s)
lg_exec=$(bench_calc 'a * b / 1000' "$(lgm phoenix.execute mean)" "$(jq -r '.metrics["phoenix.execute"].count' "$OUT_DIR/loadgen.json")")
lg_commit=$(bench_calc 'a * b / 1000' "$(lgm phoenix.commit mean)" "$(jq -r '.metrics["phoenix.commit"].count' "$OUT_DIR/loadgen.json")")

echo "## Phoenix UPSERT: $ROWS rows in batches of $BATCH, a commit per batch, one connection"
echo
echo "$(date -u +%FT%TZ), $(nproc) cores, HBase 2.6.4 + Phoenix $PHOENIX_VERSION (standalone HBase, ZooKeeper 127.0.0.1:2181),"
echo "Query Server (Avatica, $SERIALIZATION) on ${QS_URL#http://}; each tool into a fresh table of the same DDL; order: $ORDER."
echo "Same rows in both tables: $same"
echo
echo "| tool | rows/s | loop s | execute s (sum) | commit s (sum) | batch p50 / p99 ms | client CPU s | Query Server CPU s | HBase CPU s | JVM start / connect ms | process wall s | max RSS MiB |"
echo "|---|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---:|"
printf '| Phoenix %s thick JDBC (PhoenixBench) | %.0f | %s | %s | %s | %s / %s | %s | %s | %s | %s / %s | %s | %s |\n' "$PHOENIX_VERSION" \
    "$j_rate" "$(kv jdbc loop_s)" "$(kv jdbc execute_s)" "$(kv jdbc commit_s)" "$(kv jdbc batch_p50_ms)" "$(kv jdbc batch_p99_ms)" \
    "$(kv jdbc loop_cpu_s)" "$(srv jdbc qs)" "$(srv jdbc hb)" "$(kv jdbc jvm_start_ms)" "$(kv jdbc connect_ms)" \
    "${WALL[jdbc]}" "$(bench_fmt "${RSS[jdbc]}" 0)"
it=$(jq -r '.metrics.iteration_duration.values' "$OUT_DIR/loadgen.json")
printf '| loadgen %s (loadgen.phoenix, %s) | %.0f | %s | %s | %s | %s / %s | %s | %s | %s | - / %s | %s | %s |\n' "$("$LOADGEN_BIN" version | awk '{print $2}')" "$SERIALIZATION" \
    "$lg_rate" "$(bench_fmt "$lg_dur" 3)" "$(bench_fmt "$lg_exec" 3)" "$(bench_fmt "$lg_commit" 3)" \
    "$(bench_fmt "$(jq -r .p50 <<<"$it")" 2)" "$(bench_fmt "$(jq -r .p99 <<<"$it")" 2)" \
    "${CPU[loadgen]}" "$(srv loadgen qs)" "$(srv loadgen hb)" "$(lgm phoenix.connect max)" "${WALL[loadgen]}" "$(bench_fmt "${RSS[loadgen]}" 0)"
echo
awk -v a="$lg_rate" -v b="$j_rate" 'BEGIN {printf "loadgen / thick JDBC = %.2f (rows/s)\n", a / b}'
echo
echo "- rows/s: ROWS / the timed loop (thick client: timed inside Java, JVM start and the ZooKeeper/HBase connection excluded;"
echo "  loadgen: the run's duration_s, its Query Server connection and prepare included). loadgen errors: $lg_err; rows counted: $lg_rows."
echo "- execute = executeBatch (thick client: buffering the mutations in the client; loadgen: the HTTP round trip of the JSON"
echo "  executeBatch, the Query Server decoding it and buffering through its own Phoenix JDBC connection); commit = sending them to"
echo "  HBase (loadgen: one more HTTP round trip, then the Query Server's commit). batch = execute + commit (loadgen: the iteration, row building included)."
echo "- client CPU: thick client: the JVM during the loop; loadgen: the whole process. Query Server / HBase CPU: /proc/PID/stat before and after each run."
echo "- Query Server I/O during the loadgen run (read/write system calls, HTTP and HBase RPC): $(srv loadgen qsr) MiB read, $(srv loadgen qsw) MiB written;"
echo "  the thick client's own during its loop: $(bench_calc 'a / 1048576' "$(kv jdbc loop_read_bytes)" | xargs -r printf '%.1f') MiB read, $(bench_calc 'a / 1048576' "$(kv jdbc loop_write_bytes)" | xargs -r printf '%.1f') MiB written."
echo
echo "Run as \`ROWS=$ROWS BATCH=$BATCH FIRST=$FIRST OUT_DIR=$OUT_DIR scripts/bench/phoenix_upsert.sh\`;"
echo "each tool's exact command is in \`$OUT_DIR/{jdbc,loadgen}.cmd\`, its raw output beside it."
