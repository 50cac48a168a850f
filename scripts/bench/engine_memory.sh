#!/usr/bin/env bash
# The engine's memory under an open model (scripts/bench/engine_memory.lua) for two loadgen binaries,
# BEFORE and AFTER, alternated over ROUNDS rounds under the benchmark lock. Writes each run's result
# and printed summary to OUT_DIR and rss.tsv: per run, the resident memory after 5 s and at the end.
#   BEFORE=/path/old-loadgen AFTER=target/release/loadgen RATE=6000 DURATION=30s TRENDS=0 scripts/bench/engine_memory.sh OUT_DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh
: "${BEFORE:?path of the first loadgen}" "${AFTER:=target/release/loadgen}" "${ROUNDS:=3}" "${RATE:=6000}" "${DURATION:=30s}" "${TRENDS:=0}"
OUT_DIR=${1:?output folder}
bench_need jq
mkdir -p "$OUT_DIR"
bench_hold_lock
printf 'round\tbinary\trss_5s_mib\trss_end_mib\tgrowth_mib_per_s\titerations\n' >"$OUT_DIR/rss.tsv"
for ((r = 1; r <= ROUNDS; r++)); do
    order=(before after)
    ((r % 2 == 0)) && order=(after before)
    for which in "${order[@]}"; do
        bin=$BEFORE
        [ "$which" = after ] && bin=$AFTER
        out="$OUT_DIR/$which-$r"
        "$bin" run scripts/bench/engine_memory.lua --quiet -e "RATE=$RATE" -e "DURATION=$DURATION" -e "TRENDS=$TRENDS" --out "$out.json" >"$out.txt" 2>&1
        jq -r --arg r "$r" --arg w "$which" '
          [.series[] | select(.metrics.rss_mib.max != null) | .metrics.rss_mib.max] as $s
          | [$r, $w, ($s[5] | . * 10 | round / 10), ($s[-1] | . * 10 | round / 10),
             ((($s[-1] - $s[5]) / (($s | length) - 6)) | . * 100 | round / 100),
             (.scenarios[] | select(.name == "open") | .iterations)] | @tsv' "$out.json" >>"$OUT_DIR/rss.tsv"
    done
done
column -t -s $'\t' "$OUT_DIR/rss.tsv"
