#!/usr/bin/env bash
# Cold-pull benchmark: builds release binaries, then runs bench-pull (a local registry with a
# ~200 MB, 5-layer image of random data; N cold `pouch pull`s on fresh homes; the median and
# MB/s; the same for `docker pull` / `podman pull` when they are usable here).
# Usage: bench/pull.sh [--runs N] [--size-mb MB] [--layers L]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/pouch-target}
scripts/install-deps.sh
cargo build --release -q -p pouchd -p pouch-cli -p pouch-e2e --bins
export POUCH_BIN_DIR="$CARGO_TARGET_DIR/release"
exec "$POUCH_BIN_DIR/bench-pull" "$@"
