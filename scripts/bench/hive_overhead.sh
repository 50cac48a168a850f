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
# Every timed run holds /tmp/loadgen-bench.lock (shared with the other benchmarks); compiling and
# loading the table happen outside it. FIRST=loadgen runs loadgen first in each part. Prints Markdown.
#   QUERIES=15 STATEMENTS=300 ROWS=1000000 FIRST=jdbc scripts/bench/hive_overhead.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh
: "${QUERIES:=15}" "${STATEMENTS:=300}" "${ROWS:=1000000}" "${FIRST:=jdbc}" "${WIRE_PORT:=10100}"
: "${LOADGEN_CACHE:=$HOME/.cache/loadgen}" "${BENCH_LOCK:=/tmp/loadgen-bench.lock}"
HIVE_PORT=10000
OUT_DIR=${OUT_DIR:-$(mktemp -d)}
LOADGEN_BIN=${LOADGEN_BIN:-target/release/loadgen}
[ -x "$LOADGEN_BIN" ] || bench_die "$LOADGEN_BIN not built: cargo build --release"
bench_need jq
bench_need python3
bench_need ss iproute2
[ -x "$BENCH_TIME_BIN" ] || bench_need "$BENCH_TIME_BIN" time
scripts/stack up hdfs hive >/dev/null
mkdir -p "$OUT_DIR"

# locked_timed NAME -- CMD...: like bench_timed, but CMD runs holding the shared lock, and the time
# (GNU time inside flock) does not count the wait for it. Sets BT_WALL BT_USER BT_SYS BT_RSS_KB BT_RC.
locked_timed() {
    local name="$1" line; shift; [ "$1" = -- ] && shift
    printf '%q ' flock "$BENCH_LOCK" "$@" >"$OUT_DIR/$name.cmd"; echo >>"$OUT_DIR/$name.cmd"
    BT_RC=0
    flock "$BENCH_LOCK" "$BENCH_TIME_BIN" -f '%e %U %S %M' -o "$OUT_DIR/$name.time" "$@" \
        >"$OUT_DIR/$name.stdout" 2>"$OUT_DIR/$name.stderr" || BT_RC=$?
    line=$(tail -n 1 "$OUT_DIR/$name.time")
    read -r BT_WALL BT_USER BT_SYS _ <<<"$line"
    [ "$BT_RC" = 0 ] || bench_die "$name failed (exit $BT_RC): $(grep -vE '^\s+at ' "$OUT_DIR/$name.stderr" | tail -3)"
}

# The JDBC client, compiled outside the lock.
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
HIVE_JAVA=(java -Xmx256m -Dlog4j2.configurationFile=docker/kafka/log4j2.properties -Dloadgen.log.level=ERROR
           -cp "$CLASSES:$HIVE_CP" HiveBench)
# Session settings: the same as the Lua script's session_conf.
URL="jdbc:hive2://127.0.0.1:$HIVE_PORT/default?hive.fetch.task.conversion=more"
kv() { sed -nE "s/^$2=(.*)$/\1/p" "$OUT_DIR/$1.stdout"; }

# Setup (outside the lock): a ROWS-row ORC table made by Hive itself.
TABLE=lg_bench_overhead
bench_log "setup: $TABLE with $ROWS rows"
"${HIVE_JAVA[@]}" "$URL" 0 '' '' "DROP TABLE IF EXISTS $TABLE" \
    "CREATE TABLE $TABLE (id BIGINT, host STRING, level STRING, status INT, latency_ms DOUBLE, bytes BIGINT) STORED AS ORC" \
    "INSERT OVERWRITE TABLE $TABLE SELECT pos, concat('host-', pmod(pos, 50)), elt(pmod(pos, 4) + 1, 'DEBUG', 'INFO', 'WARN', 'ERROR'), 200 + pmod(pos, 5) * 100, pmod(pos * 7, 1000) / 10.0, pmod(pos * 37, 100000) FROM (SELECT posexplode(split(space($((ROWS - 1))), ' ')) AS (pos, v)) g" \
    >"$OUT_DIR/setup.stdout" 2>"$OUT_DIR/setup.stderr" || bench_die "setup failed: $(grep -vE '^\s+at ' "$OUT_DIR/setup.stderr" | tail -3)"
SQL="SELECT level, count(*), avg(latency_ms), sum(bytes) FROM $TABLE GROUP BY level"

if [ "$FIRST" = loadgen ]; then ORDER="loadgen jdbc"; else ORDER="jdbc loadgen"; fi
LG=(run scripts/bench/hive_overhead.lua --quiet -e "HIVE_PORT=$HIVE_PORT")
declare -A WALL CPU
for part in query select1; do
    for tool in $ORDER; do
        name=${part}_$tool
        bench_log "$part: $tool"
        if [ "$tool" = jdbc ]; then
            if [ "$part" = query ]; then
                locked_timed "$name" -- "${HIVE_JAVA[@]}" "$URL" "$QUERIES" "$SQL" 4
            else
                locked_timed "$name" -- "${HIVE_JAVA[@]}" "$URL" "$STATEMENTS" "SELECT 1" 1
            fi
        else
            if [ "$part" = query ]; then
                locked_timed "$name" -- "$LOADGEN_BIN" "${LG[@]}" --out "$OUT_DIR/$name.json" -e MODE=query \
                    -e QUERIES="$QUERIES" -e SQL="$SQL" -e EXPECT_ROWS=4
            else
                locked_timed "$name" -- "$LOADGEN_BIN" "${LG[@]}" --out "$OUT_DIR/$name.json" -e MODE=select1 \
                    -e STATEMENTS="$STATEMENTS"
            fi
        fi
        WALL[$name]=$BT_WALL CPU[$name]=$(bench_calc 'a + b' "$BT_USER" "$BT_SYS")
    done
done

# (c) the same statements through the timing relay, one relay (and log) per run.
WIRE_URL="jdbc:hive2://127.0.0.1:$WIRE_PORT/default?hive.fetch.task.conversion=more"
[ -z "$(ss -ltnH "( sport = :$WIRE_PORT )" 2>/dev/null)" ] || bench_die "port $WIRE_PORT is taken: set WIRE_PORT"
for part in query select1; do
    for tool in $ORDER; do
        name=wire_${part}_$tool
        bench_log "wire $part: $tool"
        python3 scripts/bench/hive_wire_timing.py proxy "$WIRE_PORT" "$HIVE_PORT" "$OUT_DIR/$name.wire" &
        relay=$!
        for _ in $(seq 50); do [ -n "$(ss -ltnH "( sport = :$WIRE_PORT )")" ] && break; sleep 0.1; done
        if [ "$tool" = jdbc ]; then
            if [ "$part" = query ]; then args=("$QUERIES" "$SQL" 4); else args=("$STATEMENTS" "SELECT 1" 1); fi
            locked_timed "$name" -- "${HIVE_JAVA[@]}" "$WIRE_URL" "${args[@]}"
        else
            if [ "$part" = query ]; then args=(-e MODE=query -e QUERIES="$QUERIES" -e SQL="$SQL" -e EXPECT_ROWS=4)
            else args=(-e MODE=select1 -e STATEMENTS="$STATEMENTS"); fi
            locked_timed "$name" -- "$LOADGEN_BIN" run scripts/bench/hive_overhead.lua --quiet -e "HIVE_PORT=$WIRE_PORT" \
                --out "$OUT_DIR/$name.json" "${args[@]}"
        fi
        kill "$relay"
        wait "$relay" 2>/dev/null || true
        python3 scripts/bench/hive_wire_timing.py report "$OUT_DIR/$name.wire" >"$OUT_DIR/$name.timing"
    done
done
"${HIVE_JAVA[@]}" "$URL" 0 '' '' "DROP TABLE IF EXISTS $TABLE" >/dev/null 2>&1 || bench_log "warning: could not drop $TABLE"

# loadgen's per-statement figures: the series of the measured statements (warm-up excluded)
lgs() { jq -r --arg m "hive.query{name:$2,scenario:$2}" --arg f "$3" '.series_totals[$m].service_time[$f]' "$OUT_DIR/$1.json"; }
lgc() { jq -r --arg m "hive.query{name:$2,scenario:$2}" '"\(.series_totals[$m].count) \(.series_totals[$m].error_count)"' "$OUT_DIR/$1.json"; }
pct() { bench_fmt "$(bench_calc '(a - b) / b * 100' "$1" "$2")" 1; }

echo "## Hive client overhead: loadgen.hive beside Hive's JDBC driver $HIVE_JDBC_VERSION"
echo
echo "$(date -u +%FT%TZ), $(nproc) cores, HiveServer2 4.0.1 on 127.0.0.1:$HIVE_PORT (binary, auth NONE, Tez local mode);"
echo "one session per tool, statements one after the other, a warm-up statement first (not counted); order: $ORDER."
echo "Beeline is not compared: the hive-beeline jar is not served by the registry reachable here."
echo
echo "### (a) $QUERIES x \`$SQL\` ($ROWS rows, ORC)"
echo
echo "| tool | queries (errors) | p50 ms | p90 ms | p99 ms | mean ms | min ms | max ms | process wall s | process CPU s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
j=query_jdbc l=query_loadgen
printf '| Hive JDBC %s (HiveBench) | %s (0) | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$HIVE_JDBC_VERSION" "$(kv $j n)" \
    "$(kv $j p50_ms)" "$(kv $j p90_ms)" "$(kv $j p99_ms)" "$(kv $j mean_ms)" "$(kv $j min_ms)" "$(kv $j max_ms)" "${WALL[$j]}" "${CPU[$j]}"
read -r c e <<<"$(lgc $l query)"
printf '| loadgen %s (loadgen.hive) | %s (%s) | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$("$LOADGEN_BIN" version | awk '{print $2}')" "$c" "$e" \
    "$(lgs $l query p50)" "$(lgs $l query p90)" "$(lgs $l query p99)" "$(bench_fmt "$(lgs $l query mean)" 3)" \
    "$(lgs $l query min)" "$(lgs $l query max)" "${WALL[$l]}" "${CPU[$l]}"
echo
echo "loadgen - JDBC, as % of the JDBC client's query time (target: at most +5 %):" \
    "p50 $(pct "$(lgs $l query p50)" "$(kv $j p50_ms)") %," \
    "p99 $(pct "$(lgs $l query p99)" "$(kv $j p99_ms)") %," \
    "mean $(pct "$(lgs $l query mean)" "$(kv $j mean_ms)") %"
echo
echo "### (b) $STATEMENTS x \`SELECT 1\`, one session, sequential"
echo
echo "| tool | statements (errors) | p50 ms | p90 ms | p99 ms | mean ms | statements wall s | client CPU ms / statement | JVM start ms | session open ms | process wall s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
j=select1_jdbc l=select1_loadgen
printf '| Hive JDBC %s (HiveBench) | %s (0) | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$HIVE_JDBC_VERSION" "$(kv $j n)" \
    "$(kv $j p50_ms)" "$(kv $j p90_ms)" "$(kv $j p99_ms)" "$(kv $j mean_ms)" "$(kv $j loop_s)" \
    "$(bench_fmt "$(bench_calc 'a / b * 1000' "$(kv $j loop_cpu_s)" "$(kv $j n)")" 3)" \
    "$(kv $j jvm_start_ms)" "$(kv $j connect_ms)" "${WALL[$j]}"
read -r c e <<<"$(lgc $l select1)"
lg_loop=$(jq -r '.duration_s' "$OUT_DIR/$l.json")
lg_connect=$(jq -r '.series_totals["hive.connect{scenario:select1}"].service_time.max' "$OUT_DIR/$l.json")
printf '| loadgen %s (loadgen.hive) | %s (%s) | %s | %s | %s | %s | %s | %s | - | %s | %s |\n' "$("$LOADGEN_BIN" version | awk '{print $2}')" "$c" "$e" \
    "$(lgs $l select1 p50)" "$(lgs $l select1 p90)" "$(lgs $l select1 p99)" "$(bench_fmt "$(lgs $l select1 mean)" 3)" \
    "$(bench_fmt "$lg_loop" 3)" "$(bench_fmt "$(bench_calc 'a / b * 1000' "${CPU[$l]}" "$c")" 3)" "$lg_connect" "${WALL[$l]}"
echo
echo "loadgen - JDBC per statement: p50 $(pct "$(lgs $l select1 p50)" "$(kv $j p50_ms)") %, mean $(pct "$(lgs $l select1 mean)" "$(kv $j mean_ms)") %"
echo "(JDBC CPU / statement: the JVM's CPU during the timed loop; loadgen's: the whole process, start and setup included."
echo "JVM start: process start (the OS clock) to the first line of main.)"
echo
echo "### (c) Where the time goes: both clients through the same timing relay"
echo
echo "Per statement (warm-up left out): **server** = the sum over its TCLIService calls of the time from the"
echo "request leaving the relay to the last byte of the answer; **client** = the rest of the time from one"
echo "ExecuteStatement to the next (the client's work between an answer and its next request, its loop included)."
echo
echo "| statement | tool | statements | calls / statement | total p50 ms | server p50 ms | client p50 ms | client mean ms | client, % of total (mean) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
wk() { sed -nE "s/^$2=(.*)$/\1/p" "$OUT_DIR/$1.timing"; }
for part in query select1; do
    label="GROUP BY ($ROWS rows)"; [ "$part" = select1 ] && label="SELECT 1"
    for tool in jdbc loadgen; do
        n=wire_${part}_$tool
        t="Hive JDBC $HIVE_JDBC_VERSION"; [ "$tool" = loadgen ] && t="loadgen.hive"
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$t" "$(wk "$n" statements)" "$(wk "$n" calls_per_statement)" \
            "$(wk "$n" total_p50_ms)" "$(wk "$n" server_p50_ms)" "$(wk "$n" client_p50_ms)" "$(wk "$n" client_mean_ms)" \
            "$(bench_fmt "$(bench_calc 'a / b * 100' "$(wk "$n" client_mean_ms)" "$(wk "$n" total_mean_ms)")" 2)"
    done
done
echo
echo "Run as \`QUERIES=$QUERIES STATEMENTS=$STATEMENTS ROWS=$ROWS FIRST=$FIRST OUT_DIR=$OUT_DIR scripts/bench/hive_overhead.sh\`;"
echo "each tool's exact command is in \`$OUT_DIR/{,wire_}{query,select1}_{jdbc,loadgen}.cmd\`, its raw output beside it."
