#!/usr/bin/env bash
# The whole CPU recipe on SmolLM2-135M-Instruct: ICE-Instruct (SFT) -> ICE-Reward -> ICE-GRT (PPO).
# Extra arguments go to every stage, e.g. `--threads 1` on a machine shared with other jobs.
# Each stage resumes from its last checkpoint, so rerunning after an interruption continues the chain.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
for stage in sft reward ppo; do
  echo "== $(date -u +%FT%TZ) icegrt train $stage --config configs/${stage}_cpu.yaml $*"
  SECONDS=0
  .venv/bin/icegrt train "$stage" --config "configs/${stage}_cpu.yaml" "$@"
  echo "== $stage finished in ${SECONDS}s"
done
