#!/usr/bin/env bash
# The project's test command (README, CI): system packages, format, lints, build, then every
# test tier (unit, root integration, end-to-end against real pouchd daemons and a real
# registry). Fails on the first failing step; the last lines give the test counts.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/pouch-target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

step() { printf '\n==> %s\n' "$*"; }

step "system packages"
scripts/install-deps.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo build (the binaries the end-to-end tests run)"
cargo build --workspace

step "cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

echo
echo "==> summary"
grep -E '^test .* \.\.\. FAILED$' "$log" | sed 's/^/failed: /' || true
grep -E '^SKIP ' "$log" | sort -u | sed 's/^/skipped: /' || true
awk '/^test result:/ {
       for (i = 1; i <= NF; i++) {
         if ($(i) ~ /^passed;?$/)  p += $(i-1);
         if ($(i) ~ /^failed;?$/)  f += $(i-1);
         if ($(i) ~ /^ignored;?$/) g += $(i-1);
       }
       n++
     }
     END { printf "test binaries: %d\ntotal: %d passed, %d failed, %d skipped\n", n, p, f, g }' "$log"
[ "$status" -eq 0 ] || echo "cargo test FAILED (exit $status)" >&2
exit "$status"
