#!/usr/bin/env bash
# The soak (issue 16): HTTP, Kafka produce + consume, Elasticsearch bulk + search and Phoenix upserts at
# fixed arrival rates at once for DURATION (default 1h), against the stack and our own nginx, with
# loadgen's RSS and CPU sampled every SAMPLE_S seconds from /proc. Then scripts/bench/soak_check.py
# judges the run and writes summary.md and rss.svg: loadgen's RSS flat within 5 % after the first five
# minutes (a quarter of the run when shorter), every operation's throughput within 5 % of its rate in
# every 10-second window, every acknowledged count equal to the server's own count, the latency p99
# not climbing from window to window. Exit 0 when every criterion holds, 1 otherwise.
#
#   scripts/bench/soak.sh                                   # one hour, results/soak/<UTC time>/
#   DURATION=2m OUT_DIR=/tmp/soak SOAK_LOCK=0 scripts/bench/soak.sh   # what scripts/test runs
#
# Env: DURATION, LOADGEN_BIN (default target/release/loadgen), OUT_DIR (must not exist), SAMPLE_S (5),
# HTTP_RATE (200), KAFKA_RATE (200), ES_RATE (5 bulks of ES_DOCS=100), SEARCH_RATE (2), PHOENIX_RATE (50),
# NGINX_PORT (18080), SOAK_LOCK=0 to run without /tmp/loadgen-bench.lock (a caller that holds it, or CI).
# Holds /tmp/loadgen-bench.lock exclusively for the whole run otherwise. Raw outputs are written once.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh
: "${DURATION:=1h}" "${SAMPLE_S:=5}" "${NGINX_PORT:=18080}"
: "${HTTP_RATE:=200}" "${KAFKA_RATE:=200}" "${ES_RATE:=5}" "${ES_DOCS:=100}" "${SEARCH_RATE:=2}" "${PHOENIX_RATE:=50}"
LOADGEN_BIN=${LOADGEN_BIN:-target/release/loadgen}
[ -x "$LOADGEN_BIN" ] || bench_die "$LOADGEN_BIN not built: cargo build --release"
bench_duration_seconds "$DURATION" >/dev/null

[ "${SOAK_LOCK:-1}" = 0 ] || bench_hold_lock
stamp=$(date -u +%Y%m%dT%H%M%SZ)
OUT_DIR=${OUT_DIR:-$ROOT/results/soak/$stamp}
[ -e "$OUT_DIR" ] && bench_die "$OUT_DIR exists: raw outputs are written once (choose another OUT_DIR)"
mkdir -p "$OUT_DIR"
{
    echo "benchmark: soak"
    echo "started: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git rev-parse HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "loadgen: $LOADGEN_BIN ($("$LOADGEN_BIN" --version 2>/dev/null || echo '?'))"
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr)"
    echo "command: DURATION=$DURATION SAMPLE_S=$SAMPLE_S HTTP_RATE=$HTTP_RATE KAFKA_RATE=$KAFKA_RATE ES_RATE=$ES_RATE ES_DOCS=$ES_DOCS SEARCH_RATE=$SEARCH_RATE PHOENIX_RATE=$PHOENIX_RATE LOADGEN_BIN=$LOADGEN_BIN scripts/bench/soak.sh"
    echo "rates: http $HTTP_RATE/s, kafka.produce $KAFKA_RATE/s, es.bulk $ES_RATE/s x $ES_DOCS docs, es.search $SEARCH_RATE/s, phoenix.execute $PHOENIX_RATE/s"
} >"$OUT_DIR/meta.txt"

scripts/stack up kafka elasticsearch hdfs hbase phoenix >/dev/null
LG_PID=""
# On an interrupt loadgen gets the terminal's SIGINT itself and stops gracefully (its teardown
# counts and drops what the run made): wait for it rather than send a second INT (a hard stop).
cleanup() {
    if [ -n "$LG_PID" ]; then
        for _ in $(seq 1 400); do kill -0 "$LG_PID" 2>/dev/null || break; sleep 1; done
        bench_stop_pid "$LG_PID" loadgen INT
    fi
    nginx_stop
}
trap cleanup EXIT
nginx_start "$NGINX_PORT"

name=soak-$$-$(date +%s)
tbl=SOAK_$$_$(date +%s)
"$LOADGEN_BIN" run scripts/bench/soak.lua --out "$OUT_DIR/result.json" \
    -e DURATION="$DURATION" -e TOPIC="$name" -e GROUP="$name" -e INDEX="$name" -e TABLE="$tbl" \
    -e DIR="$OUT_DIR" -e URL="http://127.0.0.1:$NGINX_PORT/1k" -e ES_DOCS="$ES_DOCS" \
    -e HTTP_RATE="$HTTP_RATE" -e KAFKA_RATE="$KAFKA_RATE" -e ES_RATE="$ES_RATE" \
    -e SEARCH_RATE="$SEARCH_RATE" -e PHOENIX_RATE="$PHOENIX_RATE" -e ONLY="${ONLY:-}" >"$OUT_DIR/loadgen.log" 2>&1 &
LG_PID=$!
bench_log "soak: loadgen pid $LG_PID for $DURATION, raw outputs in $OUT_DIR"
# loadgen's resident memory (KiB: all, then its anonymous part, the heap and stacks, and its file
# part, the binary's and libraries' pages read in as code runs; then the anonymous memory in
# transparent huge pages, which loadgen turns off for itself, so 0) and CPU (user + system clock
# ticks) every SAMPLE_S seconds.
tck=$(getconf CLK_TCK)
printf 'epoch_s\trss_kib\tcpu_s\trss_anon_kib\trss_file_kib\tanon_huge_kib\n' >"$OUT_DIR/rss.tsv"
while kill -0 "$LG_PID" 2>/dev/null; do
    mem=$(awk '/^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 } /^RssFile:/ { f = $2 } END { if (r != "") print r, a, f }' \
        "/proc/$LG_PID/status" 2>/dev/null || true)
    cpu=$(awk -v t="$tck" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$LG_PID/stat" 2>/dev/null || true)
    huge=$(awk '/^AnonHugePages:/ { print $2 }' "/proc/$LG_PID/smaps_rollup" 2>/dev/null || true)
    if [ -n "$mem" ]; then
        read -r rss anon file <<<"$mem"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date +%s)" "$rss" "$cpu" "$anon" "$file" "${huge:--}" >>"$OUT_DIR/rss.tsv"
    fi
    sleep "$SAMPLE_S"
done
rc=0
wait "$LG_PID" || rc=$?
LG_PID=""
echo "loadgen exit: $rc" >>"$OUT_DIR/meta.txt"
echo "ended: $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$OUT_DIR/meta.txt"
nginx_stop
check=0
export HTTP_RATE KAFKA_RATE ES_RATE SEARCH_RATE PHOENIX_RATE
python3 scripts/bench/soak_check.py "$OUT_DIR" "$rc" || check=$?
case "$OUT_DIR" in "$ROOT"/results/*) chmod -R a-w "$OUT_DIR" ;; esac
bench_log "soak: loadgen exit $rc, check exit $check; $OUT_DIR/summary.md"
cat "$OUT_DIR/summary.md" 2>/dev/null || bench_log "soak: no summary.md (the checker failed)"
exit "$check"
