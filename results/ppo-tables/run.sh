#!/usr/bin/env bash
# Reproduce results/ppo-tables/ (issue 16): ICE-GRT (PPO) on text to table alone, its reward the reply
# table's cell F1 (configs/ppo_tables_cpu.yaml), from the shipped ICE-Instruct checkpoint
# (runs/sft_cpu, results/ads-expert/run.sh makes it), then both checkpoints' domain metrics on the
# same examples (the first TABLE_LIMIT E2E test examples, every ad set) and the report pairing them
# per example (report.md, figures). Run from the repository root. Training resumes from its last
# checkpoint and evaluations are cached by model files and settings, so a rerun continues.
set -euo pipefail
cd "$(dirname "$0")/../.."
export TOKENIZERS_PARALLELISM=false HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1
THREADS=${THREADS:-2}   # training threads: 1 beside other jobs, 2 on a quiet machine
bash scripts/setup.sh
test -d runs/sft_cpu/checkpoint || { echo "runs/sft_cpu/checkpoint missing: run results/ads-expert/run.sh first" >&2; exit 1; }
echo "== $(date -u +%FT%TZ) icegrt train ppo --config configs/ppo_tables_cpu.yaml --threads $THREADS"
.venv/bin/icegrt train ppo --config configs/ppo_tables_cpu.yaml --threads "$THREADS"
echo "== $(date -u +%FT%TZ) icegrt eval report"
.venv/bin/icegrt eval report --name ppo-tables --checkpoint sft=runs/sft_cpu/checkpoint \
  --checkpoint ppo=runs/ppo_tables_cpu/checkpoint --run runs/ppo_tables_cpu --compare ppo:sft \
  --run-domain --table-limit "${TABLE_LIMIT:-400}" --concurrency 16 --enforce-eager
