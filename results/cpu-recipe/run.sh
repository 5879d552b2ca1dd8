#!/usr/bin/env bash
# Reproduce results/cpu-recipe/: the CPU recipe (SFT -> reward -> PPO on SmolLM2-135M-Instruct), the
# evaluations of base, SFT and PPO (12 general benchmarks, first 100 examples each; domain metrics)
# and the report. About 3.5 hours of one CPU core for the recipe and 2.5 for the evaluations; on a
# 2-core machine the evaluations of base and SFT run on core 1 while training holds core 0.
# Run from the repository root. Steps whose output exists are skipped, so a rerun continues.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1
R=results/cpu-recipe
run() { # output, command...
  if [ -e "$1" ]; then echo "== $1 exists, skipped"; return; fi
  shift; echo "== $(date -u +%FT%TZ) $*"; "$@"
}
# This report's recipe: configs/{sft,reward,ppo}_cpu.yaml, the reward model on external pairs alone; each stage
# resumes from its last checkpoint. (scripts/recipe_cpu.sh is now the paper's path: a reward model on ranked samples.)
if [ ! -e runs/ppo_cpu/checkpoint ]; then
  bash scripts/setup.sh
  for stage in sft reward ppo; do
    echo "== $(date -u +%FT%TZ) icegrt train $stage --config configs/${stage}_cpu.yaml --threads 1"
    taskset -c 0 .venv/bin/icegrt train "$stage" --config "configs/${stage}_cpu.yaml" --threads 1
  done
fi
for m in base:SmolLM2-135M-Instruct sft:runs/sft_cpu/checkpoint ppo:runs/ppo_cpu/checkpoint; do
  run "$R/general_${m%%:*}.json" .venv/bin/icegrt eval general --model "${m#*:}" --limit 100 --enforce-eager \
    --output "$R/general_${m%%:*}.json"
done
for m in base:SmolLM2-135M-Instruct sft:runs/sft_cpu/checkpoint; do
  run "$R/domain_${m%%:*}.json" .venv/bin/icegrt eval domain --model "${m#*:}" --reward-model runs/reward_cpu/checkpoint \
    --ads-limit 30 --table-limit 100 --chat-limit 20 --enforce-eager --output "$R/domain_${m%%:*}.json"
done
run "$R/domain_ppo.json" .venv/bin/icegrt eval domain --model runs/ppo_cpu/checkpoint --reward-model runs/reward_cpu/checkpoint \
  --versus runs/sft_cpu/checkpoint --ads-limit 30 --table-limit 100 --chat-limit 20 --enforce-eager --output "$R/domain_ppo.json"
.venv/bin/icegrt eval report --name cpu-recipe \
  --checkpoint base=SmolLM2-135M-Instruct --checkpoint sft=runs/sft_cpu/checkpoint --checkpoint ppo=runs/ppo_cpu/checkpoint \
  --general-json base=$R/general_base.json --general-json sft=$R/general_sft.json --general-json ppo=$R/general_ppo.json \
  --domain-json base=$R/domain_base.json --domain-json sft=$R/domain_sft.json --domain-json ppo=$R/domain_ppo.json \
  --run runs/sft_cpu --run runs/reward_cpu --run runs/ppo_cpu
