#!/usr/bin/env bash
# Prints the Markdown summary of a store evaluation folder (scripts/suite/evaluate.sh), read from its
# result files and method.json only (never from the runs' printed text).
#   scripts/suite/summarize.sh results/runs/evaluation-<time> > summary.md
set -euo pipefail
dir=${1:?usage: summarize.sh EVALUATION_DIR}
m=$dir/method.json
[ -f "$m" ] || { echo "summarize: $m is missing" >&2; exit 2; }
stores=$(jq -r '.store_order | join(" ")' "$m")
queries="count_by_status errors_per_service latency_by_service top_slowest trace_lookup range_scan fulltext histogram"

r() { printf '%s' "$1" | awk '{ if ($1 == "null" || $1 == "") print "-"; else printf "%.*f", '"${2:-0}"', $1 }'; }

jq -r '"Store evaluation: \(.rows) events (\(.data_bytes) bytes of TSV, sha256 \(.data_sha256_16)…, seed \(.seed)) on \(.cores) cores; " +
  "store order \(.store_order | join(", ")); \(.hot_samples) hot rounds per query."' "$m"
echo
echo "## Load (timed until every row is queryable)"
echo
echo "| store | loaders | rows/s | MB/s | seconds | of which making rows queryable (s) | HDFS writes, summed (s) | disk bytes/row | server CPU s | CPU s per 1M rows | server peak RSS MiB | idle stores' CPU s | status |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
rows=$(jq .rows "$m")
for s in $stores; do
    for l in $(jq -r '.loaders[]' "$m"); do
        f=$dir/load-$s-$l.json
        [ -f "$f" ] || { echo "| $s | $l | (no result file) |||||||||||"; continue; }
        read -r rate mb secs fin hdfs disk cpu rss idle status < <(jq -r '[
            .metrics.load_rows_per_s.gauge.value, .metrics.load_mb_per_s.gauge.value, .metrics.load_s.gauge.value,
            ((.metrics.load_finish_ms.values.max // null) | if . then . / 1000 else null end),
            (.metrics["hdfs.write"] | if . then .count * .service_time.mean / 1000 else null end),
            .metrics.disk_bytes_per_row.gauge.value, .metrics.server_cpu_s.gauge.value,
            .metrics.server_rss_mib.values.max, .metrics.others_cpu_s.gauge.value, .status] | map(tostring) | join(" ")' "$f")
        per_m=$(awk -v c="$cpu" -v n="$rows" 'BEGIN { if (c == "null") print "null"; else print c / n * 1e6 }')
        echo "| $s | $l | $(r "$rate") | $(r "$mb" 1) | $(r "$secs" 1) | $(r "$fin" 2) | $(r "$hdfs" 2) | $(r "$disk" 1) | $(r "$cpu" 1) | $(r "$per_m" 1) | $(r "$rss") | $(r "$idle" 1) | $status |"
    done
done
echo
echo "## Queries (ms; one client, closed loop: service times)"
echo
printf '| query |'; for s in $stores; do printf ' %s cold | %s hot p50 | %s hot p95 | %s hot max |' "$s" "$s" "$s" "$s"; done; echo
printf '|---|'; for _ in $stores; do printf -- '---:|---:|---:|---:|'; done; echo
for q in $queries; do
    printf '| %s |' "$q"
    for s in $stores; do
        cold=$(jq -r --arg q "query_$q" '.metrics[$q].values.max // "null"' "$dir/query-$s-cold.json" 2>/dev/null || echo null)
        read -r p50 p95 mx < <(jq -r --arg q "query_$q" '.metrics[$q].values | [.p50, .p95, .max] | map(tostring) | join(" ")' \
            "$dir/query-$s-hot.json" 2>/dev/null || echo "null null null")
        printf ' %s | %s | %s | %s |' "$(r "$cold" 1)" "$(r "$p50" 1)" "$(r "$p95" 1)" "$(r "$mx" 1)"
    done
    echo
done
echo
echo "Server CPU per hot query (ms, all queries of the hot phase): $(for s in $stores; do
    f=$dir/query-$s-hot.json; [ -f "$f" ] || continue
    jq -r --arg s "$s" '"\($s) \((.metrics.server_cpu_s.gauge.value // 0) * 1000 / ([.metrics | to_entries[] | select(.key | startswith("query_") and (. != "query_rows")) | .value.count] | add) | . * 10 | round / 10)"' "$f"
done | paste -sd, - | sed 's/,/, /g')."
echo
echo "## Answers validated across the stores"
echo
v=$dir/validate.json
if [ -f "$v" ]; then
    jq -r '"Reference: the first store named; every other store compared query by query (events.lua has the tolerances). " +
      "\([.series_totals | to_entries[] | select(.key | startswith("checks{") and contains("check:same answer")) | select(.value.rate == 1)] | length) of " +
      "\([.series_totals | to_entries[] | select(.key | startswith("checks{") and contains("check:same answer"))] | length) comparisons equal; " +
      "differing: \([.series_totals | to_entries[] | select(.key | startswith("checks{") and contains("check:same answer")) | select(.value.rate != 1) | .key | capture("query:(?<q>[^,}]*)").q + " (" + capture("store:(?<s>[^,}]*)").s + ")"] | if length == 0 then "none" else join(", ") end)."' "$v"
else
    echo "No validate.json: the answers were not compared."
fi
