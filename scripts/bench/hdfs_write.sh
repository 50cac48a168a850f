#!/usr/bin/env bash
# HDFS write throughput: Hadoop's own FsShell (`hdfs dfs -put`, from the stack's cached jars) and loadgen,
# one after the other against the stack's NameNode + DataNode, the same FILES files of SIZE_MIB MiB (the same
# bytes: one random local file, hard-linked FILES times for FsShell, read once per VU by loadgen), first
# one file at a time, then PARALLEL at a time (FsShell -put -t PARALLEL; loadgen PARALLEL VUs). Both write
# with replication 1 and 128 MiB blocks (the NameNode's defaults; FsShell gets a conf dir that says so).
# Prints a Markdown table.
#   FILES=20 SIZE_MIB=64 PARALLEL=4 scripts/bench/hdfs_write.sh
#
# Every timed run holds /tmp/loadgen-bench.lock (flock; shared with the other peer benchmarks) through
# scripts/bench/measure.sh; making the data and deleting the files between runs happen outside it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh
: "${FILES:=20}" "${SIZE_MIB:=64}" "${PARALLEL:=4}"
: "${LOADGEN_CACHE:=$HOME/.cache/loadgen}" "${BENCH_LOCK:=/tmp/loadgen-bench.lock}"
NN=hdfs://127.0.0.1:8020
# The NameNode logs every `complete` it answers "not yet" (the last block is COMMITTED, the DataNode has
# not reported it): each such answer costs the client a sleep before it asks again.
NN_LOG=${LOADGEN_STATE:-$HOME/.local/state/loadgen}/stack/logs/hdfs-namenode.log
BASE=/loadgen-bench-hdfs
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/loadgen-hdfs-write.XXXXXX)}
LOADGEN_BIN=${LOADGEN_BIN:-target/release/loadgen}
[ -x "$LOADGEN_BIN" ] || bench_die "$LOADGEN_BIN not built: cargo build --release"
[ $((FILES % PARALLEL)) = 0 ] || bench_die "FILES must be a multiple of PARALLEL"
bench_need jq
bench_need ss iproute2
scripts/stack up hdfs >/dev/null
SERVER_PIDS="$(ss -ltnpH 'sport = :8020' | sed -nE 's/.*pid=([0-9]+).*/\1/p' | head -1) $(ss -ltnpH 'sport = :9866' | sed -nE 's/.*pid=([0-9]+).*/\1/p' | head -1)"

# --- setup, outside the lock ------------------------------------------------------------------------
CONF=$OUT_DIR/hadoop-conf
mkdir -p "$CONF" "$OUT_DIR/src"
cat >"$CONF/core-site.xml" <<EOF
<?xml version="1.0"?>
<configuration>
  <property><name>fs.defaultFS</name><value>$NN</value></property>
</configuration>
EOF
cat >"$CONF/hdfs-site.xml" <<'EOF'
<?xml version="1.0"?>
<configuration>
  <!-- what loadgen's client gets from the NameNode's defaults: one replica, 128 MiB blocks -->
  <property><name>dfs.replication</name><value>1</value></property>
  <property><name>dfs.blocksize</name><value>134217728</value></property>
</configuration>
EOF
# shellcheck disable=SC2054  # the comma belongs to the logger setting
FSSHELL=(java -Xmx512m -Djava.net.preferIPv4Stack=true -Dhadoop.root.logger=WARN,console
    -Dhadoop.home.dir="$LOADGEN_CACHE/hdfs" -cp "$CONF:$LOADGEN_CACHE/hdfs/lib/*" org.apache.hadoop.fs.FsShell)
fsshell() { "${FSSHELL[@]}" "$@"; }
SRC=$OUT_DIR/data.bin
head -c $((SIZE_MIB * 1048576)) /dev/urandom >"$SRC"
for ((i = 1; i <= FILES; i++)); do ln -f "$SRC" "$OUT_DIR/src/$(printf 'f%03d' "$i")"; done
TOTAL_MIB=$((FILES * SIZE_MIB))
fsshell -rm -r -f -skipTrash "$NN$BASE" >/dev/null 2>&1 || true
fsshell -mkdir -p "$NN$BASE" >/dev/null 2>&1 || bench_die "cannot create $BASE on $NN"

measured() {   # measured NAME -- CMD...: one locked, timed run; sets BT_* and SERVER_CPU
    local name=$1 lines
    shift 2
    bench_log "$name: waiting for $BENCH_LOCK"
    lines=$(wc -l <"$NN_LOG")
    SERVER_PIDS="$SERVER_PIDS" flock "$BENCH_LOCK" scripts/bench/measure.sh "$name" "$OUT_DIR" -- "$@"
    NOT_COMPLETE=$(tail -n +"$((lines + 1))" "$NN_LOG" | grep -c 'is COMMITTED but' || true)
    read -r BT_WALL BT_USER BT_SYS _ <<<"$(tail -n 1 "$OUT_DIR/$name.time")"
    BT_RC=$(cat "$OUT_DIR/$name.rc")
    SERVER_CPU=$(cat "$OUT_DIR/$name.server_cpu")
    bench_log "$name: rc=$BT_RC wall=${BT_WALL}s"
    [ "$BT_RC" = 0 ] || { tail -5 "$OUT_DIR/$name.stderr" >&2; bench_die "$name failed (rc $BT_RC)"; }
}
check_dir() {   # check_dir DIR -> "files bytes replication"
    local du rep
    du=$(fsshell -count "$NN$1" 2>/dev/null | awk '{print $2, $3}')
    rep=$(fsshell -stat %r "$NN$1/f001" 2>/dev/null)
    echo "$du $rep"
}
settle() { fsshell -rm -r -f -skipTrash "$NN$1" >/dev/null 2>&1 || true; sync; sleep 5; }
declare -A RATE WALLRATE WALL CPU SCPU CHECK RETRY

# FsShell's start-up (JVM, classes, first NameNode call), measured alone so it can be set apart
measured fsshell-noop -- "${FSSHELL[@]}" -test -d "$NN$BASE"
NOOP_WALL=$BT_WALL

for mode in seq par; do
    p=1
    [ "$mode" = par ] && p=$PARALLEL
    d=$BASE/fsshell-$mode
    fsshell -mkdir -p "$NN$d" >/dev/null 2>&1
    measured "fsshell-$mode" -- "${FSSHELL[@]}" -put -t "$p" "$OUT_DIR"/src/f* "$NN$d/"
    WALL[fsshell-$mode]=$BT_WALL
    WALLRATE[fsshell-$mode]=$(bench_calc 'a / b' "$TOTAL_MIB" "$BT_WALL")
    RATE[fsshell-$mode]=$(bench_calc 'a / (b - c)' "$TOTAL_MIB" "$BT_WALL" "$NOOP_WALL")
    CPU[fsshell-$mode]=$(bench_calc 'a + b' "$BT_USER" "$BT_SYS")
    SCPU[fsshell-$mode]=$SERVER_CPU
    RETRY[fsshell-$mode]=$NOT_COMPLETE
    CHECK[fsshell-$mode]=$(check_dir "$d")
    settle "$d"

    d=$BASE/loadgen-$mode
    measured "loadgen-$mode" -- "$LOADGEN_BIN" run scripts/bench/hdfs_write.lua --quiet --out "$OUT_DIR/loadgen-$mode.json" \
        -e DIR="$d" -e SRC="$SRC" -e FILES="$FILES" -e VUS="$p"
    res=$OUT_DIR/loadgen-$mode.json
    WALL[loadgen-$mode]=$BT_WALL
    WALLRATE[loadgen-$mode]=$(bench_calc 'a / b' "$TOTAL_MIB" "$BT_WALL")
    RATE[loadgen-$mode]=$(jq -r '.metrics["hdfs.write"].unit_throughput.bytes / 1048576' "$res")
    CPU[loadgen-$mode]=$(bench_calc 'a + b' "$BT_USER" "$BT_SYS")
    SCPU[loadgen-$mode]=$SERVER_CPU
    RETRY[loadgen-$mode]=$NOT_COMPLETE
    CHECK[loadgen-$mode]="$(check_dir "$d"), errors $(jq -r '.metrics["hdfs.write"].error_count' "$res")"
    settle "$d"
done
fsshell -rm -r -f -skipTrash "$NN$BASE" >/dev/null 2>&1 || true

echo "## HDFS write: $FILES files of $SIZE_MIB MiB ($TOTAL_MIB MiB), one at a time and $PARALLEL at a time"
echo
echo "$(date -u +%FT%TZ), $(nproc) cores; HDFS 3.5.0, one NameNode and one DataNode on this machine; replication 1"
echo
echo "| tool | files at a time | MiB/s (load phase) | MiB/s over process wall | wall s | tool CPU s | NameNode + DataNode CPU s | closes told \"not complete\" | check: files, bytes, replication |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
for mode in seq par; do
    p=1
    [ "$mode" = par ] && p=$PARALLEL
    for t in fsshell loadgen; do
        k=$t-$mode
        name="FsShell -put -t $p (Hadoop $(ls "$LOADGEN_CACHE/hdfs/lib" | sed -nE 's/^hadoop-common-(.*)\.jar$/\1/p'))"
        [ "$t" = loadgen ] && name="loadgen $("$LOADGEN_BIN" version | awk '{print $2}') ($p VUs)"
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$p" "$(bench_fmt "${RATE[$k]}" 1)" "$(bench_fmt "${WALLRATE[$k]}" 1)" \
            "$(bench_fmt "${WALL[$k]}" 2)" "$(bench_fmt "${CPU[$k]}" 1)" "$(bench_fmt "${SCPU[$k]}" 1)" "${RETRY[$k]}" "${CHECK[$k]}"
    done
done
echo
echo "FsShell's load phase is its wall time less that of a no-op FsShell (\`-test -d\`: JVM start, classes, one"
echo "NameNode call), which took $(bench_fmt "$NOOP_WALL" 2) s; loadgen's is hdfs.write bytes over its load phase."
echo "\"Not complete\": the NameNode's log lines for a \`complete\` that came before the DataNode reported the"
echo "file's last block; the client then sleeps before it asks again (Hadoop's client 400 ms, doubling;"
echo "hdfs-native 500 ms, doubling)."
echo
for mode in seq par; do
    awk -v m="$mode" -v a="${RATE[loadgen-$mode]}" -v b="${RATE[fsshell-$mode]}" -v c="${WALLRATE[loadgen-$mode]}" -v d="${WALLRATE[fsshell-$mode]}" \
        'BEGIN {printf "loadgen / FsShell, %s: %.2f (load phase), %.2f (process wall)\n", m, a / b, c / d}'
done
echo
echo "Commands (OUT_DIR=$OUT_DIR; fsshell = java -Xmx512m -cp \"\$CONF:$LOADGEN_CACHE/hdfs/lib/*\" org.apache.hadoop.fs.FsShell):"
echo
for t in fsshell-noop fsshell-seq loadgen-seq fsshell-par loadgen-par; do
    # shellcheck disable=SC2016  # backquotes are Markdown
    printf -- '- %s: `flock %s scripts/bench/measure.sh %s ... -- %s`\n' "$t" "$BENCH_LOCK" "$t" "$(sed -E 's/^env LOADGEN_BENCH_TAG=[^ ]+ //; s/ *$//' "$OUT_DIR/$t.cmd")"
done
