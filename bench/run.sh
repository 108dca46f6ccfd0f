#!/usr/bin/env bash
# Container benchmark: builds release binaries, then runs bench-run (`pouch run --rm busybox
# true` latency, time to start 50 detached containers, the engine's memory per container, and
# where pouchd's time goes on the run path; the same figures for Docker and Podman when they
# are usable here, each on private directories that are removed afterwards).
# Usage: bench/run.sh [--runs N] [--containers N]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/pouch-target}
scripts/install-deps.sh
cargo build --release -q -p pouchd -p pouch-cli -p pouch-shim -p pouch-init -p pouch-e2e --bins
export POUCH_BIN_DIR="$CARGO_TARGET_DIR/release"
exec "$POUCH_BIN_DIR/bench-run" "$@"
