#!/usr/bin/env bash
# The project's GPU checks as one command on a machine with an NVIDIA GPU, from the repository root:
#
#   bash scripts/gpu_check.sh [stage ...]     (stages: tests bench determinism study study3 suite; default:
#                                             tests bench determinism study, about 10 minutes on one GPU)
#
# Such a machine has torch and Lightning but may lack the rest: this installs what is missing from the wheels
# in .wheels/ (`make gpu-wheels` downloads them here; the GPU machine needs no network), then the project
# itself (editable, no dependencies), then runs scripts/gpu_check.py, which writes $OUT/gpu_check.json and
# one log per stage ($OUT: where the results go, default gpu_check_out/). Without a GPU it is a dry run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OUT=${OUT:-gpu_check_out}
mkdir -p "$OUT"

have() { "$PYTHON" -c "import $1" 2>/dev/null; }
install() { "$PYTHON" -m pip install -q --no-index --find-links .wheels "$@"; }

if [ -d .wheels ]; then
    have hydra && have hydra_plugins.hydra_joblib_launcher || install hydra-core omegaconf hydra-joblib-launcher
    have pytest && have pytest_timeout || install pytest pytest-timeout
    # W&B is the default logger; its binary dependencies may not match this Python: then the checks that
    # need it fail and say so, and the others run
    have wandb || install wandb || echo "gpu_check: W&B could not be installed from .wheels"
fi
if ! have mnist1d.conf; then
    [ -d .wheels ] && install "setuptools>=77"
    "$PYTHON" -m pip install -q --no-index --no-deps --no-build-isolation -e .
fi
exec "$PYTHON" scripts/gpu_check.py --out "$OUT" "$@"
