#!/usr/bin/env bash
# Elasticsearch bulk indexing: Elastic's Rally (esrally), a plain curl bulk loop and loadgen against the
# stack's Elasticsearch, on the method of scripts/bench/harness.sh: ROUNDS rounds (at least 5), the tools
# rotated per round, /tmp/loadgen-bench.lock held for the whole script (document generation, index
# resets and counts included). Every run: a fresh index with the same settings and mappings
# (scripts/bench/rally-track/index.json: 1 shard, 0 replicas), the same DOCS documents, BULK documents a
# request, CLIENTS clients, the same bytes (below).
#   DOCS=1000000 BULK=5000 CLIENTS=4 TOOLS="rally curl loadgen" scripts/bench/es_bulk.sh
#
# The documents are written once, by loadgen's own generator (gen.json_event(), es_bulk.lua MODE=gen), into
# Rally's corpus file documents.json (one document a line). The bulk bodies for curl and loadgen are cut
# from that file with the action line Rally itself puts before every document
# ({"index": {"_index": "loadgen-bench-es"}}), so all three send the same bytes.
#
# One rate for all three: docs/s over the window in which Elasticsearch indexed them, from its first
# document to its DOCS-th, as scripts/bench/es_index_window.py samples the index's indexing count every
# 50 ms during every run (each tool's start-up and its last answer's way back are outside it). Beside it,
# each tool's own figure (Rally's mean bulk throughput, loadgen's es.bulk docs over its load phase, curl's
# docs over its wall time) and docs over the process's wall time. Recorded per run (rounds.tsv): those
# rates, MiB/s of bulk bodies over the window, the tool's CPU and Elasticsearch's CPU per 1M documents,
# bulk latency p50/p90 where the tool reports it, errors, the documents in the index afterwards; and per
# round the ratios loadgen / Rally and loadgen / curl.
#
# Rally runs through scripts/bench/rally_run.py: the stack's Elasticsearch (integ-test-zip) has no
# rest-root module, so GET / answers 405, and Rally's synchronous client refuses to go on after that
# product check (see rally_run.py). Rally is installed with pip into RALLY_VENV (outside the repository)
# before the lock is taken, under a shared hold of it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bench/harness.sh
source scripts/bench/harness.sh
: "${DOCS:=1000000}" "${BULK:=5000}" "${CLIENTS:=4}" "${TOOLS:=rally curl loadgen}"
: "${RALLY_VENV:=$HOME/.cache/loadgen/bench/rally-venv}" "${RALLY_VERSION:=2.13.0}"
ES=http://127.0.0.1:9200
INDEX=loadgen-bench-es
LOADGEN_BIN=${LOADGEN_BIN:-target/release/loadgen}
[ -x "$LOADGEN_BIN" ] || bench_die "$LOADGEN_BIN not built: cargo build --release"
[ $((DOCS % BULK)) = 0 ] || bench_die "DOCS must be a multiple of BULK"
FILES=$((DOCS / BULK))
[ $((FILES % CLIENTS)) = 0 ] || bench_die "DOCS / BULK must be a multiple of CLIENTS"
bench_need jq
bench_need ss iproute2
case " $TOOLS " in *" rally "*)
    if ! "$RALLY_VENV/bin/esrally" --version 2>/dev/null | grep -q "$RALLY_VERSION"; then
        bench_log "installing esrally $RALLY_VERSION into $RALLY_VENV (shared hold of the bench lock)"
        flock -s "${BENCH_LOCK:-/tmp/loadgen-bench.lock}" bash -c "python3 -m venv '$RALLY_VENV' &&
            nice -n 10 '$RALLY_VENV/bin/pip' install -q 'esrally==$RALLY_VERSION'" ||
            bench_die "pip install esrally failed"
    fi ;;
esac
BENCH_COMMAND="DOCS=$DOCS BULK=$BULK CLIENTS=$CLIENTS TOOLS='$TOOLS' LOADGEN_BIN=$LOADGEN_BIN scripts/bench/es_bulk.sh"

bench_begin es_bulk

scripts/stack up elasticsearch >/dev/null
ES_PID=$(bench_pid_on 9200)
[ -n "$ES_PID" ] || bench_die "no process listens on 127.0.0.1:9200"
export SERVER_PIDS=$ES_PID

# --- setup (under the lock, not measured) ------------------------------------------------------------
WORK=$(mktemp -d /tmp/loadgen-bench-es.XXXXXX)   # the corpus and bulk bodies: not raw outputs
SAMPLER=""
cleanup() {
    [ -n "$SAMPLER" ] && bench_stop_pid "$SAMPLER" es_index_window
    rm -rf "$WORK"
}
trap cleanup EXIT
TRACK=$WORK/rally-track
mkdir -p "$TRACK" "$WORK/bulk"
cp scripts/bench/rally-track/track.json scripts/bench/rally-track/index.json "$TRACK/"
bench_log "generating $DOCS documents with gen.json_event() into $TRACK/documents.json"
"$LOADGEN_BIN" run scripts/bench/es_bulk.lua --quiet --out "$OUT_DIR/gen.json" \
    -e MODE=gen -e DOCS="$DOCS" -e BULK="$BULK" -e OUT="$TRACK/documents.json" >"$OUT_DIR/gen.stdout"
[ "$(wc -l <"$TRACK/documents.json")" = "$DOCS" ] || bench_die "documents.json does not have $DOCS lines"
BYTES=$(stat -c %s "$TRACK/documents.json")
ACTION="{\"index\": {\"_index\": \"$INDEX\"}}"
awk -v a="$ACTION" -v b="$BULK" -v d="$WORK/bulk" '
    (NR - 1) % b == 0 { if (f) close(f); f = sprintf("%s/bulk-%05d.ndjson", d, (NR - 1) / b + 1) }
    { print a > f; print > f }' "$TRACK/documents.json"
BODY_BYTES=$(cat "$WORK"/bulk/*.ndjson | wc -c)
ls "$WORK"/bulk/*.ndjson >"$WORK/bulk.list"
bench_meta tools "Rally $RALLY_VERSION (benchmark-only, offline, scripts/bench/rally_run.py), curl $(curl --version | awk 'NR == 1 {print $2}') (xargs -P $CLIENTS), loadgen $("$LOADGEN_BIN" version | awk '{print $2}') ($LOADGEN_BIN)"
bench_meta work "$DOCS documents from gen.json_event() ($BYTES bytes of documents, $BODY_BYTES bytes of bulk bodies), $BULK a bulk, $CLIENTS clients, a fresh index per run (1 shard, 0 replicas; Elasticsearch PID $ES_PID)"
bench_meta rates "docs_per_s_es: DOCS over Elasticsearch's indexing window (es_index_window.py, 50 ms samples); docs_per_s_own: Rally's mean bulk throughput, loadgen's es.bulk unit_throughput.docs, curl's DOCS / wall; docs_per_s_wall: DOCS / process wall"

es_delete() { curl -sS -o /dev/null -XDELETE "$ES/$INDEX" || true; }
es_reset() {   # fresh index with the track's settings and mappings
    es_delete
    curl -sS --fail -o /dev/null -XPUT "$ES/$INDEX" -H 'Content-Type: application/json' \
        --data-binary @scripts/bench/rally-track/index.json || bench_die "cannot create $INDEX"
    curl -sS --fail -o /dev/null "$ES/_cluster/health/$INDEX?wait_for_status=green&timeout=30s"
}
es_count() {
    curl -sS -o /dev/null -XPOST "$ES/$INDEX/_refresh"
    curl -sS "$ES/$INDEX/_count" | jq -r '.count // "n/a"'
}
window_s() {   # window_s FILE: seconds from the first indexed document to the DOCS-th (midpoints)
    awk -v n="$DOCS" '
        $2 < 0 { next }
        $2 == 0 { z = $1 }
        $2 > 0 && !s { s = (z ? (z + $1) / 2 : $1) }
        $2 > 0 && $2 < n { b = $1 }
        $2 >= n && !e { e = (b ? (b + $1) / 2 : $1) }
        END { if (s && e && e > s) printf "%.6f\n", (e - s) / 1e6 }' "$1"
}

for ((r = 1; r <= BENCH_ROUNDS; r++)); do
    for t in $(bench_order "$r" $TOOLS); do
        name=r$r-$t
        if [ "$t" = rally ]; then es_delete; else es_reset; fi   # Rally's track deletes and creates it
        python3 scripts/bench/es_index_window.py 127.0.0.1:9200 "$INDEX" "$DOCS" "$OUT_DIR/$name.window" &
        SAMPLER=$!
        own="" p50="" p90="" errors=""
        case $t in
            rally)
                TREE=1 scripts/bench/measure.sh "$name" "$OUT_DIR" -- "$RALLY_VENV/bin/python" scripts/bench/rally_run.py race \
                    --track-path="$TRACK" --pipeline=benchmark-only --target-hosts=127.0.0.1:9200 --offline \
                    --distribution-version=8.19.21 --on-error=abort \
                    --track-params="docs:$DOCS,bulk_size:$BULK,clients:$CLIENTS,bytes:$BYTES" \
                    --report-file="$OUT_DIR/$name.report.md" --report-format=markdown
                rally_metric() { awk -F'|' -v m="$1" '$2 ~ "^ *" m " *$" && $3 ~ /bulk/ { gsub(/ /, "", $4); print $4 }' "$OUT_DIR/$name.report.md"; }
                own=$(rally_metric "Mean Throughput") p50=$(rally_metric "50th percentile latency") p90=$(rally_metric "90th percentile latency")
                errors=$(rally_metric "error rate")
                cpu=$(cat "$OUT_DIR/$name.tree_cpu" 2>/dev/null || echo "")
                ;;
            curl)
                scripts/bench/measure.sh "$name" "$OUT_DIR" -- xargs -a "$WORK/bulk.list" -P "$CLIENTS" -I '{}' \
                    curl -sS --fail -o /dev/null -H 'Content-Type: application/x-ndjson' --data-binary '@{}' "$ES/_bulk"
                read -r wall _ <<<"$(tail -n 1 "$OUT_DIR/$name.time")"
                own=$(bench_calc 'a / b' "$DOCS" "$wall")
                errors=$(grep -c 'curl:' "$OUT_DIR/$name.stderr" || true)
                ;;
            loadgen)
                scripts/bench/measure.sh "$name" "$OUT_DIR" -- "$LOADGEN_BIN" run scripts/bench/es_bulk.lua --quiet \
                    --out "$OUT_DIR/$name.json" -e MODE=load -e DIR="$WORK/bulk" -e FILES="$FILES" -e VUS="$CLIENTS" -e INDEX="$INDEX"
                res=$OUT_DIR/$name.json
                own=$(jq -r '.metrics["es.bulk"].unit_throughput.docs' "$res")
                p50=$(jq -r '.metrics["es.bulk"].latency.p50' "$res") p90=$(jq -r '.metrics["es.bulk"].latency.p90' "$res")
                errors=$(jq -r '.metrics["es.bulk"].error_count' "$res")
                ;;
            *) bench_die "unknown tool '$t'" ;;
        esac
        sleep 0.2
        bench_stop_pid "$SAMPLER" es_index_window
        SAMPLER=""
        rc=$(cat "$OUT_DIR/$name.rc")
        [ "$rc" = 0 ] || { tail -20 "$OUT_DIR/$name.stdout" "$OUT_DIR/$name.stderr" >&2; bench_die "$name failed (rc $rc)"; }
        read -r wall user sys _ <<<"$(tail -n 1 "$OUT_DIR/$name.time")"
        [ "$t" = rally ] || cpu=$(bench_calc 'a + b' "$user" "$sys")
        win=$(window_s "$OUT_DIR/$name.window")
        count=$(es_count)
        es_delete
        bench_record bulk "$t" "$r" \
            docs_per_s_es "$(bench_calc 'a / b' "$DOCS" "$win")" \
            docs_per_s_own "$own" \
            docs_per_s_wall "$(bench_calc 'a / b' "$DOCS" "$wall")" \
            mib_per_s_es "$(bench_calc 'a / 1048576 / b' "$BODY_BYTES" "$win")" \
            bulk_p50_ms "$p50" bulk_p90_ms "$p90" \
            tool_cpu_s_per_1m "$(bench_calc 'a * 1e6 / b' "$cpu" "$DOCS")" \
            es_cpu_s_per_1m "$(bench_calc 'a * 1e6 / b' "$(cat "$OUT_DIR/$name.server_cpu")" "$DOCS")" \
            window_s "$win" wall_s "$wall" errors "$errors" docs_in_index "$count"
        bench_log "$name: window ${win}s, wall ${wall}s, $count docs in the index"
        sleep 3
    done
    for b in rally curl; do
        ra=$(awk -F'\t' -v r="$r" '$2 == "loadgen" && $3 == r && $4 == "docs_per_s_es" { print $5 }' "$OUT_DIR/rounds.tsv")
        rb=$(awk -F'\t' -v t="$b" -v r="$r" '$2 == t && $3 == r && $4 == "docs_per_s_es" { print $5 }' "$OUT_DIR/rounds.tsv")
        if [ -n "$ra" ] && [ -n "$rb" ]; then
            bench_record ratio "loadgen/$b" "$r" docs_per_s_es "$(bench_calc 'a / b' "$ra" "$rb")"
        fi
    done
done
bench_finish
