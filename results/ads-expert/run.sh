#!/usr/bin/env bash
# Reproduce results/ads-expert/ (issue 15: the ad-policy expert): ICE-Instruct with compact ads on
# SmolLM2-135M-Instruct (configs/sft_cpu.yaml, LoRA rank 8), its evaluation on the generated test
# ads and the hand-written ones (plain and subtle, separately) against the base model and the rules
# alone, latency one ad at a time and throughput at 16 in flight, the report, and the shipped
# adapter (adapters/ICE-GRT-SmolLM2-135M, which `icegrt model prepare` and `make serve` build).
# Run from the repository root. Finished steps are skipped and training resumes, so a rerun continues.
set -euo pipefail
cd "$(dirname "$0")/../.."
export TOKENIZERS_PARALLELISM=false HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1
R=results/ads-expert
THREADS=${THREADS:-1}   # training threads: 1 beside other jobs, 2 on a quiet machine
run() { # output, command...
  if [ -e "$1" ]; then echo "== $1 exists, skipped"; return; fi
  shift; echo "== $(date -u +%FT%TZ) $*"; "$@"
}
bash scripts/setup.sh
echo "== $(date -u +%FT%TZ) icegrt train sft --config configs/sft_cpu.yaml --threads $THREADS"
.venv/bin/icegrt train sft --config configs/sft_cpu.yaml --threads "$THREADS"
SFT=runs/sft_cpu/checkpoint
# quality on every set, 16 checks in flight (its checks_per_s is the throughput at c=16)
run $R/eval_trained.json .venv/bin/icegrt eval ads --model $SFT --concurrency 16 --enforce-eager --output $R/eval_trained.json
run $R/eval_base.json .venv/bin/icegrt eval ads --model SmolLM2-135M-Instruct --enforce-eager --output $R/eval_base.json
# latency: hand-written ads one at a time (LATENCY_LIMIT ads of each hand-written set)
run $R/latency_trained.json .venv/bin/icegrt eval ads --model $SFT --sets handwritten_plain,handwritten_subtle \
  --limit "${LATENCY_LIMIT:-40}" --concurrency 1 --enforce-eager --output $R/latency_trained.json
.venv/bin/icegrt eval ads-report --eval trained=$R/eval_trained.json --eval base=$R/eval_base.json --output-dir $R
.venv/bin/icegrt train pack-adapter --run runs/sft_cpu --name ICE-GRT-SmolLM2-135M
# how well the shipped model tells violating from compliant ads at its verdict token (generated dev ads)
run $R/probe_dev.json .venv/bin/icegrt eval ads-probe --model ICE-GRT-SmolLM2-135M --output $R/probe_dev.json
