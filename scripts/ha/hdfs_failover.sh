#!/usr/bin/env bash
# HDFS fail-over under a write load, in the stack's HA mode (`scripts/stack up --ha hdfs`): writes of SIZE
# bytes at RATE a second through the nameservice hdfs://loadgen for SECONDS_RUN (scripts/ha/hdfs_failover.lua);
# KILL_AT seconds in, the daemon KILL (active-namenode, or datanode-N) gets SIGKILL on its process group
# (checked dead). The run ends with every acknowledged write read back byte for byte (the script's check),
# then the killed daemon is started again (`scripts/stack up hdfs`: a NameNode comes back as standby).
# Writes OUT_DIR: the run's result (failover.json) and printed summary, kill.json (what was killed, when,
# the NameNodes' states before and after), seconds.tsv (per second of the run: writes acknowledged, failed,
# p50 and max ms), summary.tsv (stall: seconds from the kill to the first second with as many acknowledged
# writes as the rate asks; acknowledged and failed writes, failures by kind), and report.html.
# Holds the benchmark lock for the whole run.
#   RATE=10 SIZE=1048576 SECONDS_RUN=90 KILL_AT=30 KILL=active-namenode scripts/ha/hdfs_failover.sh [OUT_DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh
: "${RATE:=10}" "${SIZE:=1048576}" "${SECONDS_RUN:=90}" "${KILL_AT:=30}" "${KILL:=active-namenode}"
OUT_DIR=${1:-results/ha/$(date -u +%Y%m%d%H%M%S)-hdfs-$KILL}
LOADGEN_BIN=${LOADGEN_BIN:-target/release/loadgen}
STATE=${LOADGEN_STATE:-$HOME/.local/state/loadgen}/stack
[ -x "$LOADGEN_BIN" ] || bench_die "$LOADGEN_BIN not built: cargo build --release"
bench_need jq
[ -f "$STATE/ha" ] || bench_die "the stack is not in HA mode: scripts/stack down hive hdfs && scripts/stack up --ha hdfs"
mkdir -p "$OUT_DIR"
bench_hold_lock

nn_state() {
  curl -sf "http://127.0.0.1:$1/jmx?qry=Hadoop:service=NameNode,name=NameNodeStatus" |
    sed -nE 's/.*"State" : "([a-z]+)".*/\1/p' || true
}
states() { printf '{"nn1": "%s", "nn2": "%s"}' "$(nn_state 9870)" "$(nn_state 9880)"; }
case $KILL in
  active-namenode)
    if [ "$(nn_state 9870)" = active ]; then proc=hdfs-namenode; elif [ "$(nn_state 9880)" = active ]; then proc=hdfs-namenode-2
    else bench_die "no active NameNode: $(states)"; fi ;;
  datanode-1) proc=hdfs-datanode ;;
  datanode-2|datanode-3) proc=hdfs-$KILL ;;
  *) bench_die "KILL must be active-namenode or datanode-1|2|3, not '$KILL'" ;;
esac
pid=$(cat "$STATE/pids/$proc.pid") || bench_die "no PID file for $proc"
kill -0 "$pid" 2>/dev/null || bench_die "$proc ($pid) is not running"
before=$(states)
ACKS=$OUT_DIR/acks.tsv; : > "$ACKS"
DIR=/loadgen-ha/$(date +%s)-$$
bench_log "writing $SIZE-byte files at $RATE/s for ${SECONDS_RUN}s; killing $proc ($pid) at ${KILL_AT}s"
"$LOADGEN_BIN" run scripts/ha/hdfs_failover.lua --out "$OUT_DIR/failover.json" -e DIR="$DIR" -e ACKS="$ACKS" \
  -e RATE="$RATE" -e SIZE="$SIZE" -e SECONDS="$SECONDS_RUN" > "$OUT_DIR/failover.txt" 2>&1 &
run=$!
sleep "$KILL_AT"
killed_ms=$(date +%s%3N)
kill -KILL -- "-$pid" 2>/dev/null || bench_die "could not signal $proc ($pid)"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && bench_die "$proc ($pid) still alive 10 s after SIGKILL"
dead_ms=$(date +%s%3N)
bench_log "$proc killed; waiting for the run"
rc=0; wait "$run" || rc=$?
after=$(states)
jq -n --arg proc "$proc" --argjson pid "$pid" --argjson killed_ms "$killed_ms" --argjson dead_ms "$dead_ms" \
  --argjson before "$before" --argjson after "$after" --argjson rc "$rc" --arg rate "$RATE" --arg size "$SIZE" \
  --arg seconds "$SECONDS_RUN" --arg kill_at "$KILL_AT" \
  '{killed: $proc, pid: $pid, killed_ms: $killed_ms, dead_ms: $dead_ms, states_before: $before, states_after: $after,
    loadgen_exit: $rc, rate: ($rate|tonumber), size: ($size|tonumber), seconds: ($seconds|tonumber), kill_at_s: ($kill_at|tonumber)}' \
  > "$OUT_DIR/kill.json"
bench_log "run exit $rc; NameNodes before $before, after $after; starting $proc again"
scripts/stack up hdfs > "$OUT_DIR/restart.txt" 2>&1 || bench_log "restarting hdfs failed: see $OUT_DIR/restart.txt"

# Per second: acknowledged writes (operations without error), failed ones, p50 and max.
jq -r --argjson k "$((killed_ms / 1000))" '
  ["t_s", "since_kill_s", "ok", "failed", "p50_ms", "max_ms"],
  (.series[] | . as $s | (.metrics["hdfs.write"] // {count: 0, errors: 0}) as $w
   | [$s.t, ($s.t - $k), ($w.count - $w.errors), $w.errors, ($w.p50 // ""), ($w.max // "")])
  | @tsv' "$OUT_DIR/failover.json" > "$OUT_DIR/seconds.tsv"
kinds=$(jq -r '.metrics["hdfs.write"].errors // {} | to_entries | map("\(.key) \(.value)") | join(", ")' "$OUT_DIR/failover.json")
awk -F'\t' -v rate="$RATE" -v kinds="${kinds:-none}" '
  NR > 1 { t = $2; ok[t] = $3; tot_ok += $3; tot_f += $4; if (t > last) last = t }
  END {
    stall = -1
    for (t = 0; t <= last; t++) if (ok[t] >= rate) { stall = t; break }
    print "stall_s\tacknowledged\tfailed\tfailed_by_kind"
    printf "%s\t%d\t%d\t%s\n", (stall < 0 ? "never" : stall), tot_ok, tot_f, kinds
  }' "$OUT_DIR/seconds.tsv" > "$OUT_DIR/summary.tsv"
"$LOADGEN_BIN" report "$OUT_DIR/failover.json" > /dev/null 2>&1 || true
[ -f "$OUT_DIR/failover.html" ] && mv "$OUT_DIR/failover.html" "$OUT_DIR/report.html"
cat "$OUT_DIR/summary.tsv"
tail -3 "$OUT_DIR/failover.txt" | grep -E 'acknowledged|result' || true
exit "$rc"
