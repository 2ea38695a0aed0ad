#!/usr/bin/env bash
# Installs the extra engines tinytrain trains on (host/engines/), on Debian 12 as root:
#
#   wasmtime   the PyPI package `wasmtime`, in a venv at .cache/wasmtime-venv (Debian's
#              python3 is "externally managed": pip may not install into it directly)
#   arm64      qemu-user (qemu-aarch64) + Debian's arm64 nodejs unpacked into a sysroot
#              at .cache/arm64-node/sysroot (apt-get download with separate apt lists;
#              no dpkg architecture is added, nothing arm64 is installed system-wide)
#
# 'node' and 'node-wasi' need nothing beyond Node 20. Idempotent: each part is skipped
# when already in place, so a second run is fast and downloads nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
WASMTIME_VERSION=50.0.1
VENV="$ROOT/.cache/wasmtime-venv"
ARM64="$ROOT/.cache/arm64-node"
SYSROOT="$ARM64/sysroot"
ARM64_PACKAGES="nodejs libnode108 libbrotli1 libc-ares2 libicu72 libnghttp2-14 libssl3 libuv1 zlib1g
  node-acorn node-cjs-module-lexer node-undici libc6 libstdc++6 libgcc-s1"
ARM64_MARKER="$SYSROOT/.tinytrain-complete"

say() { echo "setup-engines: $*" >&2; }
# shellcheck source=scripts/apt-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/apt-lib.sh"

# --- Debian packages: at most one `apt-get update`, only when something is missing ---
need=()
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v python3 >/dev/null || need+=(python3)
need+=($(python_venv_package))
apt_install_missing "qemu-aarch64 and python3 (with venv)" "${need[@]}"

# --- wasmtime (PyPI) in a venv ---
has_wasmtime() {
  [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c \
    "import importlib.metadata as m, wasmtime, sys; sys.exit(m.version('wasmtime') != '$WASMTIME_VERSION')" 2>/dev/null
}
if has_wasmtime; then
  say "wasmtime $WASMTIME_VERSION present in $VENV"
else
  say "installing wasmtime $WASMTIME_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "wasmtime==$WASMTIME_VERSION"
  has_wasmtime || { say "wasmtime did not install correctly"; exit 1; }
fi

# --- Debian's arm64 node, unpacked into a sysroot for qemu-aarch64 -L ---
if [ -f "$ARM64_MARKER" ] && [ "$(cat "$ARM64_MARKER")" = "$(echo $ARM64_PACKAGES)" ]; then
  say "arm64 node sysroot present at $SYSROOT"
else
  say "fetching Debian arm64 node into $SYSROOT"
  mkdir -p "$ARM64/lists/partial" "$ARM64/cache/archives/partial"
  # Own lists and cache dirs: the machine's apt state never sees arm64. Sandbox user
  # root: _apt cannot write into this tree, and apt would warn about it on every file.
  apt_arm64=(-oAPT::Architecture=arm64 -oAPT::Architectures=arm64
    "-oDir::State::Lists=$ARM64/lists" "-oDir::Cache=$ARM64/cache" -oAPT::Sandbox::User=root)
  apt-get "${apt_arm64[@]}" update
  rm -rf "$ARM64/debs" "$SYSROOT.tmp"
  mkdir -p "$ARM64/debs"
  # shellcheck disable=SC2086 # the package list is meant to split into words
  (cd "$ARM64/debs" && apt-get "${apt_arm64[@]}" download $ARM64_PACKAGES)
  for deb in "$ARM64"/debs/*.deb; do dpkg -x "$deb" "$SYSROOT.tmp"; done
  node_version=$(qemu-aarch64 -L "$SYSROOT.tmp" "$SYSROOT.tmp/usr/bin/node" --version)
  # The .debs, apt lists and cache are only needed to build the sysroot.
  rm -rf "$SYSROOT" "$ARM64/debs" "$ARM64/lists" "$ARM64/cache"
  mv "$SYSROOT.tmp" "$SYSROOT"
  echo $ARM64_PACKAGES > "$ARM64_MARKER"
  say "arm64 node $node_version ready"
fi

say "engines ready: node, node-wasi, wasmtime, arm64"
