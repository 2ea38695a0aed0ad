#!/usr/bin/env bash
# Installs what the ONNX importer's tests need (test/onnx-*.test.ts), on Debian 12 as root:
#
#   libonnx-testdata   Debian's copy of the ONNX project's backend node tests
#                      (/usr/share/libonnx-testdata/data/node), for test/onnx-conformance.test.ts
#   onnx, onnxruntime  PyPI, in a venv at .cache/onnx-venv: onnx.helper builds the test
#                      models, onnxruntime computes their reference outputs and quantises
#                      the int8 QDQ ones (test/onnx/make_models.py)
#
#   --torch            also PyTorch (PyPI, ~3 GB with its CUDA libraries, which PyPI's
#                      Linux build requires) in .cache/torch-venv, for regenerating
#                      examples/torch/ (not needed by the tests: the exported model and
#                      PyTorch's predictions are committed)
#
# Idempotent: each part is skipped when already in place.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
ONNX_VERSION=1.17.0
ORT_VERSION=1.20.1
NUMPY_VERSION=1.26.4
TORCH_VERSION=2.5.1
VENV="$ROOT/.cache/onnx-venv"
TORCH_VENV="$ROOT/.cache/torch-venv"

say() { echo "setup-onnx: $*" >&2; }
# shellcheck source=scripts/apt-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/apt-lib.sh"

need=()
[ -d /usr/share/libonnx-testdata/data/node ] || need+=(libonnx-testdata)
need+=($(python_venv_package))
apt_install_missing "libonnx-testdata and python3 (with venv)" "${need[@]}"

has() { # venv, then "package==version" pairs
  local py="$1/bin/python"; shift
  [ -x "$py" ] || return 1
  "$py" - "$@" <<'PY' 2>/dev/null
import importlib.metadata as m, sys
sys.exit(any(m.version(p.split("==")[0]).split("+")[0] != p.split("==")[1] for p in sys.argv[1:]))
PY
}

# ensure_venv VENV WHAT "pkg==ver"...: install the pinned packages into VENV unless present.
ensure_venv() {
  local venv="$1" what="$2"; shift 2
  if has "$venv" "$@"; then
    say "$what present in $venv"
  else
    say "installing $* into $venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
    has "$venv" "$@" || { say "$what did not install correctly"; exit 1; }
  fi
}

PKGS=("onnx==$ONNX_VERSION" "onnxruntime==$ORT_VERSION" "numpy==$NUMPY_VERSION")
ensure_venv "$VENV" "onnx $ONNX_VERSION, onnxruntime $ORT_VERSION" "${PKGS[@]}"
if [ "${1:-}" = "--torch" ]; then
  ensure_venv "$TORCH_VENV" "torch $TORCH_VERSION (a large download)" "torch==$TORCH_VERSION" "${PKGS[@]}"
fi
say "ready"
