#!/usr/bin/env bash
# CPU per request of loadgen (a Lua iteration with one http.get per request) and of wrk with a Lua
# request() per request, against our own nginx (scripts/bench/lib.sh, 1 worker, /1k), 64 connections.
# Run under the exclusive lock:  flock -x /tmp/loadgen-bench.lock measure.sh OUT LABEL BIN [N] [REPS]
#   LABEL=wrk: BIN is ignored; wrk -t2 -c64 -d10s -s wrk_request.lua, REPS times
#   LD_PRELOAD in the environment is passed to loadgen (an allocator tried without a rebuild)
# Writes OUT/LABEL.<rep>.{perf,time,json,out}: perf stat (task-clock, context switches), GNU time
# (wall user sys maxrss), loadgen's result file or wrk's text.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$1" LABEL="$2" BIN="$3" N="${4:-200000}" REPS="${5:-2}"
PORT="${PORT:-18190}"
mkdir -p "$OUT"
k=0
for _ in $(seq 1 "$REPS"); do
    # a new file name for every run: raw outputs are written once
    k=$((k + 1)); while [ -e "$OUT/$LABEL.$k.time" ]; do k=$((k + 1)); done
    r=$k f="$OUT/$LABEL.$k"
    if [ "$LABEL" = wrk ]; then
        perf stat -e task-clock,context-switches,cpu-migrations -o "$f.perf" \
            /usr/bin/time -f '%e %U %S %M' -o "$f.time" \
            wrk -t2 -c64 -d10s -s "$HERE/wrk_request.lua" "http://127.0.0.1:$PORT/1k" >"$f.out" 2>&1
        n="$(awk '/ requests in /{ print $1; exit }' "$f.out")"
        rps="$(awk '/^Requests\/sec:/{ print $2; exit }' "$f.out")"
    else
        perf stat -e task-clock,context-switches,cpu-migrations -o "$f.perf" \
            /usr/bin/time -f '%e %U %S %M' -o "$f.time" \
            "$BIN" run "$HERE/http_iter.lua" -e N="$N" -e PORT="$PORT" --quiet --out "$f.json" >"$f.out" 2>&1
        n="$(jq -r '.metrics["http.request"].count' "$f.json")"
        rps="$(jq -r '.metrics["http.request"].throughput' "$f.json")"
    fi
    read -r wall u s rss <"$f.time"
    awk -v l="$LABEL.$r" -v n="$n" -v rps="$rps" -v u="$u" -v s="$s" -v w="$wall" \
        'BEGIN { printf "%s requests=%d rps=%.0f wall=%.2f user=%.2f sys=%.2f cpu_s_per_100k=%.3f\n", l, n, rps, w, u, s, (u + s) * 100000 / n }' |
        tee -a "$OUT/summary.txt"
    sleep 1
done
