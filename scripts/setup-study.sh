#!/usr/bin/env bash
# Installs what the accuracy study (npm run study, bench/study.ts) needs beyond npm ci,
# on Debian 12 as root:
#
#   dataset-fashion-mnist   Debian's Fashion-MNIST (IDX files under /usr/share/datasets)
#   torch                   PyPI, in .cache/torch-venv, for the PyTorch float32 check
#                           (via scripts/setup-onnx.sh --torch; a large download)
#
# Idempotent: each part is skipped when already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "setup-study: $*" >&2; }
# shellcheck source=scripts/apt-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/apt-lib.sh"

need=()
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
apt_install_missing "dataset-fashion-mnist" "${need[@]}"
bash scripts/setup-onnx.sh --torch
say ready
