#!/usr/bin/env bash
# Create .venv-trl beside the project's .venv: TRL's SFTTrainer and RewardTrainer for benchmarks/training/
# sft_vs_trl.py and rm_vs_trl.py.
# Idempotent: an existing venv that already has every pin is left as it is. Nothing of .venv changes.
#
#   benchmarks/training/setup_trl.sh            # then: .venv-trl/bin/python -c 'import trl'
#   TRL_VENV=... TRL_REQS=... benchmarks/training/setup_trl.sh   # another venv and pin set (setup_trl_ppo.sh)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VENV="${TRL_VENV:-$ROOT/.venv-trl}"
REQS="${TRL_REQS:-$ROOT/benchmarks/training/requirements-trl.txt}"
PYTHON="${PYTHON:-python3.11}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
fi
# torch first and alone, so that nothing else can pull a CUDA build in its place
if ! "$VENV/bin/python" -c 'import torch, sys; sys.exit(0 if torch.__version__ == "2.13.0+cpu" else 1)' 2>/dev/null; then
    "$VENV/bin/pip" install -q "torch==2.13.0"
fi
"$VENV/bin/pip" install -q -r "$REQS"
# PyPI's torchvision/torchaudio are CUDA builds that break transformers beside this torch (DESIGN.md section 5)
"$VENV/bin/pip" uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
"$VENV/bin/python" - <<'PY'
import torch, transformers, peft, trl
assert torch.__version__.startswith("2.13.0") and not torch.version.cuda, (torch.__version__, torch.version.cuda)
print(f"[setup_trl] torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}, "
      f"trl {trl.__version__}")
PY
