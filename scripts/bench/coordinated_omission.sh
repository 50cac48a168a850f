#!/usr/bin/env bash
# Coordinated-omission check: 200 requests/s for DURATION with only 10 connections against
# scripts/bench/stall_server.py, which holds every response for 1 s out of every 5 s.
# An open-loop tool that measures latency from each request's *intended* send time shows the
# stalls (about 20 % of requests wait 0..1000 ms, so p90 ~ 500 ms, p99 ~ 950 ms); a tool that
# measures only from the actual send time hides them.
#
#   scripts/bench/coordinated_omission.sh
#   DURATION=10s scripts/bench/coordinated_omission.sh
#
# Environment:
#   DURATION    per-run length (default 30s; use a multiple of the 5 s stall period)
#   RATE        requests/s (default 200)          CONNS  connections / max VUs (default 10)
#   STALL_PORT  default 18081 (the loadgen Lua script is rewritten if it differs)
#   TOOLS       default "oha oha-corrected loadgen"
#   OUT_DIR     raw outputs (default: a new temp dir)   PAUSE  seconds between runs (default 2)
#   LOADGEN_BIN default target/release/loadgen
#   STALL_LEAD  seconds between stall-server start and load start (default 0.5)
#
# The stall server is started fresh for every run and the load starts STALL_LEAD s later, so
# every run sees the same stall windows, all of them inside the run.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"

DURATION="${DURATION:-30s}"
RATE="${RATE:-200}"
CONNS="${CONNS:-10}"
STALL_PORT="${STALL_PORT:-18081}"
STALL_PERIOD=5
STALL_FOR=1
# start each run this long after the server's cycle starts, so the run's stalls fall at
# [3.5, 4.5), [8.5, 9.5), ... of the run and the last one is answered before the run ends
STALL_LEAD="${STALL_LEAD:-0.5}"
TOOLS="${TOOLS:-oha oha-corrected loadgen}"
PAUSE="${PAUSE:-2}"
OUT_DIR="${OUT_DIR:-$(mktemp -d /tmp/loadgen-bench-co.XXXXXX)}"
mkdir -p "$OUT_DIR"
DUR_S="$(bench_duration_seconds "$DURATION")"
export BENCH_TIMEOUT="${BENCH_TIMEOUT:-$((DUR_S + 60))}"
URL="http://127.0.0.1:$STALL_PORT/"
LOADGEN="$(bench_loadgen_bin)"

bench_need jq jq
bench_need curl curl
bench_need python3 python3

STALL_PID=""
stall_start() {
    python3 "$HERE/stall_server.py" "$STALL_PORT" --period "$STALL_PERIOD" --stall "$STALL_FOR" \
        --max-lifetime $((DUR_S + 90)) >>"$OUT_DIR/stall_server.log" 2>&1 &
    STALL_PID=$!
    local i
    for ((i = 0; i < 50; i++)); do
        # ready line is printed once the socket listens; avoid sending probe requests into the cycle
        if [ "$(grep -c '^listening' "$OUT_DIR/stall_server.log" 2>/dev/null)" -ge "$STALL_RUNS" ]; then
            sleep "$STALL_LEAD"
            return 0
        fi
        kill -0 "$STALL_PID" 2>/dev/null || break
        sleep 0.05
    done
    tail -n 5 "$OUT_DIR/stall_server.log" >&2
    bench_die "stall server did not start on 127.0.0.1:$STALL_PORT"
}
stall_stop() {
    [ -n "$STALL_PID" ] && bench_stop_pid "$STALL_PID" stall_server TERM
    STALL_PID=""
}
STALL_RUNS=0

cleanup() { stall_stop; }
trap cleanup EXIT
trap 'exit 130' INT TERM

ROWS=()
NOTES=()

# add_row TOOL MEASURE REQUESTS RPS P50 P90 P99 MAX ERRORS (times in ms)
add_row() {
    ROWS+=("| $1 | $2 | ${3:-n/a} | $(bench_fmt "$4" 1) | $(bench_fmt "$5" 2) | $(bench_fmt "$6" 2) | $(bench_fmt "$7" 2) | $(bench_fmt "$8" 2) | ${9:-n/a} |")
}

# run one tool against a freshly started stall server
run_against_stall() {
    local name="$1"
    shift
    STALL_RUNS=$((STALL_RUNS + 1))
    stall_start
    bench_log "$name: $*"
    bench_timed "$name" "$OUT_DIR" -- "$@"
    stall_stop
    if [ "$BT_RC" != 0 ]; then
        NOTES+=("$name exited with status $BT_RC (see $OUT_DIR/$name.stderr)")
    fi
}

oha_json_flag() {
    if oha --help 2>/dev/null | grep -q -- '--output-format'; then echo "--output-format json"; else echo "--json"; fi
}

# run_oha NAME [EXTRA_FLAGS...]
run_oha() {
    local name="$1"
    shift
    if ! command -v oha >/dev/null 2>&1; then
        ROWS+=("| $name | | skipped | | | | | | |")
        NOTES+=("$name: oha not installed (cargo install oha --locked)")
        return
    fi
    local j n rps p50 p90 p99 max err measure aborted
    # shellcheck disable=SC2046
    run_against_stall "$name" oha -q "$RATE" -c "$CONNS" -z "$DURATION" --no-tui $(oha_json_flag) "$@" "$URL"
    j="$OUT_DIR/$name.stdout"
    mv "$j" "$OUT_DIR/$name.json" 2>/dev/null && j="$OUT_DIR/$name.json"
    if [ $# -gt 0 ]; then measure="from intended send time ($*)"; else measure="from actual send time"; fi
    if ! jq -e . "$j" >/dev/null 2>&1; then
        NOTES+=("$name: output is not JSON (see $j)")
        add_row "oha $(oha --version | awk '{ print $2 }')" "$measure" "" "" "" "" "" "" ""
        return
    fi
    n="$(jq -r '[.statusCodeDistribution // {} | to_entries[] | .value] | add // empty' "$j")"
    rps="$(jq -r '.summary.requestsPerSec // empty' "$j")"
    p50="$(jq -r '(.latencyPercentiles.p50 // empty) * 1000' "$j")"
    p90="$(jq -r '(.latencyPercentiles.p90 // empty) * 1000' "$j")"
    p99="$(jq -r '(.latencyPercentiles.p99 // empty) * 1000' "$j")"
    max="$(jq -r '(.summary.slowest // empty) * 1000' "$j")"
    err="$(jq -r '([.statusCodeDistribution // {} | to_entries[] | select((.key | tonumber) >= 400) | .value] | add // 0)
                  + ([.errorDistribution // {} | to_entries[] | select(.key != "aborted due to deadline") | .value] | add // 0)' "$j")"
    aborted="$(jq -r '.errorDistribution["aborted due to deadline"] // 0' "$j")"
    [ "$aborted" != 0 ] && NOTES+=("$name: $aborted requests in flight when -z ran out (oha: \"aborted due to deadline\"), not counted as errors")
    add_row "oha $(oha --version | awk '{ print $2 }')" "$measure" "$n" "$rps" "$p50" "$p90" "$p99" "$max" "$err"
}

run_loadgen() {
    if [ ! -x "$LOADGEN" ]; then
        bench_log "loadgen: SKIPPED - $LOADGEN does not exist yet (cargo build --release)"
        ROWS+=("| loadgen | | skipped | | | | | | |")
        NOTES+=("loadgen: skipped: $LOADGEN does not exist (build it with cargo build --release)")
        return
    fi
    local lua res n rps m q
    lua="$OUT_DIR/co.lua"
    bench_render_lua "$HERE/co.lua" "$lua" "$DURATION"
    sed -i -E "s#127\.0\.0\.1:18081#127.0.0.1:$STALL_PORT#g; s#rate = [0-9]+#rate = $RATE#; s#(pre_allocated_vus|max_vus) = [0-9]+#\1 = $CONNS#g" "$lua"
    res="$OUT_DIR/loadgen.json"
    rm -f "$res"
    pushd "$BENCH_REPO_ROOT" >/dev/null || bench_die "cannot cd to $BENCH_REPO_ROOT"
    run_against_stall loadgen "$LOADGEN" run "$lua" --quiet --out "$res"
    popd >/dev/null || true
    if ! jq -e . "$res" >/dev/null 2>&1; then
        NOTES+=("loadgen: no result JSON at $res")
        add_row loadgen "" "" "" "" "" "" "" ""
        return
    fi
    n="$(jq -r '.metrics["http.request"].count // empty' "$res")"
    rps="$(jq -r '.metrics["http.request"].throughput // empty' "$res")"
    for m in latency service_time; do
        # service_time: under the http.request metric, or at the top level of the result
        if [ "$m" = latency ]; then
            q='.metrics["http.request"].latency'
        else
            q='(.metrics["http.request"].service_time // .service_time)'
        fi
        add_row loadgen "$m" "$n" "$rps" \
            "$(jq -r "$q.p50 // empty" "$res" 2>/dev/null)" \
            "$(jq -r "$q.p90 // empty" "$res" 2>/dev/null)" \
            "$(jq -r "$q.p99 // empty" "$res" 2>/dev/null)" \
            "$(jq -r "$q.max // empty" "$res" 2>/dev/null)" \
            "$(jq -r '.metrics["http.request"].error_count // empty' "$res" 2>/dev/null)"
    done
}

# wrk2 (the rate-limited, CO-correcting wrk fork) is not packaged in Debian: record what apt says.
WRK2_POLICY="$(apt-cache policy wrk2 2>/dev/null)"
if [ -z "$WRK2_POLICY" ]; then
    NOTES+=("wrk2: not available - \`apt-cache policy wrk2\` prints nothing (no such package in this machine's Debian $(cut -d. -f1 /etc/debian_version 2>/dev/null) sources); plain wrk cannot hold a fixed rate, so it is not run here")
else
    NOTES+=("wrk2: apt-cache policy says: $(echo "$WRK2_POLICY" | tr '\n' ' ')")
fi

first=1
for tool in $TOOLS; do
    [ "$first" = 1 ] || sleep "$PAUSE"
    first=0
    case "$tool" in
        oha) run_oha oha ;;
        oha-corrected) run_oha oha-corrected --latency-correction ;;
        loadgen) run_loadgen ;;
        *) bench_die "unknown tool '$tool' (oha, oha-corrected, loadgen)" ;;
    esac
done

# What an ideal open-loop measurement reports: requests scheduled during a stall (stall/period of
# them) wait uniformly 0..stall; the rest see ~0 ms (server time is well under 1 ms).
ideal() {
    awk -v q="$1" -v s="$STALL_FOR" -v p="$STALL_PERIOD" \
        'BEGIN { f = s / p; x = (q <= 1 - f) ? 0 : (q - (1 - f)) / f * s * 1000; printf "~%.0f\n", x }'
}

{
    echo "## Coordinated omission: $RATE req/s, $CONNS connections, $DURATION, server stalls ${STALL_FOR}s every ${STALL_PERIOD}s"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(uname -r); target $URL (scripts/bench/stall_server.py); load starts ${STALL_LEAD}s into the server's cycle"
    echo
    echo "| tool | measured | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | errors |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${ROWS[@]}"
    echo "| (expected, computed) | from intended send time | $((RATE * DUR_S)) | $RATE | ~0 | $(ideal 0.90) | $(ideal 0.99) | ~$((STALL_FOR * 1000)) | 0 |"
    echo
    echo "The last row is not measured: it is what the stall schedule implies for a tool that counts"
    echo "latency from each request's scheduled start."
    for n in "${NOTES[@]+"${NOTES[@]}"}"; do echo "- $n"; done
    echo
    echo "Raw outputs: $OUT_DIR"
} | tee "$OUT_DIR/summary.md"
