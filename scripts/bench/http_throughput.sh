#!/usr/bin/env bash
# Closed-loop HTTP throughput, side by side: wrk, oha and loadgen against our own nginx
# serving a 1 KiB file on 127.0.0.1:18080/1k. Prints a Markdown table.
#
#   scripts/bench/http_throughput.sh                       # 30 s per tool
#   DURATION=10s scripts/bench/http_throughput.sh          # quick run
#   TOOLS="wrk oha" OUT_DIR=/tmp/run1 scripts/bench/http_throughput.sh
#
# Environment:
#   DURATION     per-tool run length (default 30s; s/m/h suffix)
#   CONNS        connections / VUs (default 64)
#   WRK_THREADS  wrk -t (default 2)
#   TOOLS        which tools, in order (default "wrk oha loadgen")
#   OUT_DIR      where raw outputs go (default: a new temp dir, printed at the end)
#   PAUSE        seconds of rest between tools (default 3)
#   NGINX_PORT   default 18080 (the loadgen Lua script is rewritten if it differs)
#   LOADGEN_BIN  default target/release/loadgen
#
# Everything runs on this machine: load generator and nginx share its cores, so compare
# the tools with each other, not with figures from other machines.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"

DURATION="${DURATION:-30s}"
CONNS="${CONNS:-64}"
WRK_THREADS="${WRK_THREADS:-2}"
TOOLS="${TOOLS:-wrk oha loadgen}"
PAUSE="${PAUSE:-3}"
OUT_DIR="${OUT_DIR:-$(mktemp -d /tmp/loadgen-bench-http.XXXXXX)}"
mkdir -p "$OUT_DIR"
DUR_S="$(bench_duration_seconds "$DURATION")"
export BENCH_TIMEOUT="${BENCH_TIMEOUT:-$((DUR_S + 60))}"
URL="http://127.0.0.1:$NGINX_PORT/1k"
LOADGEN="$(bench_loadgen_bin)"

bench_need jq jq
bench_need curl curl

cleanup() { nginx_stop; }
trap cleanup EXIT
trap 'exit 130' INT TERM

ROWS=()
NOTES=()

# add_row TOOL VERSION REQUESTS RPS P50 P99 USER SYS RSS_KB NGINX_CPU ERRORS
add_row() {
    local tool="$1" ver="$2" n="$3" rps="$4" p50="$5" p99="$6" u="$7" s="$8" rss="$9" ncpu="${10}" err="${11}"
    local cpu per100k
    cpu="$(bench_calc 'a + b' "$u" "$s")"
    per100k="$(bench_cpu_per_100k "$u" "$s" "$n")"
    ROWS+=("| $tool | $ver | ${n:-n/a} | $(bench_fmt "$rps" 0) | $(bench_fmt "$p50" 3) | $(bench_fmt "$p99" 3) | $(bench_fmt "$cpu" 2) | $(bench_fmt "$per100k" 3) | $(bench_fmt "$(bench_kib_to_mib "$rss")" 1) | $(bench_fmt "$ncpu" 2) | ${err:-n/a} |")
}

skip_row() { ROWS+=("| $1 | ${2:-} | skipped | | | | | | | | |"); NOTES+=("$1: $3"); }

# run_timed NAME CMD...: runs CMD under time and records nginx worker CPU used meanwhile (NG_CPU)
run_timed() {
    local name="$1"
    shift
    local before after
    before="$(nginx_cpu_seconds)"
    bench_log "$name: $*"
    bench_timed "$name" "$OUT_DIR" -- "$@"
    after="$(nginx_cpu_seconds)"
    NG_CPU="$(bench_calc 'b - a' "$before" "$after")"
    if [ "$BT_RC" != 0 ]; then
        NOTES+=("$name exited with status $BT_RC (see $OUT_DIR/$name.stderr)")
    fi
}

run_wrk() {
    if ! command -v wrk >/dev/null 2>&1; then skip_row wrk "" "wrk not installed (apt-get install wrk)"; return; fi
    local ver out n rps p50 p99 err
    ver="$(dpkg-query -W -f='${Version}' wrk 2>/dev/null || wrk -v 2>&1 | head -n1)"
    run_timed wrk wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency "$URL"
    out="$OUT_DIR/wrk.stdout"
    n="$(awk '/ requests in /{ print $1; exit }' "$out")"
    rps="$(awk '/^Requests\/sec:/{ print $2; exit }' "$out")"
    p50="$(wrk_to_ms "$(awk '/Latency Distribution/{ d = 1 } d && $1 == "50%"{ print $2; exit }' "$out")")"
    p99="$(wrk_to_ms "$(awk '/Latency Distribution/{ d = 1 } d && $1 == "99%"{ print $2; exit }' "$out")")"
    # errors: non-2xx/3xx responses + socket errors
    err="$(awk '
        /Non-2xx or 3xx responses:/ { e += $NF }
        /Socket errors:/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) { v = $i; sub(",", "", v); e += v } }
        END { print e + 0 }' "$out")"
    add_row wrk "$ver" "$n" "$rps" "$p50" "$p99" "$BT_USER" "$BT_SYS" "$BT_RSS_KB" "$NG_CPU" "$err"
}

oha_json_flag() {
    # oha >= 1.5 has --output-format json; older releases have -j/--json
    if oha --help 2>/dev/null | grep -q -- '--output-format'; then
        echo "--output-format json"
    else
        echo "--json"
    fi
}

run_oha() {
    if ! command -v oha >/dev/null 2>&1; then skip_row oha "" "oha not installed (cargo install oha --locked)"; return; fi
    local ver j n rps p50 p99 err aborted name=oha
    ver="$(oha --version 2>/dev/null | awk '{ print $2 }')"
    # shellcheck disable=SC2046
    run_timed oha oha -c "$CONNS" -z "$DURATION" --no-tui $(oha_json_flag) "$URL"
    j="$OUT_DIR/oha.stdout"
    mv "$j" "$OUT_DIR/oha.json" 2>/dev/null && j="$OUT_DIR/oha.json"
    if ! jq -e . "$j" >/dev/null 2>&1; then
        NOTES+=("oha: output is not JSON (see $j)")
        add_row oha "$ver" "" "" "" "" "$BT_USER" "$BT_SYS" "$BT_RSS_KB" "$NG_CPU" ""
        return
    fi
    # responses = sum of the status code distribution; errors = non-2xx/3xx + transport errors
    n="$(jq -r '[.statusCodeDistribution // {} | to_entries[] | .value] | add // empty' "$j")"
    rps="$(jq -r '.summary.requestsPerSec // empty' "$j")"
    p50="$(jq -r '(.latencyPercentiles.p50 // empty) * 1000' "$j")"
    p99="$(jq -r '(.latencyPercentiles.p99 // empty) * 1000' "$j")"
    err="$(jq -r '([.statusCodeDistribution // {} | to_entries[] | select((.key | tonumber) >= 400) | .value] | add // 0)
                  + ([.errorDistribution // {} | to_entries[] | select(.key != "aborted due to deadline") | .value] | add // 0)' "$j")"
    aborted="$(jq -r '.errorDistribution["aborted due to deadline"] // 0' "$j")"
    [ "$aborted" != 0 ] && NOTES+=("$name: $aborted requests in flight when -z ran out (oha: \"aborted due to deadline\"), not counted as errors")
    add_row oha "$ver" "$n" "$rps" "$p50" "$p99" "$BT_USER" "$BT_SYS" "$BT_RSS_KB" "$NG_CPU" "$err"
}

run_loadgen() {
    if [ ! -x "$LOADGEN" ]; then
        bench_log "loadgen: SKIPPED - $LOADGEN does not exist yet (cargo build --release)"
        skip_row loadgen "" "skipped: $LOADGEN does not exist (build it with cargo build --release)"
        return
    fi
    local ver lua res n rps p50 p99 err
    ver="$("$LOADGEN" --version 2>/dev/null | awk '{ print $NF }')"
    lua="$OUT_DIR/http_throughput.lua"
    bench_render_lua "$HERE/http_throughput.lua" "$lua" "$DURATION" "$CONNS"
    sed -i "s#127\.0\.0\.1:18080#127.0.0.1:$NGINX_PORT#g" "$lua"
    res="$OUT_DIR/loadgen.json"
    rm -f "$res"
    pushd "$BENCH_REPO_ROOT" >/dev/null || bench_die "cannot cd to $BENCH_REPO_ROOT"
    run_timed loadgen "$LOADGEN" run "$lua" --quiet --out "$res"
    popd >/dev/null || true
    if ! jq -e . "$res" >/dev/null 2>&1; then
        NOTES+=("loadgen: no result JSON at $res")
        add_row loadgen "$ver" "" "" "" "" "$BT_USER" "$BT_SYS" "$BT_RSS_KB" "$NG_CPU" ""
        return
    fi
    n="$(jq -r '.metrics["http.request"].count // empty' "$res" 2>/dev/null)"
    rps="$(jq -r '.metrics["http.request"].throughput // empty' "$res" 2>/dev/null)"
    p50="$(jq -r '.metrics["http.request"].latency.p50 // empty' "$res" 2>/dev/null)"
    p99="$(jq -r '.metrics["http.request"].latency.p99 // empty' "$res" 2>/dev/null)"
    err="$(jq -r '.metrics["http.request"].error_count // empty' "$res" 2>/dev/null)"
    add_row loadgen "$ver" "$n" "$rps" "$p50" "$p99" "$BT_USER" "$BT_SYS" "$BT_RSS_KB" "$NG_CPU" "$err"
}

nginx_start "$NGINX_PORT"

bench_log "warm-up: 2 s of wrk -c $CONNS"
if command -v wrk >/dev/null 2>&1; then
    wrk -t1 -c"$CONNS" -d2s "$URL" >/dev/null 2>&1
fi

first=1
for tool in $TOOLS; do
    [ "$first" = 1 ] || sleep "$PAUSE"
    first=0
    case "$tool" in
        wrk) run_wrk ;;
        oha) run_oha ;;
        loadgen) run_loadgen ;;
        *) bench_die "unknown tool '$tool' (wrk, oha, loadgen)" ;;
    esac
done

{
    echo "## HTTP throughput: GET $URL (1 KiB file, $(nginx_version), 1 worker, keep-alive)"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(uname -r); duration $DURATION per tool, $CONNS connections, wrk -t$WRK_THREADS"
    echo
    echo "| tool | version | requests | requests/s | p50 ms | p99 ms | CPU s (user+sys) | CPU s / 100k req | max RSS MiB | nginx CPU s | errors |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "CPU and max RSS are the load generator's own (GNU time); nginx CPU is its worker's user+sys during that run."
    for n in "${NOTES[@]+"${NOTES[@]}"}"; do echo "- $n"; done
    echo
    echo "Raw outputs: $OUT_DIR"
} | tee "$OUT_DIR/summary.md"
