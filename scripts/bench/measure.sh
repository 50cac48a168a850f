#!/usr/bin/env bash
# One timed measurement for the store peer benchmarks (es_bulk.sh, hdfs_write.sh). The harness runs it as
#   flock /tmp/loadgen-bench.lock scripts/bench/measure.sh NAME OUTDIR -- CMD [ARGS...]
# so the lock is held for exactly this run (and waiting for it is not timed).
# It runs CMD under bench_timed (OUTDIR/NAME.{cmd,stdout,stderr,time}) and writes
#   OUTDIR/NAME.server_cpu  user+sys CPU seconds the server PIDs in $SERVER_PIDS used during CMD
#   OUTDIR/NAME.tree_cpu    (only with TREE=1) CPU seconds of CMD and every process it started, however
#                           detached (found by a marker variable in their environment), sampled every 0.2 s:
#                           for tools such as Rally whose actor processes /usr/bin/time does not wait for
#   OUTDIR/NAME.rc          CMD's exit code
set -uo pipefail
# shellcheck source=scripts/bench/lib.sh
source "$(dirname "$0")/lib.sh"
name=$1 out=$2
shift 2
[ "${1:-}" = "--" ] && shift

server_cpu() {
    local total=0 p c
    for p in ${SERVER_PIDS:-}; do
        c=$(proc_cpu_seconds "$p")
        [ -n "$c" ] && total=$(awk -v a="$total" -v b="$c" 'BEGIN { print a + b }')
    done
    echo "$total"
}

sampler_pid=""
tag="LOADGEN_BENCH_TAG=$name-$$-$(date +%s%N)"
if [ -n "${TREE:-}" ]; then
    # pid -> highest CPU seen; read-only, never signals those processes
    (
        declare -A seen=()
        tck=$(getconf CLK_TCK)
        while :; do
            for e in $(grep -lzx -- "$tag" /proc/[0-9]*/environ 2>/dev/null); do
                p=${e#/proc/}
                p=${p%/environ}
                stat=$(<"/proc/$p/stat") 2>/dev/null || continue
                rest=${stat##*) }
                # shellcheck disable=SC2086
                set -- $rest
                seen[$p]=$(( ${12} + ${13} ))
            done
            sum=0
            for p in "${!seen[@]}"; do sum=$((sum + seen[$p])); done
            awk -v s="$sum" -v t="$tck" 'BEGIN { printf "%.2f\n", s / t }' >"$out/$name.tree_cpu.tmp"
            mv "$out/$name.tree_cpu.tmp" "$out/$name.tree_cpu"
            sleep 0.2
        done
    ) &
    sampler_pid=$!
fi

before=$(server_cpu)
bench_timed "$name" "$out" -- env "$tag" "$@"
after=$(server_cpu)
if [ -n "$sampler_pid" ]; then
    sleep 0.3
    kill "$sampler_pid" 2>/dev/null
    wait "$sampler_pid" 2>/dev/null
fi
awk -v a="$before" -v b="$after" 'BEGIN { printf "%.2f\n", b - a }' >"$out/$name.server_cpu"
echo "$BT_RC" >"$out/$name.rc"
exit 0
