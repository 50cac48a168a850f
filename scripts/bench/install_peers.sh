#!/usr/bin/env bash
# Installs the peers of scripts/bench/http_cost.sh and engine_cost.sh, each through its own registry's
# ordinary client, under a shared hold of the measurement lock (installs are heavy, not measurements):
#   wrk, nginx, jq, GNU time     Debian packages
#   oha 1.16.0                   cargo install oha --locked  (-> ~/.cargo/bin/oha)
#   vegeta v12.13.0              go install  (-> ~/go/bin/vegeta)
#   Locust                       a venv in $PEERS_DIR/locust-venv (pip install locust)
#   Goose                        scripts/bench/goose (its own workspace, Cargo.lock committed), built
#                                with CARGO_TARGET_DIR=$PEERS_DIR/goose-target -> $PEERS_DIR/bin/goose-bench
#
#   scripts/bench/install_peers.sh            # all
#   scripts/bench/install_peers.sh oha goose  # some
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERS_DIR="${PEERS_DIR:-/opt/loadgen-bench}"
LOCK="${BENCH_LOCK:-/tmp/loadgen-bench.lock}"
WHAT="${*:-debian oha vegeta locust goose}"
shared() { flock -s "$LOCK" nice -n 10 "$@"; }
mkdir -p "$PEERS_DIR/bin"
for w in $WHAT; do
    case "$w" in
        debian)
            if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null || ! command -v jq >/dev/null || [ ! -x /usr/bin/time ]; then
                apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk nginx jq time >/dev/null
            fi ;;
        oha)
            command -v oha >/dev/null || [ -x "$HOME/.cargo/bin/oha" ] ||
                CARGO_TARGET_DIR="$PEERS_DIR/oha-target" shared cargo install oha --version 1.16.0 --locked ;;
        vegeta)
            command -v vegeta >/dev/null || [ -x "$HOME/go/bin/vegeta" ] ||
                shared go install github.com/tsenart/vegeta/v12@v12.13.0 ;;
        locust)
            [ -x "$PEERS_DIR/locust-venv/bin/locust" ] || {
                python3 -m venv "$PEERS_DIR/locust-venv"
                shared "$PEERS_DIR/locust-venv/bin/pip" install -q "locust==${LOCUST_VERSION:-2.47.0}"
            } ;;
        goose)
            (cd "$HERE/goose" && CARGO_TARGET_DIR="$PEERS_DIR/goose-target" shared cargo build --release --locked)
            cp "$PEERS_DIR/goose-target/release/goose-bench" "$PEERS_DIR/bin/goose-bench" ;;
        *) echo "unknown peer '$w' (debian oha vegeta locust goose)" >&2; exit 2 ;;
    esac
done
