#!/usr/bin/env bash
# The main job of the README: installs what is missing, then runs the MLP assignment labs
# (activations, init, optimizers, l2) on the real Fashion-MNIST and writes runs/all/index.md.
# Extra arguments go to `backproplab lab all` (e.g. --classes all, --quick, --num-epochs 5). The runs go to
# runs/all (runs/all-quick with --quick, so a quick run never blocks the full one); --out DIR chooses another.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/backproplab lab all "$@"
