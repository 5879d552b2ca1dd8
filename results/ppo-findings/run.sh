#!/usr/bin/env bash
# Reproduce results/ppo-findings/ (issues 15 and 16): ICE-GRT (PPO) that leaves the ad verdict alone
# (configs/ppo_domain_findings_cpu.yaml: the ad reward is the quality of a flagging reply's findings
# and fixes, a reply that flags nothing abstains; E2E prompts are paid their cell F1), from the shipped
# ICE-Instruct model ICE-GRT-SmolLM2-135M, then both models on every ad set through the ads endpoint's
# evaluation, paired per ad (ads-report: report.md, ads.png), and on the same first TABLE_LIMIT E2E test
# examples, paired per example, with the training curves (eval report: paired/). Run from the
# repository root. Training resumes from its last checkpoint and finished evaluations are kept, so a
# rerun continues.
set -euo pipefail
cd "$(dirname "$0")/../.."
export TOKENIZERS_PARALLELISM=false HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1
R=results/ppo-findings
THREADS=${THREADS:-2}   # training threads: 1 beside other jobs, 2 on a quiet machine
run() { # output, command...
  if [ -e "$1" ]; then echo "== $1 exists, skipped"; return; fi
  shift; echo "== $(date -u +%FT%TZ) $*"; "$@"
}
bash scripts/setup.sh
echo "== $(date -u +%FT%TZ) icegrt train ppo --config configs/ppo_domain_findings_cpu.yaml --threads $THREADS"
.venv/bin/icegrt train ppo --config configs/ppo_domain_findings_cpu.yaml --threads "$THREADS"
PPO=runs/ppo_domain_findings_cpu/checkpoint SFT=ICE-GRT-SmolLM2-135M
# ads: the endpoint's default (auto) on every ad set, 16 checks in flight, greedy
for m in sft:$SFT ppo:$PPO; do
  run $R/eval_${m%%:*}.json .venv/bin/icegrt eval ads --model "${m#*:}" --concurrency 16 --enforce-eager \
    --output $R/eval_${m%%:*}.json
done
.venv/bin/icegrt eval ads-report --eval ppo=$R/eval_ppo.json --eval sft=$R/eval_sft.json --output-dir $R
# tables: both models on the same first TABLE_LIMIT E2E test examples, paired per example
for m in sft:$SFT ppo:$PPO; do
  run $R/domain_${m%%:*}.json .venv/bin/icegrt eval domain --model "${m#*:}" --tasks table \
    --table-limit "${TABLE_LIMIT:-400}" --concurrency 16 --enforce-eager --output $R/domain_${m%%:*}.json
done
.venv/bin/icegrt eval report --name paired --results-dir $R --checkpoint sft=$SFT --checkpoint ppo=$PPO \
  --domain-json sft=$R/domain_sft.json --domain-json ppo=$R/domain_ppo.json --run runs/ppo_domain_findings_cpu --compare ppo:sft
