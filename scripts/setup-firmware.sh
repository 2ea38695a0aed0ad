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

need=()
command -v wasm2c >/dev/null || need+=(wabt)
command -v arm-none-eabi-gcc >/dev/null || need+=(gcc-arm-none-eabi)
# newlib has no binary to probe for; its rdimon specs file is what the link needs.
ls /usr/lib/arm-none-eabi/newlib/rdimon.specs >/dev/null 2>&1 || need+=(libnewlib-arm-none-eabi)
command -v qemu-system-arm >/dev/null || need+=(qemu-system-arm)

if [ ${#need[@]} -eq 0 ]; then
  say "wasm2c, arm-none-eabi-gcc, newlib and qemu-system-arm present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then say "need root to install: ${need[*]}"; exit 1; fi
say "installing ${need[*]}"
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
say "firmware toolchain ready"
