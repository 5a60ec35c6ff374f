#!/usr/bin/env bash
# The MobileNet study (plain CNN, MobileNet V1 and V2; widths and input sides; 30 epochs each on
# Fashion-MNIST at 32 px) on one GPU, in one command, from a bare copy of this repository.
#
#   scripts/gpu_study.sh --prepare                       # once, on a machine with the data: copy the four
#                                                        # Fashion-MNIST IDX files into data-cache/ (git-ignored)
#   scripts/gpu_study.sh --out "$OUT" --budget-seconds 540   # on the GPU machine (carry data-cache)
#   scripts/gpu_study.sh --device cpu --tiny --out /tmp/dry  # dry run: every phase on a CPU in about a minute
#
# Every other option goes to `python -m backproplab.torchmodels.study` (see --help there and
# docs/mobilenet.md). The data comes from data-cache/fashion-mnist when it is there, else from the
# loader's default folder. Wheels carried in .whl/ are installed first (the nvidia-h200 image needs
# none: it has torch, numpy, scipy, matplotlib, tqdm). Output: study.json, study.md,
# accuracy_vs_macs.png and log.txt in --out (default runs/gpu-study).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--prepare" ]]; then
    src=${BACKPROPLAB_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
    mkdir -p data-cache/fashion-mnist
    cp "$src"/*-ubyte.gz data-cache/fashion-mnist/
    ls -l data-cache/fashion-mnist
    exit 0
fi

# the repository's virtual environment where there is one (here), else the machine's python3 (the GPU image's)
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
if compgen -G ".whl/*.whl" > /dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1

out=runs/gpu-study
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
        --out) out=${args[i + 1]:-$out} ;;
        --out=*) out=${args[i]#--out=} ;;
    esac
done
data=()
if [[ -d data-cache/fashion-mnist ]]; then
    data=(--data-dir data-cache/fashion-mnist)
fi
mkdir -p "$out"
{
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv,noheader 2>/dev/null || true
    "$PYTHON" -m backproplab.torchmodels.study ${data[@]+"${data[@]}"} --out "$out" "$@"
} 2>&1 | tee -a "$out/log.txt"
