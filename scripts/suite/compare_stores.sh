#!/usr/bin/env bash
# The standard store comparison: the same ROWS events (seeded, so the same every time) loaded into
# Elasticsearch, Hive and HBase/Phoenix one after the other, then the same three queries against each;
# each store's result in results/runs/, then all three side by side with `loadgen compare`, and drawn
# with `loadgen report` (results/runs/store-comparison-<time>.html).
#   ROWS=100000 BATCH=5000 QUERIES=30 scripts/suite/compare_stores.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${ROWS:=100000}" "${BATCH:=5000}" "${QUERIES:=30}" "${SEED:=1}"
LG=${LOADGEN_BIN:-target/release/loadgen}
[ -x "$LG" ] || cargo build --release -q
scripts/stack up elasticsearch hdfs hbase phoenix hive
stamp=$(date -u +%Y%m%d%H%M%S)
data=${DATA:-/tmp/loadgen-events-$ROWS-$SEED.tsv}
if [ ! -s "$data" ]; then
    "$LG" run scripts/suite/make_events.lua --quiet --seed "$SEED" -e ROWS="$ROWS" -e OUT="$data" --out "/tmp/make-events-$stamp.json" >/dev/null
fi
mkdir -p results/runs
files=()
worst=0
for store in elasticsearch hive phoenix; do
    out=results/runs/store-$store-$stamp.json
    echo "== $store"
    rc=0
    "$LG" run scripts/suite/store_comparison.lua --quiet --seed "$SEED" --out "$out" \
        -e STORE="$store" -e DATA="$data" -e BATCH="$BATCH" -e QUERIES="$QUERIES" -e NAME="lg_cmp_$stamp" \
        > "results/runs/store-$store-$stamp.txt" || rc=$?
    [ "$rc" -gt "$worst" ] && worst=$rc
    grep -E "rows in|^load_batch|^query_|^load_rows_per_s|FAIL|error" "results/runs/store-$store-$stamp.txt" || true
    files+=("$out")
done
echo
echo "== side by side (A = elasticsearch, B = hive, C = phoenix; the first is the baseline)"
"$LG" compare "${files[@]}"
"$LG" report "${files[@]}" --out "results/runs/store-comparison-$stamp.html"
exit "$worst"
