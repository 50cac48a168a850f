#!/usr/bin/env bash
# Latency at saturation, beside oha (with and without --latency-correction), in the harness's method
# (scripts/bench/harness.sh: one lock for the whole script, 5 rounds, tools rotated per round).
#
#   scripts/bench/saturation.sh                      # raw outputs: results/benchmarks/saturation/<UTC>/
#   DURATION=10s BENCH_ROUNDS=5 scripts/bench/saturation.sh
#
# Two cases against scripts/bench/stall_server.py, both 200 requests/s through 10 connections (VUs):
#   co   the server answers at once except that it holds every response for the last 1 s of every 5 s
#   2x   the server holds every response 100 ms, so 10 connections get at most 100 answers/s: the load is
#        twice the target's capacity, and at the end of a run about half of what was due never went out
# Per run: requests the server answered (its own count), what the tool counted, p50/p90/p99/max latency,
# and for loadgen the iterations due and never started and the censored samples in its percentiles
# (docs/scripting.md, "censored samples"); for oha the requests it lists as "aborted due to deadline".
#
# Environment: DURATION (default 10s, a multiple of 5 s), BENCH_ROUNDS (default 5), CASES (default
# "co 2x"), TOOLS (default "oha oha-corrected loadgen"), STALL_PORT (default 18081), LOADGEN_BIN.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=harness.sh
source "$HERE/harness.sh"

DURATION="${DURATION:-10s}"
CASES="${CASES:-co 2x}"
TOOLS="${TOOLS:-oha oha-corrected loadgen}"
STALL_PORT="${STALL_PORT:-18081}"
RATE=200
CONNS=10
DUR_S="$(bench_duration_seconds "$DURATION")"
export BENCH_TIMEOUT="${BENCH_TIMEOUT:-$((DUR_S + 60))}"
URL="http://127.0.0.1:$STALL_PORT/"
LOADGEN="$(bench_loadgen_bin)"
[ -x "$LOADGEN" ] || bench_die "$LOADGEN does not exist (cargo build --release, or LOADGEN_BIN=...)"
bench_need jq jq
command -v oha >/dev/null || bench_die "oha not found (scripts/bench/install_peers.sh oha)"

BENCH_COMMAND="DURATION=$DURATION CASES=\"$CASES\" TOOLS=\"$TOOLS\" scripts/bench/saturation.sh"
bench_begin saturation
bench_meta tools "oha $(oha --version | awk '{ print $2 }'), loadgen $("$LOADGEN" --version 2>/dev/null | awk '{ print $2 }') ($LOADGEN)"
bench_meta load "$RATE requests/s, $CONNS connections (oha -c) / max VUs (loadgen), $DURATION per run"

STALL_PID=""
stall_start() { # CASE RUN_NAME
    local args=(--stall 1 --period 5) log="$OUT_DIR/$2.server.log" i
    [ "$1" = 2x ] && args=(--stall 0 --delay 0.1)
    python3 "$HERE/stall_server.py" "$STALL_PORT" "${args[@]}" --max-lifetime $((DUR_S + 90)) >"$log" 2>&1 &
    STALL_PID=$!
    for ((i = 0; i < 100; i++)); do
        grep -q '^listening' "$log" 2>/dev/null && { sleep 0.5; return 0; }
        sleep 0.05
    done
    bench_die "stall server did not start on 127.0.0.1:$STALL_PORT"
}
stall_stop() { # RUN_NAME: the server's own count of answers
    [ -n "$STALL_PID" ] && bench_stop_pid "$STALL_PID" stall_server TERM
    STALL_PID=""
    sed -nE 's/.*requests=([0-9]+).*/\1/p' "$OUT_DIR/$1.server.log"
}
trap 'stall_stop x >/dev/null 2>&1' EXIT

run_one() { # CASE TOOL ROUND
    local c="$1" t="$2" r="$3" name="$1-$2-r$3" served j lua
    stall_start "$c" "$name"
    case "$t" in
        oha | oha-corrected)
            local extra=()
            [ "$t" = oha-corrected ] && extra=(--latency-correction)
            bench_timed "$name" "$OUT_DIR" -- oha -q "$RATE" -c "$CONNS" -z "$DURATION" --no-tui \
                --output-format json "${extra[@]}" "$URL"
            served="$(stall_stop "$name")"
            j="$OUT_DIR/$name.stdout"
            bench_record "$c" "$t" "$r" \
                served "$served" \
                counted "$(jq -r '[.statusCodeDistribution // {} | to_entries[] | .value] | add // 0' "$j")" \
                not_sent_or_aborted "$(jq -r '.errorDistribution["aborted due to deadline"] // 0' "$j")" \
                p50_ms "$(jq -r '.latencyPercentiles.p50 * 1000' "$j")" \
                p90_ms "$(jq -r '.latencyPercentiles.p90 * 1000' "$j")" \
                p99_ms "$(jq -r '.latencyPercentiles.p99 * 1000' "$j")" \
                max_ms "$(jq -r '.summary.slowest * 1000' "$j")"
            ;;
        loadgen)
            lua="$OUT_DIR/$name.lua"
            bench_render_lua "$HERE/co.lua" "$lua" "$DURATION"
            sed -i -E "s#127\.0\.0\.1:18081#127.0.0.1:$STALL_PORT#g" "$lua"
            bench_timed "$name" "$OUT_DIR" -- "$LOADGEN" run "$lua" --quiet --out "$OUT_DIR/$name.json"
            served="$(stall_stop "$name")"
            j="$OUT_DIR/$name.json"
            bench_record "$c" "$t" "$r" \
                served "$served" \
                counted "$(jq -r '.metrics["http.request"].count' "$j")" \
                not_sent_or_aborted "$(jq -r '[.scenarios[0] | .unstarted_iterations, .interrupted_iterations] | add' "$j")" \
                censored "$(jq -r '.metrics["http.request"].censored // 0' "$j")" \
                p50_ms "$(jq -r '.metrics["http.request"].latency.p50' "$j")" \
                p90_ms "$(jq -r '.metrics["http.request"].latency.p90' "$j")" \
                p99_ms "$(jq -r '.metrics["http.request"].latency.p99' "$j")" \
                max_ms "$(jq -r '.metrics["http.request"].latency.max' "$j")" \
                service_p99_ms "$(jq -r '.metrics["http.request"].service_time.p99' "$j")"
            ;;
        *) bench_die "unknown tool '$t' (oha, oha-corrected, loadgen)" ;;
    esac
    [ "$BT_RC" = 0 ] || bench_log "$name exited with $BT_RC (see $OUT_DIR/$name.stderr)"
}

for ((r = 1; r <= BENCH_ROUNDS; r++)); do
    for c in $CASES; do
        # shellcheck disable=SC2086
        for t in $(bench_order "$r" $TOOLS); do
            run_one "$c" "$t" "$r"
            sleep 1
        done
    done
done
bench_finish
