#!/usr/bin/env bash
# Smoke run of the whole GPU recipe (issue 19): STEPS (3) steps of every stage with configs/*_gpu.yaml,
# ICE-Instruct (SFT) -> sample + rank -> ICE-Reward -> ICE-GRT (PPO), and each stage's wall time.
#
#   scripts/recipe_gpu.sh [RUNS_DIR]          (default runs/recipe_gpu_smoke; the stages' runs go there)
#
# Environment: MODEL (SmolLM2-135M-Instruct), DEVICE (cuda), STEPS (3), PYTHON (.venv/bin/python after
# scripts/setup.sh; a GPU machine without network gives its own Python that has torch, transformers
# and peft, with SETUP=0), SFT_ARGS / REWARD_ARGS / PPO_ARGS (more flags for one stage, e.g. smaller
# batches for the CPU test). vLLM is optional: where the Python imports it, replies are sampled and
# ranked by the task scorers for the reward model and PPO rolls out through vLLM; where it does not,
# the sample and rank stages are skipped (the reward model trains on external pairs alone) and PPO
# rolls out through Hugging Face generate (VLLM=0 takes that path even where vLLM is importable). Every command is limited to 10 minutes. The times go to
# RUNS_DIR/stage_times.json: {"device" (with the card's name), "model", "steps", "vllm", "stages": {stage: seconds}}.
# On CPU with the tiny model (DEVICE=cpu MODEL=tiny STEPS=1) it is the test of this script.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-runs/recipe_gpu_smoke}
MODEL=${MODEL:-SmolLM2-135M-Instruct}
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-3}
PYTHON=${PYTHON:-.venv/bin/python}
export TOKENIZERS_PARALLELISM=false HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1
if [ "${SETUP:-1}" = 1 ]; then bash scripts/setup.sh; fi
mkdir -p "$RUNS"
TIMES="$RUNS/stage_times.tsv"
: > "$TIMES"

stage() { # name, icegrt arguments...
  local name=$1; shift
  echo "== $(date -u +%FT%TZ) $name: icegrt $*"
  SECONDS=0
  timeout 600 "$PYTHON" -m cli.main "$@"
  printf '%s\t%s\n' "$name" "$SECONDS" >> "$TIMES"
  echo "== $name finished in ${SECONDS}s"
}

common=(--runs-dir "$RUNS" --device "$DEVICE" --max-steps "$STEPS" --save-every "$STEPS" --overwrite)
stage sft train sft --config configs/sft_gpu.yaml --name sft --model "$MODEL" "${common[@]}" \
  --eval-every "$STEPS" --eval-examples 16 ${SFT_ARGS:-}
SFT="$RUNS/sft/checkpoint"

PAIRS=(dpo_en_demo)
ENGINE=hf
if [ "${VLLM:-1}" != 0 ] && "$PYTHON" -c "import vllm" 2>/dev/null; then
  VLLM=true
  ENGINE=vllm
  stage sample sample --model "$SFT" --prompt-mix gsm8k=8,e2e_text_to_table=8 --k 4 --max-tokens 128 \
    --output "$RUNS/samples.jsonl"
  stage rank rank --by scorer --input "$RUNS/samples.jsonl" --output "$RUNS/pairs.jsonl"
  if [ -s "$RUNS/pairs.jsonl" ]; then PAIRS+=("$RUNS/pairs.jsonl"); else echo "== no ranked pairs (every reply tied)"; fi
else
  VLLM=false
  echo "== without vLLM (VLLM=${VLLM:-1}, or $PYTHON cannot import it): sample and rank skipped, PPO rolls out with Hugging Face generate"
fi
stage reward train reward --config configs/reward_gpu.yaml --name reward --model "$SFT" --pairs "${PAIRS[@]}" \
  "${common[@]}" --eval-every "$STEPS" ${REWARD_ARGS:-}
stage ppo train ppo --config configs/ppo_gpu.yaml --name ppo --model "$SFT" --reward-model "$RUNS/reward/checkpoint" \
  --rollout-engine "$ENGINE" "${common[@]}" --eval-every "$STEPS" ${PPO_ARGS:-}

"$PYTHON" - "$TIMES" "$RUNS/stage_times.json" "$DEVICE" "$MODEL" "$STEPS" "$VLLM" <<'EOF'
import json, sys
times, out, device, model, steps, vllm = sys.argv[1:]
stages = {name: int(seconds) for name, seconds in (line.split("\t") for line in open(times).read().splitlines())}
if device.startswith("cuda"):
    import torch
    device = f"{device} ({torch.cuda.get_device_name(0)})"
json.dump({"device": device, "model": model, "steps": int(steps), "vllm": vllm == "true", "stages": stages},
          open(out, "w"), indent=2)
print(json.dumps(stages))
EOF
