#!/usr/bin/env bash
# Installs the Debian packages that building and testing Pouch need, quietly and only when
# something is missing (no `apt-get update` when everything is already there).
#   docker-registry  the CNCF distribution registry the end-to-end tests run on loopback
#   busybox-static   /bin/busybox, the test images' root filesystem
#   apache2-utils    htpasswd, for the basic-auth registry
#   pkg-config gcc libc6-dev  native parts of crates (zstd-sys, ring)
#   runc             the default OCI runtime
#   libseccomp-dev   seccomp for pouch-runc (our libcontainer runtime)
#   ca-certificates  TLS roots for cargo and registries
#   nftables         nft, which pouchd drives for NAT and published ports
#   iproute2 util-linux  ip, nsenter, losetup: the tests' outside hosts and loop filesystems
#   btrfs-progs      mkfs.btrfs for the disk quota tests (the kernel has btrfs quota)
#   python3          a UDP echo server in the published-port test
#   lxcfs            the FUSE filesystem behind --enableLxcfs (the tests run their own instance)
#   debootstrap      the Debian rootfs of the rich-container image (systemd, sshd)
#   openssh-client   ssh and ssh-keygen, to log in to a rich container
set -euo pipefail

need=(docker-registry busybox-static apache2-utils pkg-config ca-certificates gcc libc6-dev runc libseccomp-dev nftables iproute2 util-linux btrfs-progs python3 lxcfs debootstrap openssh-client)

missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "install-deps: missing ${missing[*]} and apt-get is not available: install them by hand" >&2
  exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: missing ${missing[*]}: run as root" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
