#!/usr/bin/env bash
# Install what building and testing tprim needs, with apt-get, only where missing.
#   scripts/deps.sh          cmake, make, a C compiler
#   scripts/deps.sh --cross  also the AArch64 cross compiler and qemu-user (CI's NEON run)
#   scripts/deps.sh --all    everything CI uses (cross + pkg-config)
set -euo pipefail
want=(cmake make gcc)
case "${1:-}" in
  --cross) want+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user) ;;
  --all) want+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user pkg-config) ;;
  "") ;;
  *) echo "usage: $0 [--cross|--all]" >&2; exit 2 ;;
esac
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
