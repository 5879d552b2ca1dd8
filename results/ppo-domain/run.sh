#!/usr/bin/env bash
# Reproduce results/ppo-domain/ (issues 15 and 16): ICE-GRT (PPO) on both domain rewards, ad
# compliance (the compact reply's grounded policy F1 and its fixes' revision score) and text to table
# (cell F1), from the shipped ICE-Instruct checkpoint (configs/ppo_domain_cpu.yaml), then the ads
# endpoint's evaluation of PPO and its SFT start on every ad set, paired per ad (ads-report), and both
# checkpoints' domain metrics on the same examples (the first TABLE_LIMIT E2E test examples, every ad
# set), paired per example (eval report). Run from the repository root. Training resumes from its last
# checkpoint and finished evaluations are kept, so a rerun continues.
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
PPO=runs/ppo_domain_cpu/checkpoint
# the endpoint's default (auto) on every ad set, 16 checks in flight, PPO and its SFT start by the same code
run $R/eval_ppo.json .venv/bin/icegrt eval ads --model $PPO --concurrency 16 --enforce-eager --output $R/eval_ppo.json
run $R/eval_sft.json .venv/bin/icegrt eval ads --model runs/sft_cpu/checkpoint --concurrency 16 --enforce-eager --output $R/eval_sft.json
.venv/bin/icegrt eval ads-report --eval ppo=$R/eval_ppo.json --eval sft=$R/eval_sft.json --output-dir $R
.venv/bin/icegrt eval report --name paired --results-dir $R --checkpoint sft=runs/sft_cpu/checkpoint \
  --checkpoint ppo=$PPO --run runs/ppo_domain_cpu --compare ppo:sft \
  --run-domain --table-limit "${TABLE_LIMIT:-400}" --concurrency 16 --enforce-eager
