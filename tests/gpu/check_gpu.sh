#!/usr/bin/env bash
# The GPU check (issue 15): a random ~100M-parameter Llama, built offline, trained with
# prefdata's default recipe on a learnable synthetic set. Fails unless the parameters
# move, held-out preference accuracy passes 0.9 and evaluate and audit run on the GPU.
# Prints throughput and peak GPU memory. Budget: under 8 minutes on one GPU.
#   bash tests/gpu/check_gpu.sh            # needs CUDA
#   bash tests/gpu/check_gpu.sh --smoke    # the same logic on CPU, tiny model
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec timeout 480 "$PYTHON" tests/gpu/check_gpu.py "$@"
