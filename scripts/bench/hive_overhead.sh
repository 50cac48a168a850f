#!/usr/bin/env bash
# Hive client overhead: loadgen's own HiveServer2 client (loadgen.hive) beside Hive's JDBC driver
# (hive-jdbc, scripts/bench/java/HiveBench.java compiled here into a temp dir), one session each, one
# statement after the other, against the stack's HiveServer2 (127.0.0.1:10000, Tez local mode).
#  (a) QUERIES runs of an aggregation over a ROWS-row ORC table loaded in setup: per-query latency
#      distributions, and loadgen's difference as % of the query's time (target: at most 5 %)
#  (b) STATEMENTS x `SELECT 1`: per-statement time (target: loadgen below the JDBC client); the JDBC
#      client's JVM start and session open are reported apart from its loop (timed inside Java)
#  (c) both again, each client through the same timing relay (scripts/bench/hive_wire_timing.py on
#      127.0.0.1:WIRE_PORT): per statement, the server's time (request -> answer, summed over the
#      statement's calls) and the client's (everything else). The end-to-end figures of (a) and (b)
#      move with the server from run to run by more than the clients differ; (c) sets the two apart.
# Beeline is not compared: the hive-beeline jar is not served by the registry reachable here.
# On the method of scripts/bench/harness.sh: ROUNDS rounds (at least 5), the two clients' order alternated
# per round (each round runs (a), (b), (c) for the first client, then for the second), and
# /tmp/loadgen-bench.lock held for the whole script (compiling and loading the table included). Both
# clients run WARMUP warm-up statements (the same SQL) before the measured ones, left out of every figure.
# Recorded per run (rounds.tsv): per statement p50/p99/mean ms end to end, the client's and server's
# p50 ms and the client's share of the time through the relay, calls per statement, the client's CPU per
# statement (JDBC: its JVM during the timed loop; loadgen: the whole process) and each process's CPU s,
# HiveServer2's CPU per statement (over the whole process), the JDBC client's JVM start and both
# clients' session open, errors; and per round the
# differences loadgen - JDBC.
#   QUERIES=10 STATEMENTS=200 ROWS=1000000 WARMUP=1 scripts/bench/hive_overhead.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bench/harness.sh
source scripts/bench/harness.sh
: "${QUERIES:=10}" "${STATEMENTS:=200}" "${ROWS:=1000000}" "${WARMUP:=1}" "${WIRE_PORT:=10100}"
: "${LOADGEN_CACHE:=$HOME/.cache/loadgen}"
HIVE_PORT=10000
LOADGEN_BIN=${LOADGEN_BIN:-target/release/loadgen}
[ -x "$LOADGEN_BIN" ] || bench_die "$LOADGEN_BIN not built: cargo build --release"
bench_need jq
bench_need python3
bench_need ss iproute2
[ -x "$BENCH_TIME_BIN" ] || bench_need "$BENCH_TIME_BIN" time
BENCH_COMMAND="QUERIES=$QUERIES STATEMENTS=$STATEMENTS ROWS=$ROWS WARMUP=$WARMUP LOADGEN_BIN=$LOADGEN_BIN scripts/bench/hive_overhead.sh"

bench_begin hive_overhead

scripts/stack up hdfs hive >/dev/null
HS2_PID=$(bench_pid_on $HIVE_PORT)
[ -n "$HS2_PID" ] || bench_die "no process listens on 127.0.0.1:$HIVE_PORT"
export SERVER_PIDS=$HS2_PID

# timed NAME -- CMD...: one measured run (measure.sh: NAME.{cmd,stdout,stderr,time,server_cpu,rc}).
timed() {
    local name="$1"; shift; [ "$1" = -- ] && shift
    scripts/bench/measure.sh "$name" "$OUT_DIR" -- "$@"
    read -r BT_WALL BT_USER BT_SYS _ <<<"$(tail -n 1 "$OUT_DIR/$name.time")"
    BT_RC=$(cat "$OUT_DIR/$name.rc")
    [ "$BT_RC" = 0 ] || bench_die "$name failed (exit $BT_RC): $(grep -vE '^\s+at ' "$OUT_DIR/$name.stderr" | tail -3)"
}

# The JDBC client.
CLASSES=$(mktemp -d /tmp/loadgen-bench-hive.XXXXXX)
trap 'rm -rf "$CLASSES"' EXIT
javac --release 17 -nowarn -d "$CLASSES" scripts/bench/java/HiveBench.java
# the same jar set as scripts/stack's hive_sql (without the logging bridges that clash)
HIVE_CP="" HIVE_JDBC_VERSION=""
for jar in "$LOADGEN_CACHE"/hive/lib/*.jar; do
    case ${jar##*/} in log4j-1.2-api-[0-9]*|slf4j-reload4j-[0-9]*|hadoop-client-api-[0-9]*) continue ;; esac
    case ${jar##*/} in hive-jdbc-[0-9]*) HIVE_JDBC_VERSION=${jar##*/hive-jdbc-}; HIVE_JDBC_VERSION=${HIVE_JDBC_VERSION%.jar} ;; esac
    HIVE_CP+="$jar:"
done
HIVE_JAVA=(java -Xmx256m -Dwarmup="$WARMUP" -Dlog4j2.configurationFile=docker/kafka/log4j2.properties -Dloadgen.log.level=ERROR
           -cp "$CLASSES:$HIVE_CP" HiveBench)
# Session settings: the same as the Lua script's session_conf.
URL="jdbc:hive2://127.0.0.1:$HIVE_PORT/default?hive.fetch.task.conversion=more"
kv() { sed -nE "s/^$2=(.*)$/\1/p" "$OUT_DIR/$1.stdout"; }

# Setup: a ROWS-row ORC table made by Hive itself.
TABLE=lg_bench_overhead
bench_log "setup: $TABLE with $ROWS rows"
"${HIVE_JAVA[@]}" "$URL" 0 '' '' "DROP TABLE IF EXISTS $TABLE" \
    "CREATE TABLE $TABLE (id BIGINT, host STRING, level STRING, status INT, latency_ms DOUBLE, bytes BIGINT) STORED AS ORC" \
    "INSERT OVERWRITE TABLE $TABLE SELECT pos, concat('host-', pmod(pos, 50)), elt(pmod(pos, 4) + 1, 'DEBUG', 'INFO', 'WARN', 'ERROR'), 200 + pmod(pos, 5) * 100, pmod(pos * 7, 1000) / 10.0, pmod(pos * 37, 100000) FROM (SELECT posexplode(split(space($((ROWS - 1))), ' ')) AS (pos, v)) g" \
    >"$OUT_DIR/setup.stdout" 2>"$OUT_DIR/setup.stderr" || bench_die "setup failed: $(grep -vE '^\s+at ' "$OUT_DIR/setup.stderr" | tail -3)"
SQL="SELECT level, count(*), avg(latency_ms), sum(bytes) FROM $TABLE GROUP BY level"

bench_meta tools "Hive JDBC $HIVE_JDBC_VERSION (HiveBench), loadgen $("$LOADGEN_BIN" version | awk '{print $2}') ($LOADGEN_BIN, loadgen.hive); HiveServer2 PID $HS2_PID on 127.0.0.1:$HIVE_PORT (binary, auth NONE, Tez local mode)"
bench_meta work "one session per run, statements one after the other, $WARMUP warm-up statement(s) first (not counted); (a) query: $QUERIES x $SQL ($ROWS rows, ORC); (b) select1: $STATEMENTS x SELECT 1; (c) both again through scripts/bench/hive_wire_timing.py on 127.0.0.1:$WIRE_PORT"

LG=(run scripts/bench/hive_overhead.lua --quiet -e WARMUP="$WARMUP")
WIRE_URL="jdbc:hive2://127.0.0.1:$WIRE_PORT/default?hive.fetch.task.conversion=more"
[ -z "$(ss -ltnH "( sport = :$WIRE_PORT )" 2>/dev/null)" ] || bench_die "port $WIRE_PORT is taken: set WIRE_PORT"
RELAY=""
trap '[ -n "$RELAY" ] && bench_stop_pid "$RELAY" relay; rm -rf "$CLASSES"' EXIT
# loadgen's per-statement figures: the series of the measured statements (warm-up excluded)
lgs() { jq -r --arg m "hive.query{name:$2,scenario:$2}" --arg f "$3" '.series_totals[$m].service_time[$f] // empty' "$OUT_DIR/$1.json"; }
wk() { sed -nE "s/^$2=(.*)$/\1/p" "$OUT_DIR/$1.timing"; }

for ((r = 1; r <= BENCH_ROUNDS; r++)); do
    for tool in $(bench_order "$r" jdbc loadgen); do
        for part in query select1; do
            if [ "$part" = query ]; then n=$QUERIES; jargs=("$QUERIES" "$SQL" 4); largs=(-e MODE=query -e QUERIES="$QUERIES" -e SQL="$SQL" -e EXPECT_ROWS=4)
            else n=$STATEMENTS; jargs=("$STATEMENTS" "SELECT 1" 1); largs=(-e MODE=select1 -e STATEMENTS="$STATEMENTS"); fi
            # (a)/(b): straight to HiveServer2
            name=r$r-$tool-$part
            if [ "$tool" = jdbc ]; then
                timed "$name" -- "${HIVE_JAVA[@]}" "$URL" "${jargs[@]}"
                p50=$(kv "$name" p50_ms) p99=$(kv "$name" p99_ms) mean=$(kv "$name" mean_ms) errors=0
                cpu_per=$(bench_calc 'a / b * 1000' "$(kv "$name" loop_cpu_s)" "$n")
                jvm=$(kv "$name" jvm_start_ms) session=$(kv "$name" connect_ms)
            else
                timed "$name" -- "$LOADGEN_BIN" "${LG[@]}" -e HIVE_PORT="$HIVE_PORT" --out "$OUT_DIR/$name.json" "${largs[@]}"
                p50=$(lgs "$name" "$part" p50) p99=$(lgs "$name" "$part" p99) mean=$(lgs "$name" "$part" mean)
                errors=$(jq -r '[.metrics[] | .error_count // 0] | add' "$OUT_DIR/$name.json")
                cpu_per=$(bench_calc '(a + b) / c * 1000' "$BT_USER" "$BT_SYS" "$n")
                jvm="" session=$(jq -r --arg m "hive.connect{scenario:$part}" '.series_totals[$m].service_time.max // empty' "$OUT_DIR/$name.json")
            fi
            hs2=$(bench_calc 'a / b * 1000' "$(cat "$OUT_DIR/$name.server_cpu")" "$n")
            pcpu=$(bench_calc 'a + b' "$BT_USER" "$BT_SYS")
            # (c): the same through the timing relay
            wname=r$r-$tool-wire-$part
            python3 scripts/bench/hive_wire_timing.py proxy "$WIRE_PORT" "$HIVE_PORT" "$OUT_DIR/$wname.wire" &
            RELAY=$!
            for _ in $(seq 50); do [ -n "$(ss -ltnH "( sport = :$WIRE_PORT )")" ] && break; sleep 0.1; done
            if [ "$tool" = jdbc ]; then
                timed "$wname" -- "${HIVE_JAVA[@]}" "$WIRE_URL" "${jargs[@]}"
            else
                timed "$wname" -- "$LOADGEN_BIN" "${LG[@]}" -e HIVE_PORT="$WIRE_PORT" --out "$OUT_DIR/$wname.json" "${largs[@]}"
            fi
            bench_stop_pid "$RELAY" relay
            RELAY=""
            python3 scripts/bench/hive_wire_timing.py report "$OUT_DIR/$wname.wire" "$WARMUP" >"$OUT_DIR/$wname.timing"
            bench_record "$part" "$tool" "$r" \
                p50_ms "$p50" p99_ms "$p99" mean_ms "$mean" \
                wire_client_p50_ms "$(wk "$wname" client_p50_ms)" wire_server_p50_ms "$(wk "$wname" server_p50_ms)" \
                wire_client_share_pct "$(bench_calc 'a / b * 100' "$(wk "$wname" client_mean_ms)" "$(wk "$wname" total_mean_ms)")" \
                wire_calls_per_statement "$(wk "$wname" calls_per_statement)" \
                client_cpu_ms_per_statement "$cpu_per" process_cpu_s "$pcpu" hs2_cpu_ms_per_statement "$hs2" \
                jvm_start_ms "$jvm" session_open_ms "$session" errors "$errors"
            bench_log "$name: p50 ${p50} ms; through the relay: client p50 $(wk "$wname" client_p50_ms) ms"
        done
    done
    for part in query select1; do
        for m in p50_ms wire_client_p50_ms; do
            a=$(awk -F'\t' -v p="$part" -v r="$r" -v m="$m" '$1 == p && $2 == "loadgen" && $3 == r && $4 == m { print $5 }' "$OUT_DIR/rounds.tsv")
            b=$(awk -F'\t' -v p="$part" -v r="$r" -v m="$m" '$1 == p && $2 == "jdbc" && $3 == r && $4 == m { print $5 }' "$OUT_DIR/rounds.tsv")
            if [ -n "$a" ] && [ -n "$b" ]; then
                bench_record "diff_$part" "loadgen-jdbc" "$r" "${m}_diff" "$(bench_calc 'a - b' "$a" "$b")" "${m}_diff_pct" "$(bench_calc '(a - b) / b * 100' "$a" "$b")"
            fi
        done
    done
done
"${HIVE_JAVA[@]}" "$URL" 0 '' '' "DROP TABLE IF EXISTS $TABLE" >/dev/null 2>&1 || bench_log "warning: could not drop $TABLE"
bench_finish
