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

# The open-model sweep: per query and store, the steps' target rate, achieved rate and p99 (from the
# scheduled time); sustainable = the highest target rate with p99 <= the bound and no saturation.
if compgen -G "$dir/sweep-*.json" > /dev/null; then
    bound=$(jq -r '.sweep.bound_p99_ms // 1000' "$m")
    stop=$(jq -r '.sweep.stop_p99_ms // 10000' "$m")
    here=$(dirname "$0")
    echo
    echo "## Open-model sweep (queries/s; latency from the scheduled time)"
    echo
    echo "Sustainable: the highest rate whose p99 stayed under $bound ms without saturating (at most 2 % of the"
    echo "queries left unstarted, none failed, at least 80 % of the rate completed a second over the step and its drain)."
    echo "Steps: target rate -> p99 ms, '!' where the store saturated."
    echo
    printf '| query |'; for s in $stores; do printf ' %s sustainable | %s steps |' "$s" "$s"; done; echo
    printf '|---|'; for _ in $stores; do printf -- '---:|---|'; done; echo
    for q in $queries; do
        compgen -G "$dir/sweep-*-$q-*.json" > /dev/null || continue
        printf '| %s |' "$q"
        for s in $stores; do
            files=$(ls "$dir"/sweep-"$s"-"$q"-*.json 2>/dev/null || true)
            if [ -z "$files" ]; then printf ' - | - |'; continue; fi
            # shellcheck disable=SC2086
            jq -rs -L "$here" --argjson b "$bound" --argjson stop "$stop" 'include "sweep_step";
                map(sweep_step($stop) | {rate, p99, sat: .saturated}) | sort_by(.rate) |
                ([.[] | select((.sat | not) and .p99 != null and .p99 <= $b) | .rate] | max) as $ok |
                " \(if $ok then $ok else "< \(.[0].rate)" end) | \(map("\(.rate) -> \(.p99 // "-" | if type == "number" then (. * 10 | round / 10) else . end)\(if .sat then "!" else "" end)") | join(", ")) |"' \
                $files | tr -d '\n'
        done
        echo
    done
fi

if compgen -G "$dir/mixed-*.json" > /dev/null; then
    echo
    echo "## Mixed load (queries alone, then beside ingest; latency from the scheduled time, ms)"
    echo
    jq -r '.mixed | "\(.query_rate) queries/s for \(.seconds) s alone, then as long beside \(.ingest_rows_per_s) rows/s ingested in batches of \(.batch) rows (each batch queryable when its call returned)."' "$m"
    echo
    echo "| store | alone p50 | alone p99 | with ingest p50 | with ingest p99 | rows/s ingested | batch p50 | batch p99 | batches unstarted |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for s in $stores; do
        f=$dir/mixed-$s.json
        [ -f "$f" ] || continue
        jq -r --arg s "$s" '(.tags.seconds | tonumber) as $secs |
            def ser($sc): [.series_totals | to_entries[] | select((.key | startswith("mixed_latency_ms{"))
                and (.key | ltrimstr("mixed_latency_ms{") | rtrimstr("}") | split(",") | index("scenario:" + $sc)))] | .[0].value.values;
            def r1: if . == null then "-" else (. * 10 | round / 10 | tostring) end;
            (ser("alone")) as $a | (ser("with_ingest")) as $w |
            "| \($s) | \($a.p50 | r1) | \($a.p99 | r1) | \($w.p50 | r1) | \($w.p99 | r1) | \(((.metrics.rows_ingested.sum // 0) / $secs) | round) | \(.metrics.ingest_latency_ms.values.p50 | r1) | \(.metrics.ingest_latency_ms.values.p99 | r1) | \([.scenarios[] | select(.name == "ingest") | .unstarted_iterations] | add) |"' "$f"
    done
fi
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
