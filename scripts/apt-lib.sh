# Sourced by the setup scripts: install the Debian packages a script found missing,
# with one `apt-get update`, only when something is missing; needs root for that.
#   apt_install_missing "what is present" pkg...
# `say` (the caller's logger) must be defined.
apt_install_missing() {
  local present="$1"; shift
  if [ $# -eq 0 ]; then say "$present present"; return 0; fi
  if [ "$(id -u)" != 0 ]; then say "need root to install: $*"; exit 1; fi
  say "installing $*"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

# Debian splits venv/ensurepip out of python3: the package a venv needs, if missing.
python_venv_package() {
  if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then echo python3-venv; fi
}
