# shellcheck shell=bash disable=SC2034  # R_* are read by the scripts that source this
# The HTTP tools of scripts/bench/http_cost.sh and engine_cost.sh, run the same way by both (source it
# after harness.sh). Uses CONNS, WRK_THREADS, PAUSE, DURATION/DUR_S, ARRIVAL_DURATION/ARR_S, NGINX_PORT,
# OUT_DIR and TMP_RAW (a scratch directory) of the caller.
#
#   run_tool TOOL RATE DURATION NAME DIR URL   one run (RATE 0 = full speed), under bench_timed
#   measured TOOL RATE CASE ROUND              one measured run against our nginx, recorded in rounds.tsv
#   arrival RATE ROUND                         scripts/bench/arrival_rate.lua at RATE, recorded
#
# Where the peers are (scripts/bench/install_peers.sh puts them there): OHA_BIN, VEGETA_BIN, LOCUST_BIN,
# GOOSE_BIN; loadgen: LOADGEN_BIN (default target/release/loadgen).

HERE="${HERE:-$BENCH_LIB_DIR}"
PEERS="${PEERS_DIR:-/opt/loadgen-bench}"
LOADGEN="$(bench_loadgen_bin)"
OHA_BIN="${OHA_BIN:-$(command -v oha || echo "$HOME/.cargo/bin/oha")}"
VEGETA_BIN="${VEGETA_BIN:-$(command -v vegeta || echo "$HOME/go/bin/vegeta")}"
LOCUST_BIN="${LOCUST_BIN:-$PEERS/locust-venv/bin/locust}"
GOOSE_BIN="${GOOSE_BIN:-$PEERS/bin/goose-bench}"

# tool_ok TOOL: is it installed?
tool_ok() {
    case "$1" in
        loadgen) [ -x "$LOADGEN" ] ;;
        wrk) command -v wrk >/dev/null ;;
        oha) [ -x "$OHA_BIN" ] ;;
        vegeta) [ -x "$VEGETA_BIN" ] ;;
        locust) [ -x "$LOCUST_BIN" ] ;;
        goose) [ -x "$GOOSE_BIN" ] ;;
        *) bench_die "unknown tool '$1' (loadgen wrk oha vegeta locust goose)" ;;
    esac
}

# tool_version TOOL
tool_version() {
    case "$1" in
        loadgen) "$LOADGEN" --version 2>/dev/null | awk '{ print $NF }' ;;
        wrk) dpkg-query -W -f='${Version}' wrk 2>/dev/null ;;
        oha) "$OHA_BIN" --version 2>/dev/null | awk '{ print $2 }' ;;
        vegeta) go version -m "$VEGETA_BIN" 2>/dev/null | awk '$1 == "mod" { print $3 }' ;;
        locust) "$LOCUST_BIN" --version 2>/dev/null | awk '{ print $2 }' ;;
        goose) awk '/^name = "goose"$/ { f = 1 } f && /^version/ { gsub(/"/, "", $3); print $3; exit }' \
            "$HERE/goose/Cargo.lock" 2>/dev/null ;;
    esac
}

# machine_busy_seconds: CPU seconds all processes have used so far (/proc/stat, user+nice+system+irq+softirq+steal)
machine_busy_seconds() {
    awk -v t="$(getconf CLK_TCK)" '/^cpu / { print ($2 + $3 + $4 + $7 + $8 + $9) / t; exit }' /proc/stat
}

# run_tool TOOL RATE DURATION NAME DIR URL: one run of TOOL (RATE 0 = full speed) under bench_timed.
# Sets R_N (responses counted by the tool), R_RPS (the tool's own rate figure), R_P50, R_P99 (ms),
# R_ERR (errors: non-2xx and transport errors), R_EXTRA (more "metric value" pairs).
run_tool() {
    local tool="$1" rate="$2" dur="$3" name="$4" dir="$5" url="$6"
    local host="${url%/1k}" j pace per_user
    R_N="" R_RPS="" R_P50="" R_P99="" R_ERR="" R_EXTRA=()
    case "$tool" in
        loadgen)
            j="$dir/$name.json"
            bench_timed "$name" "$dir" -- "$LOADGEN" run "$HERE/http_cost.lua" --quiet --out "$j" \
                -e "RATE=$rate" -e "VUS=$CONNS" -e "DURATION=$dur" -e "TARGET=$url"
            if jq -e . "$j" >/dev/null 2>&1; then
                R_N="$(jq -r '.metrics["http.request"].count // empty' "$j")"
                R_RPS="$(jq -r '.metrics["http.request"].throughput // empty' "$j")"
                R_P50="$(jq -r '.metrics["http.request"].latency.p50 // empty' "$j")"
                R_P99="$(jq -r '.metrics["http.request"].latency.p99 // empty' "$j")"
                R_ERR="$(jq -r '.metrics["http.request"].error_count // empty' "$j")"
                R_EXTRA=(svc_p99_ms "$(jq -r '.metrics["http.request"].service_time.p99 // empty' "$j")"
                    lateness_p99_ms "$(jq -r '.generator.scheduler_lateness.p99 // empty' "$j")")
            fi
            ;;
        wrk)
            pace=0
            [ "$rate" != 0 ] && pace="$(bench_calc 'a * 1000 / b' "$CONNS" "$rate")"
            bench_timed "$name" "$dir" -- env PACE_MS="$pace" wrk -t"$WRK_THREADS" -c"$CONNS" -d"$dur" \
                --latency -s "$HERE/http_cost_wrk.lua" "$url"
            j="$dir/$name.stdout"
            R_N="$(awk '/ requests in /{ print $1; exit }' "$j")"
            R_RPS="$(awk '/^Requests\/sec:/{ print $2; exit }' "$j")"
            R_P50="$(wrk_to_ms "$(awk '/Latency Distribution/{ d = 1 } d && $1 == "50%"{ print $2; exit }' "$j")")"
            R_P99="$(wrk_to_ms "$(awk '/Latency Distribution/{ d = 1 } d && $1 == "99%"{ print $2; exit }' "$j")")"
            R_ERR="$(awk '
                /Non-2xx or 3xx responses:/ { e += $NF }
                /Socket errors:/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) { v = $i; sub(",", "", v); e += v } }
                END { print e + 0 }' "$j")"
            R_EXTRA=(wrk_pace_ms "$pace")
            ;;
        oha)
            local -a q=()
            [ "$rate" != 0 ] && q=(-q "$rate")
            bench_timed "$name" "$dir" -- "$OHA_BIN" -c "$CONNS" -z "$dur" "${q[@]}" --no-tui \
                --output-format json "$url"
            j="$dir/$name.json"
            mv "$dir/$name.stdout" "$j"
            if jq -e . "$j" >/dev/null 2>&1; then
                R_N="$(jq -r '[.statusCodeDistribution // {} | to_entries[] | .value] | add // empty' "$j")"
                R_RPS="$(jq -r '.summary.requestsPerSec // empty' "$j")"
                R_P50="$(jq -r '(.latencyPercentiles.p50 // empty) * 1000' "$j")"
                R_P99="$(jq -r '(.latencyPercentiles.p99 // empty) * 1000' "$j")"
                R_ERR="$(jq -r '([.statusCodeDistribution // {} | to_entries[] | select((.key | tonumber) >= 400) | .value] | add // 0)
                    + ([.errorDistribution // {} | to_entries[] | select(.key != "aborted due to deadline") | .value] | add // 0)' "$j")"
                R_EXTRA=(aborted_at_deadline "$(jq -r '.errorDistribution["aborted due to deadline"] // 0' "$j")")
            fi
            ;;
        vegeta)
            local bin="$TMP_RAW/$name.bin"
            printf 'GET %s\n' "$url" >"$TMP_RAW/targets.txt"
            if [ "$rate" != 0 ]; then
                bench_timed "$name" "$dir" -- "$VEGETA_BIN" attack -targets="$TMP_RAW/targets.txt" \
                    -rate="$rate/1s" -duration="$dur" -connections="$CONNS" -max-connections="$CONNS" \
                    -workers="$CONNS" -max-workers="$CONNS" -keepalive=true -output="$bin"
            else
                bench_timed "$name" "$dir" -- "$VEGETA_BIN" attack -targets="$TMP_RAW/targets.txt" \
                    -rate=0 -duration="$dur" -connections="$CONNS" -max-connections="$CONNS" \
                    -workers="$CONNS" -max-workers="$CONNS" -keepalive=true -output="$bin"
            fi
            j="$dir/$name.json"
            "$VEGETA_BIN" report -type=json "$bin" >"$j" 2>>"$dir/$name.stderr"
            rm -f "$bin"
            if jq -e . "$j" >/dev/null 2>&1; then
                R_N="$(jq -r '.requests' "$j")"
                R_RPS="$(jq -r '.throughput' "$j")"
                R_P50="$(jq -r '.latencies["50th"] / 1e6' "$j")"
                R_P99="$(jq -r '.latencies["99th"] / 1e6' "$j")"
                R_ERR="$(jq -r '.requests - (.status_codes["200"] // 0)' "$j")"
                R_EXTRA=(vegeta_rate "$(jq -r '.rate' "$j")")
            fi
            ;;
        locust)
            per_user=0
            [ "$rate" != 0 ] && per_user="$(bench_calc 'b / a' "$CONNS" "$rate")"
            bench_timed "$name" "$dir" -- env LOCUST_RATE_PER_USER="$per_user" "$LOCUST_BIN" \
                -f "$HERE/http_cost_locust.py" --headless -u "$CONNS" -r 1000 -t "$dur" --host "$host" \
                --only-summary --csv "$dir/$name" --loglevel WARNING
            j="$dir/${name}_stats.csv"
            if [ -s "$j" ]; then
                # columns: Type,Name,Request Count,Failure Count,Median,Average,Min,Max,Avg size,Requests/s,
                # Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,...
                R_N="$(python3 -c 'import csv,sys
for r in csv.DictReader(open(sys.argv[1])):
    if r["Name"] == "Aggregated": print(int(r["Request Count"]) - int(r["Failure Count"]))' "$j")"
                R_RPS="$(python3 -c 'import csv,sys
for r in csv.DictReader(open(sys.argv[1])):
    if r["Name"] == "Aggregated": print(r["Requests/s"])' "$j")"
                R_P50="$(python3 -c 'import csv,sys
for r in csv.DictReader(open(sys.argv[1])):
    if r["Name"] == "Aggregated": print(r["50%"])' "$j")"
                R_P99="$(python3 -c 'import csv,sys
for r in csv.DictReader(open(sys.argv[1])):
    if r["Name"] == "Aggregated": print(r["99%"])' "$j")"
                R_ERR="$(python3 -c 'import csv,sys
for r in csv.DictReader(open(sys.argv[1])):
    if r["Name"] == "Aggregated": print(r["Failure Count"])' "$j")"
                rm -f "$dir/${name}_stats_history.csv"
            fi
            ;;
        goose)
            local -a thr=()
            [ "$rate" != 0 ] && thr=(--throttle-requests "$rate")
            bench_timed "$name" "$dir" -- "$GOOSE_BIN" --host "$host" --users "$CONNS" --hatch-rate 1000 \
                --run-time "$dur" "${thr[@]}" --no-telnet --no-websocket --no-reset-metrics \
                --report-file "$dir/$name.json" --quiet
            j="$dir/$name.json"
            goose_parse "$j"
            ;;
    esac
}

# goose_parse FILE: Goose's JSON report (--report-file NAME.json), its "Aggregated" request row
goose_parse() {
    local j="$1"
    jq -e . "$j" >/dev/null 2>&1 || return 0
    R_N="$(jq -r '.raw_request_metrics[]? | select(.name == "Aggregated") | .number_of_requests - .number_of_failures' "$j")"
    R_ERR="$(jq -r '.raw_request_metrics[]? | select(.name == "Aggregated") | .number_of_failures' "$j")"
    R_RPS="$(jq -r '.raw_request_metrics[]? | select(.name == "Aggregated") | .requests_per_second' "$j")"
    R_P50="$(jq -r '.raw_response_metrics[]? | select(.name == "Aggregated") | .percentile_50' "$j")"
    R_P99="$(jq -r '.raw_response_metrics[]? | select(.name == "Aggregated") | .percentile_99' "$j")"
}

# steady_sampler OUT (in the background while bench_timed runs): once a second, the seconds since it
# started, the CPU seconds of the timed process tree (the child of this shell named time/timeout, its
# processes listed once, 1 s in) and nginx's request counter, one "t cpu requests" line each to OUT,
# until the tree has exited. steady_cost reads it.
steady_sampler() {
    local out="$1" root="" pids="" t0 now c p x i
    t0="$(date +%s.%N)"
    for ((i = 0; i < 20; i++)); do
        sleep 0.1
        root="$(ps -o pid=,comm= --ppid "$$" | awk '$2 == "time" || $2 == "timeout" { print $1; exit }')"
        [ -n "$root" ] && break
    done
    [ -n "$root" ] || return 0
    sleep 0.9
    pids="$(ps -e -o pid=,ppid= | awk -v r="$root" '
        { parent[$1] = $2 }
        END { for (x in parent) { y = x; while (y in parent) { if (y == r) { print x; break } y = parent[y] } } }')"
    while kill -0 "$root" 2>/dev/null; do
        c=0
        for p in $pids; do
            x="$(proc_cpu_seconds "$p")"
            [ -n "$x" ] && c="$(awk -v a="$c" -v b="$x" 'BEGIN { print a + b }')"
        done
        now="$(date +%s.%N)"
        echo "$(awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.2f", b - a }') $c $(nginx_requests)" >>"$out"
        sleep 1
    done
}

# steady_cost SAMPLES: "RATE CPU_PER_100K" over the steady part of a run: from the sample after the
# one where nginx's counter first moved to the sample before the last one where it still moved (so
# neither the start nor the end of the load is in it); each sample's own status query is taken off.
steady_cost() {
    [ -s "$1" ] || return 0
    awk '
        { t[NR] = $1; c[NR] = $2; q[NR] = $3; n = NR }
        END {
            first = 0; last = 0
            for (i = 2; i <= n; i++) if (q[i] - q[i - 1] > 1) { if (!first) first = i - 1; last = i }
            if (!first) exit
            s = first + 1; e = last - 1
            if (e <= s) exit
            req = q[e] - q[s] - (e - s)
            if (req <= 0 || t[e] <= t[s]) exit
            printf "%.1f %.4f\n", req / (t[e] - t[s]), (c[e] - c[s]) / req * 100000
        }' "$1"
}

# measured TOOL RATE CASE ROUND: one measured run and its record
measured() {
    local tool="$1" rate="$2" case="$3" r="$4" name="r$4-$3-$1"
    local ng0 ng1 nr0 nr1 m0 m1 cpu ncpu nreq other per100k nper100k sampler srate sper100k
    sleep "$PAUSE"
    bench_log "round $r $case $tool"
    ng0="$(nginx_cpu_seconds)"
    nr0="$(nginx_requests)"
    m0="$(machine_busy_seconds)"
    steady_sampler "$OUT_DIR/$name.samples" &
    sampler=$!
    run_tool "$tool" "$rate" "$DURATION" "$name" "$OUT_DIR" "http://127.0.0.1:$NGINX_PORT/1k"
    wait "$sampler" 2>/dev/null
    m1="$(machine_busy_seconds)"
    nr1="$(nginx_requests)"
    ng1="$(nginx_cpu_seconds)"
    read -r srate sper100k <<<"$(steady_cost "$OUT_DIR/$name.samples")"
    [ "$BT_RC" != 0 ] && bench_log "$name exited with status $BT_RC (see $OUT_DIR/$name.stderr)"
    cpu="$(bench_calc 'a + b' "$BT_USER" "$BT_SYS")"
    ncpu="$(bench_calc 'b - a' "$ng0" "$ng1")"
    nreq="$(bench_calc 'b - a - 1' "$nr0" "$nr1")"
    other="$(bench_calc 'b - a - c - d' "$m0" "$m1" "$cpu" "$ncpu")"
    per100k="$(bench_cpu_per_100k "$BT_USER" "$BT_SYS" "$R_N")"
    nper100k="$(bench_calc 'a / b * 100000' "$ncpu" "$nreq")"
    bench_record "$case" "$tool" "$r" \
        requests "$R_N" rps "$(bench_calc 'a / b' "$R_N" "$DUR_S")" tool_rps "$R_RPS" \
        cpu_s "$cpu" cpu_per_100k "$per100k" user_s "$BT_USER" sys_s "$BT_SYS" \
        csw_per_req "$(bench_calc '(a + b) / c' "$BT_VCSW" "$BT_IVCSW" "$R_N")" \
        nginx_requests "$nreq" nginx_cpu_s "$ncpu" nginx_cpu_per_100k "$nper100k" other_cpu_s "$other" \
        wall_s "$BT_WALL" rss_mib "$(bench_kib_to_mib "$BT_RSS_KB")" \
        p50_ms "$R_P50" p99_ms "$R_P99" errors "$R_ERR" exit "$BT_RC" \
        steady_rps "$srate" steady_cpu_per_100k "$sper100k" \
        "${R_EXTRA[@]}"
}

# arrival RATE ROUND: scripts/bench/arrival_rate.lua as the issue runs it
arrival() {
    local rate="$1" r="$2" case="arrival$1" name="r$2-arrival$1-loadgen" j due run
    local ng0 ng1 m0 m1 cpu ncpu
    sleep "$PAUSE"
    bench_log "round $r $case loadgen"
    j="$OUT_DIR/$name.json"
    ng0="$(nginx_cpu_seconds)"
    m0="$(machine_busy_seconds)"
    bench_timed "$name" "$OUT_DIR" -- "$LOADGEN" run "$HERE/arrival_rate.lua" --quiet --out "$j" \
        -e "RATE=$rate" -e "DURATION=$ARRIVAL_DURATION" -e "TARGET=http://127.0.0.1:$NGINX_PORT/1k"
    m1="$(machine_busy_seconds)"
    ng1="$(nginx_cpu_seconds)"
    cpu="$(bench_calc 'a + b' "$BT_USER" "$BT_SYS")"
    ncpu="$(bench_calc 'b - a' "$ng0" "$ng1")"
    due=$((rate * ARR_S))
    run="$(jq -r '[.scenarios[].iterations] | add // empty' "$j" 2>/dev/null)"
    bench_record "$case" loadgen "$r" \
        due "$due" run "$run" shortfall_pct "$(bench_calc '(b - a) / a * 100' "$due" "$run")" \
        unstarted "$(jq -r '[.scenarios[].unstarted_iterations] | add // empty' "$j" 2>/dev/null)" \
        dropped "$(jq -r '[.scenarios[].dropped_iterations] | add // empty' "$j" 2>/dev/null)" \
        lateness_p50_ms "$(jq -r '.generator.scheduler_lateness.p50 // empty' "$j" 2>/dev/null)" \
        lateness_p99_ms "$(jq -r '.generator.scheduler_lateness.p99 // empty' "$j" 2>/dev/null)" \
        lateness_max_ms "$(jq -r '.generator.scheduler_lateness.max // empty' "$j" 2>/dev/null)" \
        latency_p99_ms "$(jq -r '.metrics["http.request"].latency.p99 // empty' "$j" 2>/dev/null)" \
        svc_p99_ms "$(jq -r '.metrics["http.request"].service_time.p99 // empty' "$j" 2>/dev/null)" \
        cpu_s "$cpu" cpu_share_pct "$(bench_calc 'a / b / c * 100' "$cpu" "$BT_WALL" "$(nproc)")" \
        cpu_per_100k "$(bench_cpu_per_100k "$BT_USER" "$BT_SYS" "$run")" \
        nginx_cpu_s "$ncpu" other_cpu_s "$(bench_calc 'b - a - c - d' "$m0" "$m1" "$cpu" "$ncpu")" \
        rss_mib "$(bench_kib_to_mib "$BT_RSS_KB")" exit "$BT_RC"
}
