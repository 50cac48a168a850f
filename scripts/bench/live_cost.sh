#!/usr/bin/env bash
# What watching a run live costs the engine (issue 15): loadgen (scripts/bench/http_cost.lua, a Lua
# iteration per request) against our nginx (2 workers, /1k) in three modes:
#   none          neither live output
#   remote_write  --remote-write to our own Prometheus (Debian's package, native histograms on,
#                 127.0.0.1, a temporary folder), --remote-write-interval 5s
#   dashboard     --dashboard on 127.0.0.1 with a page open: headless Chromium loads it as soon as
#                 the dashboard answers and keeps it open until the run ends
# at a fixed rate (RATE, 64 VUs at most) and at full speed (64 VUs, closed loop): requests/s and
# loadgen's CPU seconds per 100k requests (user + sys of the whole process, GNU time). ROUNDS rounds
# (default 5), the modes' order rotated per round (harness.sh's bench_order), under the measurement
# lock for the whole script. Raw outputs, rounds.tsv and summary.md (median, min, max, spread) go to
# results/live_cost/<UTC time>/ once.
#
#   scripts/bench/live_cost.sh                                   # builds target/release/loadgen first
#   ROUNDS=1 BENCH_ALLOW_FEW=1 DURATION=3s scripts/bench/live_cost.sh    # a trial
#
# Environment: ROUNDS (5), DURATION (10s), RATE (10000), CONNS (64), NGINX_WORKERS (2), PAUSE (1),
# PROM_PORT (19390), DASH_PORT (19391), LOADGEN_BIN (default: a release build of this tree), OUT_DIR.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_COMMAND="$0 $*"
WORKERS="${NGINX_WORKERS:-2}"   # lib.sh's default is 1: read ours before sourcing it
BENCH_ROUNDS="${ROUNDS:-${BENCH_ROUNDS:-5}}"
# shellcheck source-path=SCRIPTDIR source=harness.sh
source "$HERE/harness.sh"
OUT_DIR="${OUT_DIR:-$BENCH_REPO_ROOT/results/live_cost/$(date -u +%Y%m%dT%H%M%SZ)}"

DURATION="${DURATION:-10s}"
RATE="${RATE:-10000}"
CONNS="${CONNS:-64}"
PAUSE="${PAUSE:-1}"
PROM_PORT="${PROM_PORT:-19390}"
DASH_PORT="${DASH_PORT:-19391}"
NGINX_WORKERS="$WORKERS"
DUR_S="$(bench_duration_seconds "$DURATION")"
export BENCH_TIMEOUT="${BENCH_TIMEOUT:-$((DUR_S + 60))}"

bench_need jq jq
bench_need curl curl
bench_need /usr/bin/prometheus prometheus
bench_need chromium chromium

if [ -z "${LOADGEN_BIN:-}" ]; then
    tgt="${CARGO_TARGET_DIR:-$BENCH_REPO_ROOT/target}"
    bench_log "building $tgt/release/loadgen (cargo build --release, shared lock)"
    (cd "$BENCH_REPO_ROOT" && CARGO_TARGET_DIR="$tgt" flock -s /tmp/loadgen-bench.lock nice -n 5 cargo build --release --quiet) ||
        bench_die "cargo build --release failed"
    LOADGEN_BIN="$tgt/release/loadgen"
fi
LOADGEN="$LOADGEN_BIN"
[ -x "$LOADGEN" ] || bench_die "no loadgen binary at $LOADGEN"

TMP="$(mktemp -d /tmp/loadgen-bench-livecost.XXXXXX)"
PROM_PID=""
CHROME_PID=""
cleanup() {
    bench_stop_pid "$CHROME_PID" chromium
    bench_stop_pid "$PROM_PID" prometheus
    nginx_stop
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

prometheus_start() {
    printf 'global: {}\n' >"$TMP/prometheus.yml"
    /usr/bin/prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/prom-data" \
        --web.listen-address="127.0.0.1:$PROM_PORT" --web.enable-remote-write-receiver \
        --enable-feature=native-histograms >"$TMP/prometheus.log" 2>&1 &
    PROM_PID=$!
    bench_wait_http "http://127.0.0.1:$PROM_PORT/-/ready" 30 || bench_die "prometheus did not become ready (see $TMP/prometheus.log)"
    bench_log "prometheus $(/usr/bin/prometheus --version 2>&1 | awk 'NR == 1 { print $3 }') up on 127.0.0.1:$PROM_PORT (pid $PROM_PID)"
}

# page_opener: waits for the dashboard, then keeps a headless Chromium on it until killed
page_opener() {
    bench_wait_http "http://127.0.0.1:$DASH_PORT/" 20 || { echo "dashboard never answered" >"$TMP/opener.err"; return; }
    chromium --headless=new --no-sandbox --disable-gpu --remote-debugging-port=0 \
        --user-data-dir="$TMP/chrome-profile" "http://127.0.0.1:$DASH_PORT/" >"$TMP/chromium.log" 2>&1 &
    echo $! >"$TMP/chrome.pid"
    wait
}

# measured MODE RATE CASE ROUND
measured() {
    local mode="$1" rate="$2" case="$3" r="$4" name="r$4-$3-$1" j opener=""
    local -a extra=()
    case "$mode" in
        remote_write) extra=(--remote-write "http://127.0.0.1:$PROM_PORT/api/v1/write") ;;
        dashboard) extra=("--dashboard=127.0.0.1:$DASH_PORT") ;;
    esac
    sleep "$PAUSE"
    bench_log "round $r $case $mode"
    rm -f "$TMP/chrome.pid" "$TMP/opener.err"
    if [ "$mode" = dashboard ]; then
        page_opener &
        opener=$!
    fi
    j="$OUT_DIR/$name.json"
    bench_timed "$name" "$OUT_DIR" -- "$LOADGEN" run "$HERE/http_cost.lua" --quiet --out "$j" \
        -e "RATE=$rate" -e "VUS=$CONNS" -e "DURATION=$DURATION" -e "TARGET=http://127.0.0.1:$NGINX_PORT/1k" "${extra[@]}"
    local page=""
    if [ -n "$opener" ]; then
        CHROME_PID="$(cat "$TMP/chrome.pid" 2>/dev/null)"
        page=0
        [ -n "$CHROME_PID" ] && kill -0 "$CHROME_PID" 2>/dev/null && page=1
        bench_stop_pid "$CHROME_PID" chromium
        CHROME_PID=""
        wait "$opener" 2>/dev/null
        [ "$page" = 1 ] || bench_log "$name: no page was open during the run ($(cat "$TMP/opener.err" 2>/dev/null))"
    fi
    [ "$BT_RC" != 0 ] && bench_log "$name exited with status $BT_RC (see $OUT_DIR/$name.stderr)"
    local n=""
    jq -e . "$j" >/dev/null 2>&1 && n="$(jq -r '.metrics["http.request"].count // empty' "$j")"
    bench_record "$case" "$mode" "$r" \
        requests "$n" rps "$(bench_calc 'a / b' "$n" "$DUR_S")" \
        cpu_s "$(bench_calc 'a + b' "$BT_USER" "$BT_SYS")" cpu_per_100k "$(bench_cpu_per_100k "$BT_USER" "$BT_SYS" "$n")" \
        rss_mib "$(bench_kib_to_mib "$BT_RSS_KB")" exit "$BT_RC" \
        p99_ms "$(jq -r '.metrics["http.request"].latency.p99 // empty' "$j" 2>/dev/null)" \
        pushes_sent "$(jq -r '.generator.remote_write.pushes_sent // empty' "$j" 2>/dev/null)" \
        pushes_lost "$(jq -r '(.generator.remote_write | .pushes_failed + .pushes_dropped) // empty' "$j" 2>/dev/null)" \
        page_open "$page"
}

bench_begin live_cost
bench_meta loadgen_bin "$LOADGEN ($(stat -c '%y' "$LOADGEN" 2>/dev/null))"
bench_meta target "$(nginx_version), $NGINX_WORKERS worker(s), keep-alive, access_log off, GET /1k (1024 bytes)"
bench_meta receiver "$(/usr/bin/prometheus --version 2>&1 | head -1), native histograms on, 127.0.0.1:$PROM_PORT"
bench_meta browser "$(chromium --version 2>/dev/null), headless, one page on 127.0.0.1:$DASH_PORT"
bench_meta settings "RATE=$RATE DURATION=$DURATION CONNS=$CONNS PAUSE=$PAUSE remote-write interval 5s (default)"
bench_meta load_before "$(cat /proc/loadavg)"
cp "$HERE/http_cost.lua" "$OUT_DIR/"

nginx_start "$NGINX_PORT"
prometheus_start
bench_log "warm-up: 2s at $RATE/s (not measured)"
"$LOADGEN" run "$HERE/http_cost.lua" --quiet --out "$TMP/warmup.json" -e "RATE=$RATE" -e "VUS=$CONNS" \
    -e "DURATION=2s" -e "TARGET=http://127.0.0.1:$NGINX_PORT/1k" >/dev/null 2>&1
for ((r = 1; r <= BENCH_ROUNDS; r++)); do
    for c in $(bench_order "$r" "rate$RATE" full); do
        rate=0
        [ "$c" = full ] || rate="$RATE"
        for m in $(bench_order "$r" none remote_write dashboard); do measured "$m" "$rate" "$c" "$r"; done
    done
done
bench_meta load_after "$(cat /proc/loadavg)"
bench_finish
