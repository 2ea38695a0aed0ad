#!/usr/bin/env bash
# Installs the Cortex-M firmware toolchain (host/firmware/, targets/firmware/) on Debian 12
# as root:
#
#   wabt                     wasm2c: runtime-scalar.wasm -> C (1.0.32 has no SIMD)
#   gcc-arm-none-eabi        the bare-metal compiler, plus arm-none-eabi-size
#   libnewlib-arm-none-eabi  libc (nano) and the rdimon semihosting specs
#   qemu-system-arm          runs the ELF on mps2-an500 (Cortex-M7) / mps2-an386 (Cortex-M4)
#
# --no-install-recommends keeps this to the small set (qemu's recommends pull GUI
# packages). Idempotent: when every tool is present nothing is fetched, and `apt-get
# update` runs at most once.
set -euo pipefail

say() { echo "setup-firmware: $*" >&2; }
# shellcheck source=scripts/apt-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/apt-lib.sh"

need=()
command -v wasm2c >/dev/null || need+=(wabt)
command -v arm-none-eabi-gcc >/dev/null || need+=(gcc-arm-none-eabi)
# newlib has no binary to probe for; its rdimon specs file is what the link needs.
ls /usr/lib/arm-none-eabi/newlib/rdimon.specs >/dev/null 2>&1 || need+=(libnewlib-arm-none-eabi)
command -v qemu-system-arm >/dev/null || need+=(qemu-system-arm)

apt_install_missing "wasm2c, arm-none-eabi-gcc, newlib and qemu-system-arm" "${need[@]}"
