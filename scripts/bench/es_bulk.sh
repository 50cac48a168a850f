#!/usr/bin/env bash
# Elasticsearch bulk indexing: Elastic's Rally (esrally), a plain curl bulk loop and loadgen, one after the
# other against the stack's Elasticsearch, each on a fresh index with the same settings and mappings
# (scripts/bench/rally-track/index.json: 1 shard, 0 replicas), the same DOCS documents, BULK documents a
# request and CLIENTS clients. Prints a Markdown table.
#   DOCS=1000000 BULK=5000 CLIENTS=4 PEERS="rally curl" scripts/bench/es_bulk.sh
#
# The documents are written once per run, before any measurement, by loadgen's own generator
# (gen.json_event(), es_bulk.lua MODE=gen) into Rally's corpus file documents.json (one document a line).
# The bulk bodies for curl and loadgen are cut from that file with the action line Rally itself puts before
# every document ({"index": {"_index": "loadgen-bench-es"}}), so all three send the same bytes.
#
# Every timed run holds /tmp/loadgen-bench.lock (flock; shared with the other peer benchmarks) through
# scripts/bench/measure.sh; generation and installs happen outside it.
#
# Rally runs through scripts/bench/rally_run.py: the stack's Elasticsearch (integ-test-zip) has no
# rest-root module, so GET / answers 405, and Rally's synchronous client refuses to go on after that
# product check (see rally_run.py). Rally is installed with pip into RALLY_VENV (outside the repository).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh
: "${DOCS:=1000000}" "${BULK:=5000}" "${CLIENTS:=4}" "${PEERS:=rally curl}"
: "${RALLY_VENV:=$HOME/.cache/loadgen/bench/rally-venv}" "${RALLY_VERSION:=2.13.0}"
: "${BENCH_LOCK:=/tmp/loadgen-bench.lock}"
ES=http://127.0.0.1:9200
INDEX=loadgen-bench-es
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/loadgen-es-bulk.XXXXXX)}
LOADGEN_BIN=${LOADGEN_BIN:-target/release/loadgen}
[ -x "$LOADGEN_BIN" ] || bench_die "$LOADGEN_BIN not built: cargo build --release"
[ $((DOCS % BULK)) = 0 ] || bench_die "DOCS must be a multiple of BULK"
FILES=$((DOCS / BULK))
[ $((FILES % CLIENTS)) = 0 ] || bench_die "DOCS / BULK must be a multiple of CLIENTS"
bench_need jq
bench_need ss iproute2
scripts/stack up elasticsearch >/dev/null
ES_PID=$(ss -ltnpH 'sport = :9200' | sed -nE 's/.*pid=([0-9]+).*/\1/p' | head -1)
[ -n "$ES_PID" ] || bench_die "no process listens on 127.0.0.1:9200"

# --- setup, outside the lock ------------------------------------------------------------------------
case " $PEERS " in *" rally "*)
    if ! "$RALLY_VENV/bin/esrally" --version 2>/dev/null | grep -q "$RALLY_VERSION"; then
        bench_log "installing esrally $RALLY_VERSION into $RALLY_VENV"
        python3 -m venv "$RALLY_VENV"
        nice -n 10 "$RALLY_VENV/bin/pip" install -q "esrally==$RALLY_VERSION" >"$OUT_DIR/pip.log" 2>&1 ||
            { tail -5 "$OUT_DIR/pip.log" >&2; bench_die "pip install esrally failed"; }
    fi ;;
esac
TRACK=$OUT_DIR/rally-track
mkdir -p "$TRACK" "$OUT_DIR/bulk"
cp scripts/bench/rally-track/track.json scripts/bench/rally-track/index.json "$TRACK/"
bench_log "generating $DOCS documents with gen.json_event() into $TRACK/documents.json"
"$LOADGEN_BIN" run scripts/bench/es_bulk.lua --quiet --out "$OUT_DIR/gen.json" \
    -e MODE=gen -e DOCS="$DOCS" -e BULK="$BULK" -e OUT="$TRACK/documents.json" >"$OUT_DIR/gen.stdout"
[ "$(wc -l <"$TRACK/documents.json")" = "$DOCS" ] || bench_die "documents.json does not have $DOCS lines"
BYTES=$(stat -c %s "$TRACK/documents.json")
ACTION="{\"index\": {\"_index\": \"$INDEX\"}}"
awk -v a="$ACTION" -v b="$BULK" -v d="$OUT_DIR/bulk" '
    (NR - 1) % b == 0 { if (f) close(f); f = sprintf("%s/bulk-%05d.ndjson", d, (NR - 1) / b + 1) }
    { print a > f; print > f }' "$TRACK/documents.json"
BODY_BYTES=$(cat "$OUT_DIR"/bulk/*.ndjson | wc -c)

es_reset() {   # fresh index with the track's settings and mappings
    curl -sS -o /dev/null -XDELETE "$ES/$INDEX" || true
    curl -sS --fail -o /dev/null -XPUT "$ES/$INDEX" -H 'Content-Type: application/json' \
        --data-binary @scripts/bench/rally-track/index.json || bench_die "cannot create $INDEX"
    curl -sS --fail -o /dev/null "$ES/_cluster/health/$INDEX?wait_for_status=green&timeout=30s"
}
es_count() {
    curl -sS -o /dev/null -XPOST "$ES/$INDEX/_refresh"
    curl -sS "$ES/$INDEX/_count" | jq -r '.count // "n/a"'
}
measured() {   # measured NAME -- CMD...: one locked, timed run; sets BT_* and SERVER_CPU
    local name=$1
    shift 2
    bench_log "$name: waiting for $BENCH_LOCK"
    TREE="${TREE:-}" SERVER_PIDS="$ES_PID" flock "$BENCH_LOCK" scripts/bench/measure.sh "$name" "$OUT_DIR" -- "$@"
    read -r BT_WALL BT_USER BT_SYS _ <<<"$(tail -n 1 "$OUT_DIR/$name.time")"
    BT_RC=$(cat "$OUT_DIR/$name.rc")
    SERVER_CPU=$(cat "$OUT_DIR/$name.server_cpu")
    bench_log "$name: rc=$BT_RC wall=${BT_WALL}s"
}
declare -A RATE WALLRATE WALL CPU SCPU COUNT NOTE

# --- Rally --------------------------------------------------------------------------------------------
if [[ " $PEERS " == *" rally "* ]]; then
    curl -sS -o /dev/null -XDELETE "$ES/$INDEX" || true
    TREE=1 measured rally -- "$RALLY_VENV/bin/python" scripts/bench/rally_run.py race \
        --track-path="$TRACK" --pipeline=benchmark-only --target-hosts=127.0.0.1:9200 --offline \
        --distribution-version=8.19.21 --on-error=abort \
        --track-params="docs:$DOCS,bulk_size:$BULK,clients:$CLIENTS,bytes:$BYTES" \
        --report-file="$OUT_DIR/rally-report.md" --report-format=markdown
    [ "$BT_RC" = 0 ] || { tail -20 "$OUT_DIR/rally.stdout" >&2; bench_die "Rally failed (rc $BT_RC)"; }
    rally_metric() { awk -F'|' -v m="$1" '$2 ~ "^ *" m " *$" && $3 ~ /bulk/ { gsub(/ /, "", $4); print $4 }' "$OUT_DIR/rally-report.md"; }
    RATE[rally]=$(rally_metric "Mean Throughput")
    NOTE[rally]="mean $(bench_fmt "${RATE[rally]}" 0), median $(bench_fmt "$(rally_metric "Median Throughput")" 0); bulk p50 / p90 ms $(rally_metric "50th percentile latency") / $(rally_metric "90th percentile latency")"
    WALL[rally]=$BT_WALL
    WALLRATE[rally]=$(bench_calc 'a / b' "$DOCS" "$BT_WALL")
    CPU[rally]=$(cat "$OUT_DIR/rally.tree_cpu" 2>/dev/null || echo "")
    SCPU[rally]=$SERVER_CPU
    COUNT[rally]=$(es_count)
    curl -sS -o /dev/null -XDELETE "$ES/$INDEX" || true
    sleep 3
fi

# --- curl bulk loop -----------------------------------------------------------------------------------
if [[ " $PEERS " == *" curl "* ]]; then
    es_reset
    ls "$OUT_DIR"/bulk/*.ndjson >"$OUT_DIR/bulk.list"
    measured curl -- xargs -a "$OUT_DIR/bulk.list" -P "$CLIENTS" -I '{}' \
        curl -sS --fail -o /dev/null -H 'Content-Type: application/x-ndjson' --data-binary '@{}' "$ES/_bulk"
    WALL[curl]=$BT_WALL
    RATE[curl]=$(bench_calc 'a / b' "$DOCS" "$BT_WALL")
    WALLRATE[curl]=${RATE[curl]}
    CPU[curl]=$(bench_calc 'a + b' "$BT_USER" "$BT_SYS")
    SCPU[curl]=$SERVER_CPU
    COUNT[curl]=$(es_count)
    NOTE[curl]="$CLIENTS curl processes at a time (xargs -P), one per bulk file; rc $BT_RC"
    curl -sS -o /dev/null -XDELETE "$ES/$INDEX" || true
    sleep 3
fi

# --- loadgen ------------------------------------------------------------------------------------------
es_reset
measured loadgen -- "$LOADGEN_BIN" run scripts/bench/es_bulk.lua --quiet --out "$OUT_DIR/loadgen.json" \
    -e MODE=load -e DIR="$OUT_DIR/bulk" -e FILES="$FILES" -e VUS="$CLIENTS" -e INDEX="$INDEX"
res=$OUT_DIR/loadgen.json
RATE[loadgen]=$(jq -r '.metrics["es.bulk"].unit_throughput.docs' "$res")
WALL[loadgen]=$BT_WALL
WALLRATE[loadgen]=$(bench_calc 'a / b' "$DOCS" "$BT_WALL")
CPU[loadgen]=$(bench_calc 'a + b' "$BT_USER" "$BT_SYS")
SCPU[loadgen]=$SERVER_CPU
COUNT[loadgen]=$(es_count)
NOTE[loadgen]="$CLIENTS VUs, c:bulk(index, ndjson); es.bulk p50 / p90 ms $(bench_fmt "$(jq -r '.metrics["es.bulk"].latency.p50' "$res")" 0) / $(bench_fmt "$(jq -r '.metrics["es.bulk"].latency.p90' "$res")" 0), errors $(jq -r '.metrics["es.bulk"].error_count' "$res")"
curl -sS -o /dev/null -XDELETE "$ES/$INDEX" || true

# --- report -------------------------------------------------------------------------------------------
echo "## Elasticsearch bulk indexing: $DOCS documents, $BULK a request, $CLIENTS clients"
echo
echo "$(date -u +%FT%TZ), $(nproc) cores; Elasticsearch 8.19.21 (1 GiB heap) on this machine; index 1 shard, 0 replicas;"
echo "documents from gen.json_event(): $BYTES bytes ($(bench_calc 'a / b' "$BYTES" "$DOCS" | xargs printf '%.0f') a document), $BODY_BYTES bytes of bulk bodies"
echo
echo "| tool | docs/s (tool's own figure) | docs/s over process wall | wall s | tool CPU s | Elasticsearch CPU s | docs in index | notes |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
row() {
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$(bench_fmt "${RATE[$2]:-}" 0)" "$(bench_fmt "${WALLRATE[$2]:-}" 0)" \
        "$(bench_fmt "${WALL[$2]:-}" 1)" "$(bench_fmt "${CPU[$2]:-}" 1)" "$(bench_fmt "${SCPU[$2]:-}" 1)" "${COUNT[$2]:-}" "${NOTE[$2]:-}"
}
[ -n "${RATE[rally]:-}" ] && row "Rally $RALLY_VERSION (benchmark-only, offline)" rally
[ -n "${RATE[curl]:-}" ] && row "curl bulk loop ($(curl --version | awk 'NR == 1 {print $2}'))" curl
row "loadgen $("$LOADGEN_BIN" version | awk '{print $2}')" loadgen
echo
echo "Rally's figure is its bulk task's mean throughput (warm-up 0); its process wall includes its actor-system"
echo "start and the offset table it builds for documents.json, and its CPU is every process of the race"
echo "(sampled every 0.2 s). curl's figure is docs over its wall time; loadgen's is es.bulk docs over the load phase."
echo
[ -n "${RATE[rally]:-}" ] && awk -v a="${RATE[loadgen]}" -v b="${RATE[rally]}" 'BEGIN {printf "loadgen / Rally = %.2f (own figures)\n", a / b}'
[ -n "${RATE[curl]:-}" ] && awk -v a="${WALLRATE[loadgen]}" -v b="${RATE[curl]}" 'BEGIN {printf "loadgen / curl = %.2f (docs over process wall, both)\n", a / b}'
echo
echo "Commands (OUT_DIR=$OUT_DIR):"
echo
for t in rally curl loadgen; do
    # shellcheck disable=SC2016  # backquotes are Markdown
    [ -f "$OUT_DIR/$t.cmd" ] && printf -- '- %s: `flock %s scripts/bench/measure.sh %s ... -- %s`\n' "$t" "$BENCH_LOCK" "$t" "$(sed -E 's/^env LOADGEN_BENCH_TAG=[^ ]+ //; s/ *$//' "$OUT_DIR/$t.cmd")"
done
