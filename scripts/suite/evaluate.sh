#!/usr/bin/env bash
# The store evaluation: the same seeded monitoring events loaded into Elasticsearch, Hive and
# HBase/Phoenix, each with its own experts' design (docs/evaluation.md), then the same eight queries
# against each; every answer validated across the three stores; load at several loader counts, cold
# and hot queries apart; server CPU and memory per phase. One store at a time: while one is measured
# the others are idle (their CPU in the same window is recorded as others_cpu_s).
#
#   ROWS=200000 SAMPLES=30 LOADERS="1 2 4" scripts/suite/evaluate.sh [OUT_DIR]
#
# Env: ROWS (events; default 200000), SAMPLES (hot rounds per query; 30), LOADERS (loader counts; the
# last one's load stays for the queries), SEED (1), ROUND (rotates the store and query order; default:
# from the clock), STORES (default "elasticsearch hive phoenix"), LOADGEN_BIN.
# Writes OUT_DIR (default results/runs/evaluation-<time>/): one result file per load and query phase,
# answers-<store>.json, validate.json, summary.md (built from the result files) and report.html.
# Exit: 0; 99 when an answer differs or a check failed; any other failure's own code wins over 99.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${ROWS:=200000}" "${SAMPLES:=30}" "${LOADERS:=1 2 4}" "${SEED:=1}" "${STORES:=elasticsearch hive phoenix}"
: "${ROUND:=$(( $(date +%s) / 60 % 3 ))}"
LG=${LOADGEN_BIN:-target/release/loadgen}
[ -x "$LG" ] || cargo build --release -q
stamp=$(date -u +%Y%m%d%H%M%S)
OUT=${1:-results/runs/evaluation-$stamp}
mkdir -p "$OUT"
STACK_STATE=${LOADGEN_STATE:-$HOME/.local/state/loadgen}/stack
say() { printf '[evaluate %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

# shellcheck source=scripts/suite/rc.sh
source scripts/suite/rc.sh

scripts/stack up elasticsearch hdfs hbase phoenix hive

# The processes behind each store (Hive's include HDFS, where its tables live).
declare -A PROCS=([elasticsearch]=elasticsearch [hive]="hdfs-namenode hdfs-datanode hive-metastore hive-server2"
                  [phoenix]="hbase phoenix")
pids_of() {
    local p g out=""
    for p in "$@"; do
        g=$(cat "$STACK_STATE/pids/$p.pid" 2>/dev/null) || continue
        out+="$(pgrep -g "$g" | tr '\n' ',')"
    done
    echo "${out%,}"
}

data=${DATA:-/tmp/loadgen-events-v2-$ROWS-$SEED.tsv}
if [ ! -s "$data" ]; then
    say "making $ROWS events (seed $SEED) into $data"
    "$LG" run scripts/suite/make_events.lua --quiet --seed "$SEED" -e ROWS="$ROWS" -e OUT="$data" \
        --out "$OUT/make-events.json" > /dev/null
fi

read -ra order <<< "$STORES"
n=${#order[@]}
rotated=()
for ((i = 0; i < n; i++)); do rotated+=("${order[$(( (i + ROUND) % n ))]}"); done
jq -n --arg rows "$ROWS" --arg samples "$SAMPLES" --arg loaders "$LOADERS" --arg seed "$SEED" \
    --arg round "$ROUND" --arg order "${rotated[*]}" --arg bytes "$(stat -c %s "$data")" \
    --arg sha "$(sha256sum "$data" | cut -c1-16)" --arg cores "$(nproc)" \
    '{rows: ($rows|tonumber), data_bytes: ($bytes|tonumber), data_sha256_16: $sha, seed: ($seed|tonumber),
      hot_samples: ($samples|tonumber), loaders: ($loaders|split(" ")|map(tonumber)), round: ($round|tonumber),
      store_order: ($order|split(" ")), cores: ($cores|tonumber)}' > "$OUT/method.json"
say "order: ${rotated[*]}; $ROWS rows ($(stat -c %s "$data") bytes), loaders: $LOADERS, hot samples: $SAMPLES"

run_lg() {   # run_lg OUT_BASE SCRIPT ARGS...: loadgen run, its stdout kept beside its result file
    local base=$1 script=$2 rc=0; shift 2
    "$LG" run "$script" --quiet --seed "$SEED" --out "$base.json" -e DATA="$data" -e CLK_TCK="$(getconf CLK_TCK)" \
        "$@" > "$base.txt" 2>&1 || rc=$?
    grep -E "rows by|MISMATCH|validation:|^error|script error| (connect|timeout|server|client|protocol): " "$base.txt" | head -20 || true
    note_rc "$rc"
    return 0
}

for store in "${rotated[@]}"; do
    others=()
    for s in "${order[@]}"; do [ "$s" = "$store" ] || others+=(${PROCS[$s]}); done
    # shellcheck disable=SC2086
    own=$(pids_of ${PROCS[$store]}); idle=$(pids_of "${others[@]}")
    table=lg_eval_$stamp
    for l in $LOADERS; do
        say "$store: load, $l loader(s)"
        run_lg "$OUT/load-$store-$l" scripts/suite/load.lua -e STORE="$store" -e LOADERS="$l" -e NAME="$table" \
            -e SERVER_PIDS="$own" -e OTHER_PIDS="$idle"
    done
    # Cold: query.lua drops the OS page cache (root only; page_cache_dropped says whether it could) and clears
    # the store's own caches where it has an API, before each of the eight queries.
    say "$store: cold queries (caches dropped before each)"
    run_lg "$OUT/query-$store-cold" scripts/suite/query.lua -e STORE="$store" -e PHASE=cold -e NAME="$table" \
        -e ANSWERS="$OUT/answers-$store.json" -e ROTATE="$ROUND" -e SERVER_PIDS="$own" -e OTHER_PIDS="$idle"
    say "$store: hot queries ($SAMPLES rounds)"
    run_lg "$OUT/query-$store-hot" scripts/suite/query.lua -e STORE="$store" -e PHASE=hot -e NAME="$table" \
        -e SAMPLES="$SAMPLES" -e ROTATE="$ROUND" -e SERVER_PIDS="$own" -e OTHER_PIDS="$idle"
    # The table goes, so that the next store runs beside idle servers, not beside a full memstore.
    "$LG" run scripts/suite/drop.lua --quiet -e STORE="$store" -e NAME="$table" \
        --out "$OUT/drop-$store.json" > /dev/null 2>&1 || say "$store: dropping $table failed (left in place)"
done

say "validating the answers across ${order[*]}"
run_lg "$OUT/validate" scripts/suite/validate.lua -e ANSWERS="$OUT" -e STORES="${order[*]}"
cat "$OUT/validate.txt"
scripts/suite/summarize.sh "$OUT" > "$OUT/summary.md" || note_rc $?
"$LG" report "$OUT"/load-*.json "$OUT"/query-*.json --out "$OUT/report.html" > /dev/null || note_rc $?
cat "$OUT/summary.md"
say "done: $OUT (exit $worst)"
exit "$worst"
