#!/usr/bin/env bash
# Installs the Cortex-M firmware toolchain (host/firmware/, targets/firmware/) on Debian 12
# as root:
#
#   wabt                     wasm2c: runtime-scalar.wasm -> C (1.0.32 has no SIMD)
#   gcc-arm-none-eabi        the bare-metal compiler, plus arm-none-eabi-size
#   libnewlib-arm-none-eabi  libc (nano) and the rdimon semihosting specs
#   qemu-system-arm          runs the ELF on mps2-an500 (Cortex-M7) / mps2-an386 (Cortex-M4),
#                            and the C library's examples on netduinoplus2 / mps2-an505
#
# and for the C library's example boards (targets/clib/examples/, test/c-boards.test.ts):
#
#   gcc-riscv64-unknown-elf       RV32IMAC bare-metal compiler (37 MB download)
#   picolibc-riscv64-unknown-elf  its libc, every multilib (115 MB: the largest)
#   qemu-system-misc              qemu-system-riscv32: the virt board (46 MB)
#   gcc-aarch64-linux-gnu         aarch64 Linux cross compiler (~35 MB with gcc-12 and binutils)
#   libc6-dev-arm64-cross         its glibc headers and libraries, also qemu-aarch64's -L sysroot
#   qemu-user                     qemu-aarch64 (setup-engines.sh installs it too)
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
command -v riscv64-unknown-elf-gcc >/dev/null || need+=(gcc-riscv64-unknown-elf)
ls /usr/lib/picolibc/riscv64-unknown-elf/picolibc.specs >/dev/null 2>&1 || need+=(picolibc-riscv64-unknown-elf)
command -v qemu-system-riscv32 >/dev/null || need+=(qemu-system-misc)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
ls /usr/aarch64-linux-gnu/include/stdio.h >/dev/null 2>&1 || need+=(libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)

apt_install_missing "wasm2c, arm-none-eabi-gcc, newlib, qemu-system-arm, riscv64-unknown-elf-gcc, picolibc, qemu-system-riscv32, aarch64-linux-gnu-gcc and qemu-aarch64" "${need[@]}"
