#!/usr/bin/env bash
# Quick start: install system packages, build, start pouchd, get busybox and run a container
# with pouch and (when the docker CLI is installed) with `docker run` against pouchd.
# Run as root on Debian 12 / Ubuntu. Without internet the image comes from busybox-static;
# with internet `pouch pull busybox` works as well.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/pouch-target}

need=(busybox-static pkg-config gcc ca-certificates runc libseccomp-dev)
missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "quickstart: cargo not found: install Rust (rustup) first" >&2; exit 1; }

cargo build --release -q -p pouchd -p pouch-cli -p pouch-shim -p pouch-init
bin=$CARGO_TARGET_DIR/release
# A pouchd already running keeps its old binaries: stop it (its containers keep running and
# the new pouchd reconnects to them).
if pgrep -f '^pouchd( |$)' >/dev/null; then
  echo "restarting the running pouchd with the new build"
  pkill -TERM -f '^pouchd( |$)' || true
  for _ in $(seq 1 100); do pgrep -f '^pouchd( |$)' >/dev/null || break; sleep 0.1; done
fi
# pouchd finds pouch-shim and pouch-init next to itself.
install -m 0755 "$bin/pouchd" "$bin/pouch" "$bin/pouch-shim" "$bin/pouch-init" /usr/local/bin/

sock=/var/run/pouchd.sock
if ! pouch -H "unix://$sock" version >/dev/null 2>&1; then
  mkdir -p /var/log
  nohup pouchd >/var/log/pouchd.log 2>&1 &
  for _ in $(seq 1 100); do [ -S "$sock" ] && pouch version >/dev/null 2>&1 && break; sleep 0.1; done
fi
pouch version

if ! pouch pull busybox 2>/dev/null; then
  echo "no registry reachable: importing busybox from busybox-static instead"
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  tar -C "$root" -cf "$root.tar" .
  pouch import -c 'CMD ["sh"]' "$root.tar" busybox:latest
  rm -rf "$root" "$root.tar"
fi
pouch images
pouch run --rm busybox echo hello
if command -v docker >/dev/null; then
  DOCKER_HOST=unix://$sock docker run --rm busybox echo hello from docker
fi
