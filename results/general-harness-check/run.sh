#!/usr/bin/env bash
# Reproduce the harness check: icegrt eval general (vLLM backend) and lm-evaluation-harness 0.4.13
# (HF backend, the task YAMLs in lm_eval_tasks/, reading the same local files) on the same first
# examples of each task, SmolLM2-135M-Instruct in float32, then the comparison table and chart.
# Run from the repository root after `.venv/bin/pip install -e '.[harness-check]'`.
# LIMIT (default 20; AGIEval and GSM8K use LONG_LIMIT, default 5) sizes it for a shared CPU core.
set -euo pipefail
cd "$(dirname "$0")/../.."
export HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
LIMIT=${LIMIT:-20}
LONG_LIMIT=${LONG_LIMIT:-5}
MODEL=$(.venv/bin/python -c 'from common.models import build_model; print(build_model("SmolLM2-135M-Instruct"))')
OUT=results/general-harness-check/raw
SHORT=arc_easy,arc_challenge,piqa,boolq,winogrande,openbookqa,commonsense_qa,siqa,copa,lambada_openai
LONG=agieval_sat_en,gsm8k
lmeval() { # limit tasks name
  taskset -c 1 .venv/bin/python -m lm_eval --model hf --model_args "pretrained=$MODEL,dtype=float32" --device cpu \
    --batch_size 16 --include_path results/general-harness-check/lm_eval_tasks --limit "$1" \
    --tasks "$(echo "$2" | sed 's/[^,]*/ref_&/g')" --output_path "$OUT/lm_eval_$3" --log_samples
}
ours() { # limit tasks name
  taskset -c 1 .venv/bin/icegrt eval general --model SmolLM2-135M-Instruct --tasks "$2" --limit "$1" --enforce-eager \
    --output "$OUT/icegrt_vllm_$3.json" --samples "$OUT/icegrt_vllm_$3.samples.jsonl"
}
lmeval "$LIMIT" "$SHORT" short
lmeval "$LONG_LIMIT" "$LONG" long
ours "$LIMIT" "$SHORT" short
ours "$LONG_LIMIT" "$LONG" long
.venv/bin/python -m training.evaluate.general.harness_check --ours "$OUT"/icegrt_vllm_*.json \
  --ours-samples "$OUT"/icegrt_vllm_*.samples.jsonl --lm-eval "$OUT"/lm_eval_* --out results/general-harness-check
