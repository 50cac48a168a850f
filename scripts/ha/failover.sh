#!/usr/bin/env bash
# A daemon killed under load, in the stack's HA mode (`scripts/stack up --ha hdfs hive`), with Hadoop's own
# fail-over doing the rest:
#   STORE=hdfs: writes of SIZE bytes at RATE a second through the nameservice hdfs://loadgen
#     (scripts/ha/hdfs_failover.lua); KILL = active-namenode or datanode-1|2|3. Every acknowledged write is
#     read back byte for byte at the end (the script's check).
#   STORE=hive: queries at RATE a second through ZooKeeper discovery of the two HiveServer2
#     (scripts/ha/hive_failover.lua), each answer checked; KILL = hiveserver2-1|2.
# KILL_AT seconds in, the daemon's process group gets SIGKILL (checked dead); after the run (SECONDS_RUN)
# the daemon is started again (`scripts/stack up STORE`: a NameNode comes back as standby).
# Writes OUT_DIR: the run's result (failover.json), its printed summary (failover.txt), kill.json (what was
# killed, when, the NameNodes' states before and after), seconds.tsv (per second of the run: operations that
# succeeded, failed, p50 and max ms), summary.tsv (stall: seconds from the kill to the first second with as
# many successful operations as the rate asks; succeeded and failed operations, failures by kind), and
# report.html. Holds the benchmark lock for the whole run.
#   STORE=hdfs RATE=10 SIZE=1048576 SECONDS_RUN=90 KILL_AT=30 KILL=active-namenode scripts/ha/failover.sh [OUT_DIR]
#   STORE=hive RATE=4 SECONDS_RUN=90 KILL_AT=30 KILL=hiveserver2-1 scripts/ha/failover.sh [OUT_DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh
: "${STORE:=hdfs}" "${SIZE:=1048576}" "${SECONDS_RUN:=90}" "${KILL_AT:=30}"
case $STORE in
  hdfs) : "${RATE:=10}" "${KILL:=active-namenode}"; OP=hdfs.write ;;
  hive) : "${RATE:=4}" "${KILL:=hiveserver2-1}"; OP=hive.query ;;
  *) echo "STORE must be hdfs or hive, not '$STORE'" >&2; exit 2 ;;
esac
OUT_DIR=${1:-results/ha/$(date -u +%Y%m%d%H%M%S)-$STORE-$KILL}
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
  hiveserver2-1) proc=hive-server2 ;;
  hiveserver2-2) proc=hive-server2-2 ;;
  *) bench_die "KILL must be active-namenode, datanode-1|2|3 or hiveserver2-1|2, not '$KILL'" ;;
esac
pid=$(cat "$STATE/pids/$proc.pid") || bench_die "no PID file for $proc"
kill -0 "$pid" 2>/dev/null || bench_die "$proc ($pid) is not running"
before=$(states)
ACKS=$OUT_DIR/acks.tsv; : > "$ACKS"
DIR=/loadgen-ha/$(date +%s)-$$
bench_log "$STORE: $OP at $RATE/s for ${SECONDS_RUN}s; killing $proc ($pid) at ${KILL_AT}s"
"$LOADGEN_BIN" run "scripts/ha/${STORE}_failover.lua" --out "$OUT_DIR/failover.json" -e DIR="$DIR" -e ACKS="$ACKS" \
  -e RATE="$RATE" -e SIZE="$SIZE" -e SECONDS="$SECONDS_RUN" -e NAME="lg_ha_$$" > "$OUT_DIR/failover.txt" 2>&1 &
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
  --arg seconds "$SECONDS_RUN" --arg kill_at "$KILL_AT" --arg store "$STORE" \
  '{store: $store, killed: $proc, pid: $pid, killed_ms: $killed_ms, dead_ms: $dead_ms, states_before: $before, states_after: $after,
    loadgen_exit: $rc, rate: ($rate|tonumber), size: ($size|tonumber), seconds: ($seconds|tonumber), kill_at_s: ($kill_at|tonumber)}' \
  > "$OUT_DIR/kill.json"
bench_log "run exit $rc; NameNodes before $before, after $after; starting $proc again"
scripts/stack up "$STORE" > "$OUT_DIR/restart.txt" 2>&1 || bench_log "restarting $STORE failed: see $OUT_DIR/restart.txt"

# Per second: operations without error, failed ones, p50 and max.
jq -r --argjson k "$((killed_ms / 1000))" --arg op "$OP" '
  ["t_s", "since_kill_s", "ok", "failed", "p50_ms", "max_ms"],
  (.series[] | . as $s | (.metrics[$op] // {count: 0, errors: 0}) as $w
   | [$s.t, ($s.t - $k), ($w.count - $w.errors), $w.errors, ($w.p50 // ""), ($w.max // "")])
  | @tsv' "$OUT_DIR/failover.json" > "$OUT_DIR/seconds.tsv"
kinds=$(jq -r --arg op "$OP" '.metrics[$op].errors // {} | to_entries | map("\(.key) \(.value)") | join(", ")' "$OUT_DIR/failover.json")
awk -F'\t' -v rate="$RATE" -v kinds="${kinds:-none}" '
  NR > 1 { t = $2; ok[t] = $3; tot_ok += $3; tot_f += $4; if (t > last) last = t }
  END {
    stall = -1
    for (t = 0; t <= last; t++) if (ok[t] >= rate) { stall = t; break }
    print "stall_s\tsucceeded\tfailed\tfailed_by_kind"
    printf "%s\t%d\t%d\t%s\n", (stall < 0 ? "never" : stall), tot_ok, tot_f, kinds
  }' "$OUT_DIR/seconds.tsv" > "$OUT_DIR/summary.tsv"
"$LOADGEN_BIN" report "$OUT_DIR/failover.json" > /dev/null 2>&1 || true
[ -f "$OUT_DIR/failover.html" ] && mv "$OUT_DIR/failover.html" "$OUT_DIR/report.html"
cat "$OUT_DIR/summary.tsv"
grep -E '^(acknowledged|answers)|^result' "$OUT_DIR/failover.txt" || true
exit "$rc"
