#!/usr/bin/env bash
# Reproduce results/ppo-domain/ (issues 15 and 16): ICE-GRT (PPO) on both domain rewards, ad
# compliance (the compact reply gated on its ad-level verdict, then its policy F1 and revision) and text to table
# (cell F1), from the shipped ICE-Instruct checkpoint (configs/ppo_domain_cpu.yaml), then the ads
# endpoint's evaluation of PPO against its SFT start and the base model on every ad set, paired per
# ad (ads-report: report.md, ads.png), and both checkpoints' cell F1 on the same first TABLE_LIMIT E2E
# test examples, paired per example, with the training curves (eval report: paired/). Run from the
# repository root. Training resumes from its last checkpoint and finished evaluations are kept, so a
# rerun continues.
set -euo pipefail
cd "$(dirname "$0")/../.."
export TOKENIZERS_PARALLELISM=false HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1
R=results/ppo-domain
THREADS=${THREADS:-2}   # training threads: 1 beside other jobs, 2 on a quiet machine
run() { # output, command...
  if [ -e "$1" ]; then echo "== $1 exists, skipped"; return; fi
  shift; echo "== $(date -u +%FT%TZ) $*"; "$@"
}
bash scripts/setup.sh
test -d runs/sft_cpu/checkpoint || { echo "runs/sft_cpu/checkpoint missing: run results/ads-expert/run.sh first" >&2; exit 1; }
echo "== $(date -u +%FT%TZ) icegrt train ppo --config configs/ppo_domain_cpu.yaml --threads $THREADS"
.venv/bin/icegrt train ppo --config configs/ppo_domain_cpu.yaml --threads "$THREADS"
PPO=runs/ppo_domain_cpu/checkpoint SFT=runs/sft_cpu/checkpoint
# ads: the endpoint's default (auto) on every ad set, 16 checks in flight; SFT's evaluation is
# results/ads-expert's, made by the same evaluation code (greedy, the compact format)
run $R/eval_ppo.json .venv/bin/icegrt eval ads --model $PPO --concurrency 16 --enforce-eager --output $R/eval_ppo.json
.venv/bin/icegrt eval ads-report --eval ppo=$R/eval_ppo.json --eval sft=results/ads-expert/eval_trained.json \
  --eval base=results/ads-expert/eval_base.json --output-dir $R
# tables: both checkpoints on the same first TABLE_LIMIT E2E test examples, paired per example
for m in sft:$SFT ppo:$PPO; do
  run $R/domain_${m%%:*}.json .venv/bin/icegrt eval domain --model "${m#*:}" --tasks table \
    --table-limit "${TABLE_LIMIT:-400}" --concurrency 16 --enforce-eager --output $R/domain_${m%%:*}.json
done
.venv/bin/icegrt eval report --name paired --results-dir $R --checkpoint sft=$SFT --checkpoint ppo=$PPO \
  --domain-json sft=$R/domain_sft.json --domain-json ppo=$R/domain_ppo.json --run runs/ppo_domain_cpu --compare ppo:sft
