# shellcheck shell=bash disable=SC2034  # BT_* / NGINX_* globals are read by the scripts that source this
# Shared helpers for the loadgen peer benchmarks. Source this file; do not run it.
#
#   source scripts/bench/lib.sh
#   nginx_start            # our own nginx on 127.0.0.1:${NGINX_PORT:-18080}, /1k = 1024-byte file
#                          # (NGINX_WORKERS=N worker processes, default 1; NGINX_ACCESS_LOG=FILE logs
#                          # each request's headers there; /nginx_status = stub_status)
#   bench_timed wrk "$out" -- wrk -t2 -c64 -d10s http://127.0.0.1:18080/1k
#   echo "$BT_WALL $BT_USER $BT_SYS $BT_RSS_KB rc=$BT_RC"
#   nginx_stop
#
# Every process started here is stopped by its own PID (never by name).

BENCH_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_REPO_ROOT="$(cd "$BENCH_LIB_DIR/../.." && pwd)"

bench_log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
bench_die() { bench_log "ERROR: $*"; exit 1; }

# bench_need CMD [DEBIAN_PACKAGE]: make sure CMD exists; install the Debian package if we are root.
bench_need() {
    local cmd="$1" pkg="${2:-$1}"
    if [ -x "$cmd" ] || command -v "$cmd" >/dev/null 2>&1; then
        return 0
    fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        bench_log "installing Debian package '$pkg' for '$cmd'"
        DEBIAN_FRONTEND=noninteractive apt-get install -y "$pkg" >/dev/null 2>&1 ||
            { apt-get update >/dev/null 2>&1 &&
              DEBIAN_FRONTEND=noninteractive apt-get install -y "$pkg" >/dev/null 2>&1; } ||
            bench_die "could not install '$pkg'"
    else
        bench_die "'$cmd' not found (Debian package '$pkg')"
    fi
}

# bench_duration_seconds 30s|2m|1h|45 -> integer seconds on stdout
bench_duration_seconds() {
    local d="$1" n unit
    n="${d%%[smh]}"
    unit="${d#"$n"}"
    case "$n" in ''|*[!0-9]*) bench_die "bad duration '$d' (use e.g. 30s, 2m)";; esac
    case "$unit" in
        ''|s) echo "$n" ;;
        m) echo $((n * 60)) ;;
        h) echo $((n * 3600)) ;;
    esac
}

# bench_wait_http URL [TIMEOUT_S]: poll until URL answers 2xx.
bench_wait_http() {
    local url="$1" timeout="${2:-10}" i
    for ((i = 0; i < timeout * 10; i++)); do
        if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# bench_stop_pid PID [NAME]: graceful stop of a process we started, escalating if needed.
bench_stop_pid() {
    local pid="$1" name="${2:-process}" sig="${3:-TERM}" i
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -s "$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    bench_log "$name (pid $pid) still running after SIG$sig; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------------------
# nginx: our own instance, never the system service.
# Sets NGINX_DIR (temp prefix dir, kept for logs until nginx_stop) and NGINX_PID.
# ---------------------------------------------------------------------------
NGINX_PORT="${NGINX_PORT:-18080}"
NGINX_WORKERS="${NGINX_WORKERS:-1}"
NGINX_DIR=""
NGINX_PID=""

nginx_start() {
    local port="${1:-$NGINX_PORT}" nginx_bin i access_log="access_log off;"
    bench_need nginx nginx
    NGINX_STATUS_URL="http://127.0.0.1:$port/nginx_status"
    if [ -n "${NGINX_ACCESS_LOG:-}" ]; then
        # what each tool sends: the request line, the headers most tools set, the request's size
        access_log="log_format hdrs '\$request|host=\$http_host|user-agent=\$http_user_agent|accept=\$http_accept|accept-encoding=\$http_accept_encoding|connection=\$http_connection|request_length=\$request_length|status=\$status';
    access_log $NGINX_ACCESS_LOG hdrs;"
    fi
    nginx_bin="$(command -v nginx)"
    NGINX_DIR="$(mktemp -d /tmp/loadgen-bench-nginx.XXXXXX)"
    mkdir -p "$NGINX_DIR/html" "$NGINX_DIR/tmp"
    # the worker runs as an unprivileged user when we are root: let it read the docroot
    chmod 0755 "$NGINX_DIR" "$NGINX_DIR/html"
    # exactly 1024 bytes
    head -c 1024 /dev/zero | tr '\0' 'x' >"$NGINX_DIR/html/1k"

    cat >"$NGINX_DIR/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes $NGINX_WORKERS;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/error.log warn;

events {
    worker_connections 4096;
    multi_accept on;
}

http {
    $access_log
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    server_tokens off;

    # keep-alive on, and no forced reconnects during a benchmark
    keepalive_timeout 75s;
    keepalive_requests 100000000;

    client_body_temp_path $NGINX_DIR/tmp/client_body;
    proxy_temp_path       $NGINX_DIR/tmp/proxy;
    fastcgi_temp_path     $NGINX_DIR/tmp/fastcgi;
    uwsgi_temp_path       $NGINX_DIR/tmp/uwsgi;
    scgi_temp_path        $NGINX_DIR/tmp/scgi;

    server {
        listen 127.0.0.1:$port reuseport backlog=4096;
        server_name localhost;
        root $NGINX_DIR/html;

        location = /1k {
            default_type text/plain;
        }

        # requests served so far (the benches cross-check the tools' counts with it)
        location = /nginx_status {
            stub_status;
            access_log off;
        }
    }
}
EOF

    "$nginx_bin" -t -p "$NGINX_DIR" -e "$NGINX_DIR/error.log" -c "$NGINX_DIR/nginx.conf" \
        >"$NGINX_DIR/configtest.log" 2>&1 ||
        { cat "$NGINX_DIR/configtest.log" >&2; bench_die "nginx config test failed"; }

    # daemon off + background: $! is the nginx master itself.
    "$nginx_bin" -p "$NGINX_DIR" -e "$NGINX_DIR/error.log" -c "$NGINX_DIR/nginx.conf" \
        >"$NGINX_DIR/stdout.log" 2>&1 &
    NGINX_PID=$!

    if ! bench_wait_http "http://127.0.0.1:$port/1k" 10; then
        tail -n 5 "$NGINX_DIR/error.log" >&2 2>/dev/null
        nginx_stop
        bench_die "nginx did not come up on 127.0.0.1:$port"
    fi
    for ((i = 0; i < 20; i++)); do [ -s "$NGINX_DIR/nginx.pid" ] && break; sleep 0.1; done
    if [ "$(cat "$NGINX_DIR/nginx.pid" 2>/dev/null)" != "$NGINX_PID" ]; then
        bench_log "warning: nginx pid file says '$(cat "$NGINX_DIR/nginx.pid" 2>/dev/null)', started pid is $NGINX_PID"
    fi
    local size
    size="$(curl -fsS "http://127.0.0.1:$port/1k" | wc -c)"
    [ "$size" = 1024 ] || bench_die "/1k returned $size bytes, expected 1024"
    bench_log "nginx $(nginx_version) up on 127.0.0.1:$port ($NGINX_WORKERS worker(s), pid $NGINX_PID, dir $NGINX_DIR)"
}

# nginx_requests: the number of requests our nginx has served (stub_status; the query itself included)
nginx_requests() {
    curl -fsS --max-time 2 "$NGINX_STATUS_URL" 2>/dev/null | awk 'NR == 3 { print $3 }'
}

nginx_stop() {
    if [ -n "$NGINX_PID" ]; then
        # QUIT = graceful shutdown of master and its worker
        bench_stop_pid "$NGINX_PID" nginx QUIT
        bench_log "nginx (pid $NGINX_PID) stopped"
    fi
    NGINX_PID=""
    if [ -n "$NGINX_DIR" ] && [ -z "${BENCH_KEEP_TMP:-}" ]; then
        rm -rf "$NGINX_DIR"
    fi
    NGINX_DIR=""
}

nginx_version() { nginx -v 2>&1 | sed 's/^nginx version: //'; }

# ---------------------------------------------------------------------------
# bench_timed NAME OUTDIR -- CMD [ARGS...]
# Runs CMD under `/usr/bin/time -f '%e %U %S %M %w %c'`; CMD's stdout/stderr go to
# OUTDIR/NAME.stdout / OUTDIR/NAME.stderr, the time line to OUTDIR/NAME.time.
# Sets: BT_WALL (s) BT_USER (s) BT_SYS (s) BT_RSS_KB (max RSS, KiB) BT_VCSW BT_IVCSW (voluntary and
# involuntary context switches) BT_RC (CMD's exit code).
# Returns 0 even when CMD fails (check BT_RC).
# ---------------------------------------------------------------------------
BENCH_TIME_BIN="${BENCH_TIME_BIN:-/usr/bin/time}"

bench_timed() {
    local name="$1" outdir="$2"
    shift 2
    [ "${1:-}" = "--" ] && shift
    [ $# -gt 0 ] || bench_die "bench_timed: no command"
    [ -x "$BENCH_TIME_BIN" ] || bench_need "$BENCH_TIME_BIN" time
    mkdir -p "$outdir"
    local tf="$outdir/$name.time"
    local -a guard=()
    # BENCH_TIMEOUT=SECONDS: hard stop for a run that hangs (outside time, so it is not measured)
    if [ -n "${BENCH_TIMEOUT:-}" ]; then
        guard=(timeout --kill-after=10 "$BENCH_TIMEOUT")
    fi
    BT_WALL="" BT_USER="" BT_SYS="" BT_RSS_KB="" BT_VCSW="" BT_IVCSW="" BT_RC=""
    printf '%q ' "$@" >"$outdir/$name.cmd"
    echo >>"$outdir/$name.cmd"
    "${guard[@]}" "$BENCH_TIME_BIN" -f '%e %U %S %M %w %c' -o "$tf" "$@" >"$outdir/$name.stdout" 2>"$outdir/$name.stderr"
    BT_RC=$?
    # GNU time writes "Command exited with non-zero status N" before the format line
    # when the command fails; the figures are always on the last line.
    local line
    line="$(tail -n 1 "$tf" 2>/dev/null)"
    read -r BT_WALL BT_USER BT_SYS BT_RSS_KB BT_VCSW BT_IVCSW <<<"$line"
    return 0
}

# ---------------------------------------------------------------------------
# Small number helpers (awk; empty in -> empty out, printed as "n/a" by bench_fmt)
# ---------------------------------------------------------------------------

# bench_calc 'EXPR using a,b,c' a b c  -> prints result, or nothing if an input is empty
bench_calc() {
    local expr="$1"
    shift
    local v
    for v in "$@"; do [ -n "$v" ] && [ "$v" != null ] || return 0; done
    awk -v a="${1:-0}" -v b="${2:-0}" -v c="${3:-0}" -v d="${4:-0}" "BEGIN { x = ($expr); print x }"
}

# bench_fmt VALUE [DECIMALS] -> fixed decimals, or n/a
bench_fmt() {
    local v="$1" dec="${2:-2}"
    if [ -z "$v" ] || [ "$v" = null ]; then
        echo "n/a"
    else
        awk -v v="$v" -v d="$dec" 'BEGIN { printf "%.*f\n", d, v }'
    fi
}

# bench_cpu_per_100k USER SYS REQUESTS -> CPU seconds per 100k requests
bench_cpu_per_100k() {
    local u="$1" s="$2" n="$3"
    [ -n "$n" ] && [ "$n" != null ] && [ "$n" != 0 ] || return 0
    bench_calc '(a + b) / c * 100000' "$u" "$s" "$n"
}

# bench_kib_to_mib KIB
bench_kib_to_mib() { bench_calc 'a / 1024' "$1"; }

# wrk_to_ms "1.23ms" | "456.00us" | "1.02s" | "2.00m" -> milliseconds
wrk_to_ms() {
    local v="$1"
    [ -n "$v" ] || return 0
    awk -v v="$v" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n = n / 1000
        else if (u == "ms") n = n
        else if (u == "s") n = n * 1000
        else if (u == "m") n = n * 60000
        else if (u == "h") n = n * 3600000
        print n }'
}

# bench_render_lua SRC DST DURATION [VUS]: copy a bench Lua script, replacing its
# `duration = "..."` values (and a plain `vus = N`, not pre_allocated_vus/max_vus).
bench_render_lua() {
    local src="$1" dst="$2" dur="$3" vus="${4:-}"
    sed -E "s/duration[[:space:]]*=[[:space:]]*\"[^\"]*\"/duration = \"$dur\"/g" "$src" >"$dst"
    if [ -n "$vus" ]; then
        sed -E -i "s/(^|[^_[:alnum:]])vus[[:space:]]*=[[:space:]]*[0-9]+/\1vus = $vus/g" "$dst"
    fi
}

# proc_cpu_seconds PID: user+sys CPU seconds a live process has used so far (empty if gone)
proc_cpu_seconds() {
    local pid="$1" stat rest tck
    stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 0
    rest="${stat##*) }"        # fields from 3 on (comm may contain spaces)
    tck="$(getconf CLK_TCK)"
    # utime, stime are fields 14, 15 -> 12th, 13th of "rest"
    awk -v t="$tck" '{ printf "%.2f\n", ($12 + $13) / t }' <<<"$rest"
}

# nginx_worker_pids: PIDs of our nginx master's children
nginx_worker_pids() {
    [ -n "$NGINX_PID" ] || return 0
    ps -o pid= --ppid "$NGINX_PID" 2>/dev/null | tr -d ' '
}

# nginx_cpu_seconds: summed user+sys CPU seconds of our nginx workers so far
nginx_cpu_seconds() {
    local total=0 p c
    for p in $(nginx_worker_pids); do
        c="$(proc_cpu_seconds "$p")"
        [ -n "$c" ] && total="$(awk -v a="$total" -v b="$c" 'BEGIN { print a + b }')"
    done
    echo "$total"
}

# bench_loadgen_bin: path of the loadgen release binary (LOADGEN_BIN overrides)
bench_loadgen_bin() { echo "${LOADGEN_BIN:-$BENCH_REPO_ROOT/target/release/loadgen}"; }

# bench_hold_lock: takes ${BENCH_LOCK:-/tmp/loadgen-bench.lock} on file descriptor 9 and keeps it until the
# script exits, so nothing else benchmarks meanwhile (waits up to 2 hours for it).
bench_hold_lock() {
    : "${BENCH_LOCK:=/tmp/loadgen-bench.lock}"
    bench_log "waiting for $BENCH_LOCK (held for the whole benchmark)"
    exec 9>"$BENCH_LOCK"
    flock -w 7200 9 || bench_die "$BENCH_LOCK still held after 2 hours"
}

# bench_pid_on PORT: the PID listening on a local TCP port (empty when none)
bench_pid_on() { ss -ltnpH "sport = :$1" | sed -nE 's/.*pid=([0-9]+).*/\1/p' | head -1; }
