#!/usr/bin/env bash
# HDFS write throughput: Hadoop's own FsShell (`hdfs dfs -put`, from the stack's cached jars) beside
# loadgen with its own write path (`writer = "loadgen"`, the default) and with hdfs-native's writer
# (`writer = "hdfs-native"`), against the stack's NameNode and DataNode(s). The same FILES files of
# SIZE_MIB MiB (one random local file, hard-linked FILES times for FsShell, read once per VU by loadgen),
# one file at a time, then PARALLEL at a time (FsShell -put -t PARALLEL; loadgen PARALLEL VUs), with
# REPLICATION replicas and 128 MiB blocks on every side. ROUNDS rounds; round r runs the tools in TOOLS
# rotated by r - 1, so each goes first as often as the others. The whole script holds
# /tmp/loadgen-bench.lock (flock), so no other benchmark runs meanwhile.
#   ROUNDS=5 FILES=20 SIZE_MIB=64 PARALLEL=4 REPLICATION=1 scripts/bench/hdfs_write.sh
#   REPLICATION=3 scripts/bench/hdfs_write.sh      # starts two more DataNodes (HDFS_DATANODES=3)
# Writes OUT_DIR/rounds.tsv (one line per run: the raw figures) and every run's files
# (NAME.{cmd,stdout,stderr,time,server_cpu,rc}, loadgen's result JSON); prints a Markdown summary.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh
: "${ROUNDS:=5}" "${FILES:=20}" "${SIZE_MIB:=64}" "${PARALLEL:=4}" "${REPLICATION:=1}"
: "${TOOLS:=fsshell loadgen hdfs-native}" "${MODES:=seq par}"
: "${LOADGEN_CACHE:=$HOME/.cache/loadgen}" "${BENCH_LOCK:=/tmp/loadgen-bench.lock}"
NN=hdfs://127.0.0.1:8020
# The NameNode logs every `complete` it answers "not yet" (the last block is COMMITTED, the DataNode has
# not reported it): each such answer costs the client a wait before it asks again.
NN_LOG=${LOADGEN_STATE:-$HOME/.local/state/loadgen}/stack/logs/hdfs-namenode.log
BASE=/loadgen-bench-hdfs
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/loadgen-hdfs-write.XXXXXX)}
LOADGEN_BIN=${LOADGEN_BIN:-target/release/loadgen}
[ -x "$LOADGEN_BIN" ] || bench_die "$LOADGEN_BIN not built: cargo build --release"
[ $((FILES % PARALLEL)) = 0 ] || bench_die "FILES must be a multiple of PARALLEL"
case $REPLICATION in 1) DATANODES=1 ;; 2|3) DATANODES=3 ;; *) bench_die "REPLICATION must be 1, 2 or 3" ;; esac
bench_need jq
bench_need ss iproute2
mkdir -p "$OUT_DIR"

bench_hold_lock

HDFS_DATANODES=$DATANODES scripts/stack up hdfs >/dev/null
SERVER_PIDS=$(bench_pid_on 8020)
for p in 9866 19866 29866; do SERVER_PIDS+=" $(bench_pid_on $p)"; done
export SERVER_PIDS
live=$(curl -sf "http://127.0.0.1:9870/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState" |
    sed -nE 's/.*"NumLiveDataNodes" : ([0-9]+).*/\1/p')
[ "${live:-0}" -ge "$REPLICATION" ] || bench_die "$live live DataNode(s) for replication $REPLICATION"

# --- setup ---------------------------------------------------------------------------------------
CONF=$OUT_DIR/hadoop-conf
mkdir -p "$CONF" "$OUT_DIR/src"
cat >"$CONF/core-site.xml" <<EOF
<?xml version="1.0"?>
<configuration>
  <property><name>fs.defaultFS</name><value>$NN</value></property>
</configuration>
EOF
cat >"$CONF/hdfs-site.xml" <<EOF
<?xml version="1.0"?>
<configuration>
  <!-- what loadgen's writes ask for: $REPLICATION replica(s), 128 MiB blocks -->
  <property><name>dfs.replication</name><value>$REPLICATION</value></property>
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
HADOOP_VERSION=$(ls "$LOADGEN_CACHE/hdfs/lib" | sed -nE 's/^hadoop-common-(.*)\.jar$/\1/p')
LOADGEN_VERSION=$("$LOADGEN_BIN" version | awk '{print $2}')

measured() {   # measured NAME -- CMD...: one timed run; sets BT_*, SERVER_CPU and NOT_COMPLETE
    local name=$1 lines
    shift 2
    lines=$(wc -l <"$NN_LOG")
    scripts/bench/measure.sh "$name" "$OUT_DIR" -- "$@"
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

read -ra tools <<<"$TOOLS"
RAW=$OUT_DIR/rounds.tsv
printf 'round\tmode\ttool\tposition\tfiles_at_a_time\twall_s\tload_mib_s\twall_mib_s\ttool_cpu_s\tserver_cpu_s\tnot_complete\tcomplete_waits\tcheck\n' >"$RAW"
for ((r = 1; r <= ROUNDS; r++)); do
    # FsShell's start-up (JVM, classes, first NameNode call), measured each round so it can be set apart
    measured "r$r-fsshell-noop" -- "${FSSHELL[@]}" -test -d "$NN$BASE"
    noop=$BT_WALL
    for mode in $MODES; do
        p=1
        [ "$mode" = par ] && p=$PARALLEL
        for ((i = 0; i < ${#tools[@]}; i++)); do
            t=${tools[$(( (i + r - 1) % ${#tools[@]} ))]}
            name=r$r-$t-$mode d=$BASE/$t-$mode-$r waits=""
            if [ "$t" = fsshell ]; then
                fsshell -mkdir -p "$NN$d" >/dev/null 2>&1
                measured "$name" -- "${FSSHELL[@]}" -put -t "$p" "$OUT_DIR"/src/f* "$NN$d/"
                rate=$(bench_calc 'a / (b - c)' "$TOTAL_MIB" "$BT_WALL" "$noop")
                check=$(check_dir "$d")
            else
                measured "$name" -- "$LOADGEN_BIN" run scripts/bench/hdfs_write.lua --quiet --out "$OUT_DIR/$name.json" \
                    -e DIR="$d" -e SRC="$SRC" -e FILES="$FILES" -e VUS="$p" -e WRITER="$t" \
                    -e REPLICATION="$REPLICATION"
                res=$OUT_DIR/$name.json
                rate=$(jq -r '.metrics["hdfs.write"].unit_throughput.bytes / 1048576' "$res")
                waits=$(jq -r '.metrics["hdfs.write"].units.complete_waits // ""' "$res")
                check="$(check_dir "$d"), errors $(jq -r '.metrics["hdfs.write"].error_count' "$res")"
            fi
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$mode" "$t" "$((i + 1))" "$p" "$BT_WALL" \
                "$rate" "$(bench_calc 'a / b' "$TOTAL_MIB" "$BT_WALL")" "$(bench_calc 'a + b' "$BT_USER" "$BT_SYS")" \
                "$SERVER_CPU" "$NOT_COMPLETE" "$waits" "$check" >>"$RAW"
            settle "$d"
        done
    done
done
fsshell -rm -r -f -skipTrash "$NN$BASE" >/dev/null 2>&1 || true

label() {
    case $1 in
        fsshell) echo "FsShell -put -t $2 (Hadoop $HADOOP_VERSION)" ;;
        loadgen) echo "loadgen $LOADGEN_VERSION, own write path ($2 VUs)" ;;
        hdfs-native) echo "loadgen $LOADGEN_VERSION, hdfs-native writer ($2 VUs)" ;;
    esac
}
echo "## HDFS write: $FILES files of $SIZE_MIB MiB ($TOTAL_MIB MiB), replication $REPLICATION, $ROUNDS rounds"
echo
echo "$(date -u +%FT%TZ), $(nproc) cores; HDFS $HADOOP_VERSION, one NameNode and $live DataNode(s) on this machine;"
echo "tool order rotated each round ($TOOLS, first in round 1); the whole run held $BENCH_LOCK."
echo
echo "| tool | files at a time | MiB/s (load phase), median | min-max | MiB/s over process wall, median | tool CPU s per GiB | NameNode + DataNode CPU s per GiB | closes told \"not complete\" (all rounds) | loadgen's complete_waits (all rounds) |"
echo "|---|---:|---:|---|---:|---:|---:|---:|---:|"
for mode in $MODES; do
    for t in "${tools[@]}"; do
        awk -F'\t' -v m="$mode" -v t="$t" -v mib="$TOTAL_MIB" -v name="$(label "$t" "$([ "$mode" = par ] && echo "$PARALLEL" || echo 1)")" '
            function median(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
                return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
            NR > 1 && $2 == m && $3 == t { n++; r[n] = $7; w[n] = $8; c[n] = $9 * 1024 / mib; s[n] = $10 * 1024 / mib; nc += $11; cw += $12; p = $5
                lo = (n == 1 || $7 < lo) ? $7 : lo; hi = (n == 1 || $7 > hi) ? $7 : hi; if ($12 != "") has = 1 }
            END { if (n) printf "| %s | %s | %.1f | %.1f-%.1f | %.1f | %.2f | %.2f | %d | %s |\n", name, p, median(r, n), lo, hi, median(w, n),
                  median(c, n), median(s, n), nc, has ? cw : "-" }' "$RAW"
    done
done
echo
echo "Ratios to FsShell, computed within each round, then the median and the range over the rounds:"
echo
for mode in $MODES; do
    for t in "${tools[@]}"; do
        [ "$t" = fsshell ] && continue
        awk -F'\t' -v m="$mode" -v t="$t" '
            function median(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
                return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
            NR > 1 && $2 == m && $3 == "fsshell" { fr[$1] = $7; fw[$1] = $8 }
            NR > 1 && $2 == m && $3 == t { tr[$1] = $7; tw[$1] = $8 }
            END { for (k in tr) if (k in fr) { n++; a[n] = tr[k] / fr[k]; b[n] = tw[k] / fw[k]
                      lo = (n == 1 || a[n] < lo) ? a[n] : lo; hi = (n == 1 || a[n] > hi) ? a[n] : hi }
                  if (n) printf "- %s / FsShell, %s: %.2f (load phase; rounds %.2f-%.2f), %.2f (process wall)\n", t, m == "seq" ? "one file at a time" : "several at a time", median(a, n), lo, hi, median(b, n) }' "$RAW"
    done
done
echo
echo "FsShell's load phase is its wall time less that of a no-op FsShell (\`-test -d\`: JVM start, classes, one"
echo "NameNode call) measured in the same round; loadgen's is hdfs.write bytes over its load phase."
echo "\"Not complete\": the NameNode's log lines for a \`complete\` that came before the DataNode(s) reported the"
echo "file's last block; the client then waits before it asks again (Hadoop's client 400 ms, doubling;"
echo "hdfs-native 500 ms, doubling; loadgen's own write path 2 ms, doubling up to 400 ms)."
echo
echo "Raw figures: $RAW (one line per run). Commands of round 1 (OUT_DIR=$OUT_DIR):"
echo
for f in "$OUT_DIR"/r1-*.cmd; do
    n=$(basename "$f" .cmd)
    # shellcheck disable=SC2016  # backquotes are Markdown
    printf -- '- %s: `scripts/bench/measure.sh %s ... -- %s`\n' "$n" "$n" "$(sed -E 's/^env LOADGEN_BENCH_TAG=[^ ]+ //; s/ *$//' "$f")"
done
