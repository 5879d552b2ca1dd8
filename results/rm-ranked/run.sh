#!/usr/bin/env bash
# Reproduce results/rm-ranked/: ICE-Reward trained the paper's way (issue 16, item 2). The ICE-Instruct
# model (ICE-GRT-SmolLM2-135M) samples 4 replies (temperature 0.7, as PPO) to each of 960 of its SFT
# prompts (500 E2E tables, 400 compact ads, 60 GSM8K), the task scorers rank them, and a reward model is
# trained on every pair the rankings imply beside the external dpo_en_demo pairs
# (configs/reward_ranked_cpu.yaml); the report gives held-out pairwise accuracy per source. Run from the
# repository root; steps whose output exists are skipped and training resumes, so a rerun continues.
# About 35 min of sampling and 30-45 of training on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
export TOKENIZERS_PARALLELISM=false HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1
R=results/rm-ranked D=runs/rm_ranked
mkdir -p "$D"
if [ ! -e "$D/samples.jsonl" ]; then
  .venv/bin/icegrt sample --model ICE-GRT-SmolLM2-135M --output "$D/samples.jsonl" --prompt-source sft \
    --prompt-mix e2e_text_to_table=500,ad_compliance_compact=400,gsm8k=60 --k 4 --temperature 0.7 \
    --max-tokens 192 --max-model-len 1024 --seed 0
fi
# --split-by-task: also pairs_<task>.jsonl per task (configs/reward_ranked_cpu.yaml names them), written before pairs.jsonl
[ -e "$D/pairs.jsonl" ] || .venv/bin/icegrt rank --by scorer --input "$D/samples.jsonl" --output "$D/pairs.jsonl" \
  --split-by-task "$D"
.venv/bin/icegrt train reward --config configs/reward_ranked_cpu.yaml
.venv/bin/python "$R/report.py" runs/reward_ranked_cpu "$D/samples.jsonl" > "$R/report.md"
cat "$R/report.md"
