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
# Open-model sweep, per store and query class (sweep.lua): the rate starts at half what one client did
# in the hot phase (0.5 / hot p50) and doubles each step until the store saturates (over 2 % of the
# queries due left unstarted or under 90 % of them started, fewer than 80 % of the rate completed a second over the
# step and its drain, a failed query, or p99 over SWEEP_STOP_MS) or SWEEP_STEPS steps ran.
# SWEEP_S (seconds a step at least; 3), SWEEP_MIN (queries a step at least, within SWEEP_CAP_S; 6),
# SWEEP_CAP_S (8), SWEEP_STEPS (5), SWEEP_VUS (8), SWEEP_STOP_MS (10000), SWEEP_BOUND_MS (the p99 bound
# of "sustainable throughput"; 1000), SWEEP_QUERIES (default all eight; "" skips the sweep). The defaults
# keep the main job's evaluation within 20 minutes; the full run sets longer steps (docs/evaluation.md).
# Mixed load (mixed.lua): MIX_S (seconds alone, then as long with ingest; 10; 0 skips), MIX_QRATE
# (queries/s; 1), MIX_IRATE (rows/s ingested; 2000), MIX_BATCH (rows per ingest batch; 2000), MIX_QUERIES
# (the query mix; default the five a live dashboard runs: count_by_status top_slowest trace_lookup
# range_scan histogram).
# Writes OUT_DIR (default results/runs/evaluation-<time>/): one result file per load and query phase,
# answers-<store>.json, validate.json, summary.md (built from the result files) and report.html.
# Exit: 0; 99 when an answer differs or a check failed; any other failure's own code wins over 99.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${ROWS:=200000}" "${SAMPLES:=30}" "${LOADERS:=1 2 4}" "${SEED:=1}" "${STORES:=elasticsearch hive phoenix}"
: "${ROUND:=$(( $(date +%s) / 60 % 3 ))}"
: "${SWEEP_S:=3}" "${SWEEP_MIN:=6}" "${SWEEP_CAP_S:=8}" "${SWEEP_STEPS:=5}" "${SWEEP_VUS:=8}"
: "${SWEEP_STOP_MS:=10000}" "${SWEEP_BOUND_MS:=1000}"
: "${SWEEP_QUERIES=count_by_status errors_per_service latency_by_service top_slowest trace_lookup range_scan fulltext histogram}"
: "${MIX_S:=10}" "${MIX_QRATE:=1}" "${MIX_IRATE:=2000}" "${MIX_BATCH:=2000}"
: "${MIX_QUERIES:=count_by_status top_slowest trace_lookup range_scan histogram}"
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
    --arg sq "$SWEEP_QUERIES" --arg ss "$SWEEP_S" --arg sm "$SWEEP_MIN" --arg sc "$SWEEP_CAP_S" \
    --arg sn "$SWEEP_STEPS" --arg sv "$SWEEP_VUS" --arg st "$SWEEP_STOP_MS" --arg sb "$SWEEP_BOUND_MS" \
    --arg ms "$MIX_S" --arg mq "$MIX_QRATE" --arg mi "$MIX_IRATE" --arg mb "$MIX_BATCH" \
    '{rows: ($rows|tonumber), data_bytes: ($bytes|tonumber), data_sha256_16: $sha, seed: ($seed|tonumber),
      hot_samples: ($samples|tonumber), loaders: ($loaders|split(" ")|map(tonumber)), round: ($round|tonumber),
      store_order: ($order|split(" ")), cores: ($cores|tonumber),
      sweep: {queries: ($sq|split(" ")|map(select(. != ""))), min_seconds: ($ss|tonumber), min_queries: ($sm|tonumber),
              cap_seconds: ($sc|tonumber), max_steps: ($sn|tonumber), vus: ($sv|tonumber),
              stop_p99_ms: ($st|tonumber), bound_p99_ms: ($sb|tonumber)},
      mixed: {seconds: ($ms|tonumber), query_rate: ($mq|tonumber), ingest_rows_per_s: ($mi|tonumber),
              batch: ($mb|tonumber)}}' > "$OUT/method.json"
say "order: ${rotated[*]}; $ROWS rows ($(stat -c %s "$data") bytes), loaders: $LOADERS, hot samples: $SAMPLES"

sha16=$(jq -r .data_sha256_16 "$OUT/method.json")
# run_lg OUT_BASE SCRIPT ARGS...: loadgen run, its stdout kept beside its result file. Every result carries
# the run tags the evaluation page reads (loadgen report --evaluation): the suite, the data, the order;
# callers add phase, store and the phase's own.
run_lg() {
    local base=$1 script=$2 rc=0; shift 2
    "$LG" run "$script" --quiet --seed "$SEED" --out "$base.json" -e DATA="$data" -e CLK_TCK="$(getconf CLK_TCK)" \
        --tag suite=evaluation --tag rows="$ROWS" --tag seed="$SEED" --tag data_sha256="$sha16" \
        --tag round="$ROUND" --tag store_order="${rotated[*]}" \
        "$@" > "$base.txt" 2>&1 || rc=$?
    grep -E "rows by|MISMATCH|validation:|^error|script error|sent again|^(elasticsearch|hive|phoenix) [a-z_]+: | (connect|timeout|server|client|protocol): " "$base.txt" | head -20 || true
    note_rc "$rc"
    return 0
}

# The open-model sweep of one store (see the header): one result file per step, sweep-<store>-<query>-<k>.
sweep_store() {
    local store=$1 own=$2 idle=$3 table=$4 q p50 rate k secs base verdict
    for q in $SWEEP_QUERIES; do
        p50=$(jq -r --arg q "query_$q" '.metrics[$q].values.p50 // empty' "$OUT/query-$store-hot.json" 2>/dev/null || true)
        if [ -z "$p50" ]; then say "$store: $q: no hot p50, no sweep"; continue; fi
        rate=$(awk -v p="$p50" 'BEGIN { r = 500 / (p > 0.01 ? p : 0.01); e = 10 ^ (int(log(r) / log(10) + 100) - 101);
            r = int(r / e + 0.5) * e; if (r < 0.1) r = 0.1; print r }')
        for ((k = 1; k <= SWEEP_STEPS; k++)); do
            secs=$(awk -v r="$rate" -v s="$SWEEP_S" -v m="$SWEEP_MIN" -v c="$SWEEP_CAP_S" \
                'BEGIN { t = m / r; if (t < s) t = s; if (t > c) t = c; print int(t + 0.999) }')
            base=$OUT/sweep-$store-$q-$k
            run_lg "$base" scripts/suite/sweep.lua --tag phase=sweep --tag store="$store" --tag query="$q" \
                --tag rate="$rate" --tag seconds="$secs" --tag vus="$SWEEP_VUS" --tag bound_p99_ms="$SWEEP_BOUND_MS" \
                -e STORE="$store" -e NAME="$table" -e QUERY="$q" -e RATE="$rate" \
                -e SECONDS="$secs" -e VUS="$SWEEP_VUS" -e SERVER_PIDS="$own" -e OTHER_PIDS="$idle"
            verdict=$(jq -r -L scripts/suite --argjson stop "$SWEEP_STOP_MS" 'include "sweep_step";
                sweep_step($stop) | .why // "ok p99 \(.p99) ms"' "$base.json" 2>/dev/null || echo "failed (no result file)")
            say "$store: $q at $rate/s for ${secs}s: $verdict"
            case $verdict in ok*) ;; *) break ;; esac
            rate=$(awk -v r="$rate" 'BEGIN { print r * 2 }')
        done
    done
}

for store in "${rotated[@]}"; do
    others=()
    for s in "${order[@]}"; do [ "$s" = "$store" ] || others+=(${PROCS[$s]}); done
    # shellcheck disable=SC2086
    own=$(pids_of ${PROCS[$store]}); idle=$(pids_of "${others[@]}")
    table=lg_eval_$stamp
    for l in $LOADERS; do
        say "$store: load, $l loader(s)"
        run_lg "$OUT/load-$store-$l" scripts/suite/load.lua --tag phase=load --tag store="$store" --tag loaders="$l" \
            -e STORE="$store" -e LOADERS="$l" -e NAME="$table" \
            -e SERVER_PIDS="$own" -e OTHER_PIDS="$idle"
    done
    # Cold: query.lua drops the OS page cache (root only; page_cache_dropped says whether it could) and clears
    # the store's own caches where it has an API, before each of the eight queries.
    say "$store: cold queries (caches dropped before each)"
    run_lg "$OUT/query-$store-cold" scripts/suite/query.lua --tag phase=cold --tag store="$store" \
        -e STORE="$store" -e PHASE=cold -e NAME="$table" \
        -e ANSWERS="$OUT/answers-$store.json" -e ROTATE="$ROUND" -e SERVER_PIDS="$own" -e OTHER_PIDS="$idle"
    say "$store: hot queries ($SAMPLES rounds)"
    run_lg "$OUT/query-$store-hot" scripts/suite/query.lua --tag phase=hot --tag store="$store" \
        -e STORE="$store" -e PHASE=hot -e NAME="$table" \
        -e SAMPLES="$SAMPLES" -e ROTATE="$ROUND" -e SERVER_PIDS="$own" -e OTHER_PIDS="$idle"
    if [ -n "${SWEEP_QUERIES// /}" ]; then
        say "$store: open-model sweep (${SWEEP_QUERIES// /, })"
        sweep_store "$store" "$own" "$idle" "$table"
    fi
    if [ "$MIX_S" != 0 ]; then
        say "$store: mixed load (${MIX_QRATE} queries/s alone, then beside ${MIX_IRATE} rows/s of ingest; ${MIX_S}s each)"
        run_lg "$OUT/mixed-$store" scripts/suite/mixed.lua --tag phase=mixed --tag store="$store" \
            --tag query_rate="$MIX_QRATE" --tag ingest_rows_per_s="$MIX_IRATE" --tag batch="$MIX_BATCH" \
            --tag seconds="$MIX_S" --tag queries="$MIX_QUERIES" \
            -e STORE="$store" -e NAME="$table" -e QRATE="$MIX_QRATE" -e QUERIES="$MIX_QUERIES" \
            -e IRATE="$MIX_IRATE" -e BATCH="$MIX_BATCH" -e SECONDS="$MIX_S" -e SERVER_PIDS="$own" -e OTHER_PIDS="$idle"
    fi
    # The table goes, so that the next store runs beside idle servers, not beside a full memstore.
    "$LG" run scripts/suite/drop.lua --quiet -e STORE="$store" -e NAME="$table" \
        --out "$OUT/drop-$store.json" > /dev/null 2>&1 || say "$store: dropping $table failed (left in place)"
done

say "validating the answers across ${order[*]}"
run_lg "$OUT/validate" scripts/suite/validate.lua --tag phase=validate -e ANSWERS="$OUT" -e STORES="${order[*]}"
cat "$OUT/validate.txt"
scripts/suite/summarize.sh "$OUT" > "$OUT/summary.md" || note_rc $?
shopt -s nullglob
"$LG" report --evaluation "$OUT"/load-*.json "$OUT"/query-*.json "$OUT"/sweep-*.json "$OUT"/mixed-*.json \
    "$OUT"/validate.json --out "$OUT/report.html" > /dev/null || note_rc $?
shopt -u nullglob
cat "$OUT/summary.md"
say "done: $OUT (exit $worst)"
exit "$worst"
