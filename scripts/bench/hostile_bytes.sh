#!/usr/bin/env bash
# Hostile bytes, the long run (issue #16, item 3): every decoder's property tests with
# FUZZ_CASES generated cases each (default 1,000,000), release profile, one test at a time.
#
#   scripts/bench/hostile_bytes.sh                    # a million cases per property
#   FUZZ_CASES=200000 scripts/bench/hostile_bytes.sh  # fewer
#   ONLY='hive|phoenix' scripts/bench/hostile_bytes.sh
#   OUT_ROOT=/tmp/fuzz FUZZ_CASES=10000 scripts/bench/hostile_bytes.sh   # a trial, outside results/
#
# Writes results/fuzz/<UTC timestamp>/ once: raw.log (every test's own output) and summary.md
# (cases run and wall time per property, pass or fail). Nothing there is edited afterwards.
# The same tests run in `cargo test --lib` with LOADGEN_FUZZ_CASES unset (512 cases each).
#
# Build isolation: CARGO_TARGET_DIR and CARGO_BUILD_TARGET are honoured (set them to keep this
# build apart from another one). Only the features whose decoders are tested are built
# (hive, phoenix, elasticsearch; the rest of the decoders are in the core).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
CASES="${FUZZ_CASES:-1000000}"
ONLY="${ONLY:-.}"
FEATURES="${FEATURES:-hive,phoenix,elasticsearch}"
STAMP="$(date -u +%Y%m%d%H%M%S)"
OUT="${OUT_ROOT:-$REPO/results/fuzz}/$STAMP"
[ -e "$OUT" ] && { echo "$OUT exists" >&2; exit 1; }

# decoder <TAB> test path (proptest properties; es_search_and_count_answers runs two
# properties of FUZZ_CASES each).
TESTS="hive-thrift	bindings::hive::props::hive_thrift_arbitrary_bytes
hive-thrift	bindings::hive::props::hive_thrift_mutated_replies
hive-frames	bindings::hive::props::hive_frames_arbitrary_and_huge_lengths
phoenix-protobuf	bindings::phoenix::wire::props::phoenix_protobuf_arbitrary_bytes
phoenix-protobuf	bindings::phoenix::wire::props::phoenix_protobuf_mutated_responses
phoenix-json	bindings::phoenix::wire::props::phoenix_json_arbitrary_bytes
phoenix-json	bindings::phoenix::wire::props::phoenix_json_mutated_responses
phoenix-json	bindings::phoenix::wire::props::phoenix_json_reader_text
es-bulk	bindings::elasticsearch::props::es_bulk_arbitrary_bytes
es-bulk	bindings::elasticsearch::props::es_bulk_mutated_answers
es-search-count	bindings::elasticsearch::props::es_search_and_count_answers
results-read	results::props::results_arbitrary_bytes
results-read	results::props::results_mutated_file
results-read	results::props::results_mutated_histogram
options-build	plan::props::options_arbitrary_json
options-build	plan::props::options_mutated_text
thresholds	metrics::thresholds_props::thresholds_arbitrary_text
thresholds	metrics::thresholds_props::thresholds_mutated_text"

cargo_test() {
    local target=()
    [ -n "${CARGO_BUILD_TARGET:-}" ] && target=(--target "$CARGO_BUILD_TARGET")
    cargo test --release "${target[@]}" --lib --no-default-features --features "$FEATURES" "$@"
}

echo "building (release) ..." >&2
cargo_test --no-run >/dev/null 2>&1 || { cargo_test --no-run; exit 1; }

mkdir -p "$OUT"
RAW="$OUT/raw.log"
ROWS=""
TOTAL_START=$(date +%s.%N)
FAILED=0
while IFS=$'\t' read -r decoder test; do
    echo "$test" | grep -Eq "$ONLY" || continue
    echo "== $test ($CASES cases)" | tee -a "$RAW" >&2
    start=$(date +%s.%N)
    if LOADGEN_FUZZ_CASES="$CASES" cargo_test -- --exact "$test" --test-threads=1 >>"$RAW" 2>&1; then
        result=pass
    else
        result=FAIL
        FAILED=1
    fi
    wall=$(echo "$(date +%s.%N) - $start" | bc)
    cases="$CASES"
    [ "${test##*::}" = es_search_and_count_answers ] && cases="2 x $CASES"
    printf '   %s %ss\n' "$result" "$wall" | tee -a "$RAW" >&2
    ROWS="$ROWS| $decoder | \`${test##*::}\` | $cases | $(printf '%.1f' "$wall") | $result |
"
done <<<"$TESTS"
TOTAL=$(echo "$(date +%s.%N) - $TOTAL_START" | bc)

{
    echo "# Hostile bytes: $STAMP"
    echo
    echo "Commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' (with local changes in src/)'),"
    echo "\`LOADGEN_FUZZ_CASES=$CASES\`, release profile, features $FEATURES, one test at a time"
    echo "on $(nproc) cores. Cases per property are proptest's successful cases (a failure stops"
    echo "that property early: see raw.log). Wall time includes cargo's start (about a second)."
    echo
    echo "| decoder | property | cases | wall s | result |"
    echo "|---|---|---|---|---|"
    printf '%s' "$ROWS"
    echo
    echo "Total wall time: $(printf '%.0f' "$TOTAL") s."
} >"$OUT/summary.md"
cat "$OUT/summary.md"
exit "$FAILED"
