#!/usr/bin/env bash
# The side-by-side comparison (loadtests/compare.py) on a GPU machine, in one command of
# about 10 minutes all told:
#
#     loadtests/gpu_compare.sh [more loadtests.compare options, e.g. --no-enforce-eager]
#
# 1. sets up .venv with the `gpu` extra (ICEGRT_ENGINE=gpu ./scripts/setup.sh); where the
#    machine reaches no package index, put the wheels in ./.whl first and they are used;
# 2. runs icegrt serve, plain vLLM and the transformers baseline in turn on
#    SmolLM2-135M-Instruct in bfloat16, streaming and long-prompt scenarios at
#    concurrency 1, 16 and 64, each run capped at 15 s (a slow server shows it in its
#    completed count and latencies, not by running over);
# 3. writes loadtests/results/<UTC time>-gpu/ beside the CPU results, and copies the
#    files to $OUT when that is set.
#
# --enforce-eager keeps each vLLM start to well under a minute (no torch.compile or CUDA
# graph capture); it slows decoding of both vLLM servers alike, not the baseline's.
# compare.py is given what is left of BUDGET_S (default 570 s) after set-up and stopped
# with SIGINT at the end of it: it stops its server, and results.json keeps every run
# that finished.
set -euo pipefail
cd "$(dirname "$0")/.."

BUDGET_S="${BUDGET_S:-570}"
started=$(date +%s)
elapsed() { echo $(( $(date +%s) - started )); }

nvidia-smi -L || { echo "gpu_compare: no GPU visible (nvidia-smi -L failed)" >&2; exit 2; }
if [ -d .whl ]; then
  export PIP_FIND_LINKS="$PWD/.whl" PIP_NO_INDEX=1
fi
ICEGRT_ENGINE=gpu ./scripts/setup.sh
.venv/bin/python -c "import torch, vllm; assert torch.cuda.is_available(), 'torch sees no GPU'; \
print('gpu_compare: vllm', vllm.__version__, 'torch', torch.__version__, torch.cuda.get_device_name(0))"
echo "gpu_compare: set-up took $(elapsed) s"

left=$(( BUDGET_S - $(elapsed) ))
if [ "$left" -lt 240 ]; then
  echo "gpu_compare: only $left s left after set-up; not enough for the comparison" >&2
  exit 3
fi
name="$(date -u +%Y%m%d-%H%M%S)-gpu"
results="loadtests/results/$name"
status=0
PYTHONUNBUFFERED=1 timeout --signal=INT --kill-after=45 "$(( left - 50 ))" \
  .venv/bin/python -m loadtests.compare --name "$name" --model SmolLM2-135M-Instruct \
    --servers icegrt vllm hf --scenarios streaming long_prompt \
    --concurrency 1 16 64 --num-prompts 128 --max-tokens 128 --max-duration 15 --long-prompt-words 900 \
    --max-model-len 2048 --dtype bfloat16 --gpu-memory-utilization 0.3 --enforce-eager --start-timeout 150 \
    "$@" || status=$?
if [ -f "$results/results.json" ]; then
  .venv/bin/python -m loadtests.report "$results"  # again, in case the time limit cut compare.py short
  if [ -n "${OUT:-}" ]; then
    cp "$results"/results.json "$results"/results.md "$results"/*.log "$OUT"/
    cp "$results"/*.png "$OUT"/ 2>/dev/null || true
  fi
fi
echo "gpu_compare: finished in $(elapsed) s with status $status; results in $results"
exit "$status"
