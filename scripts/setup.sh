#!/usr/bin/env bash
# Installs everything backproplab needs on a fresh Debian machine (run as root, or with sudo):
#   - the Debian package dataset-fashion-mnist (official IDX files in /usr/share/datasets/fashion-mnist)
#   - with --test: Debian's chromium and Persian fonts (fonts-farsiweb, fonts-noto-core), for the browser tests
#   - a virtualenv in .venv with the pinned packages of requirements.txt and backproplab itself (editable)
# Idempotent: a second run only checks. Prints what it does, since a first install takes a minute or two.
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0
[ "${1:-}" = "--test" ] && want_test=1
say() { echo "setup: $*" >&2; }

apt_packages=()
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || apt_packages+=(dataset-fashion-mnist)
if [ "$want_test" = 1 ]; then
  command -v chromium >/dev/null || apt_packages+=(chromium)
  [ -d /usr/share/fonts/truetype/farsiweb ] || apt_packages+=(fonts-farsiweb)
  [ -d /usr/share/fonts/truetype/noto ] || apt_packages+=(fonts-noto-core)
fi
if [ "${#apt_packages[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    say "installing Debian packages: ${apt_packages[*]} (apt-get update first)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_packages[@]}" >/dev/null
  else
    say "no apt-get: install ${apt_packages[*]} yourself; for the data, point BACKPROPLAB_FASHION_MNIST at a folder with the Fashion-MNIST IDX files"
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  say "making the virtual environment .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.backproplab-installed
if [ ! -f "$stamp" ] || [ requirements.txt -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing the pinned packages of requirements.txt into .venv (NumPy, SciPy, matplotlib, PyTorch CPU, ...): about a minute"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
  say "installing backproplab itself (editable)"
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
  touch "$stamp"
fi
say "ready"
