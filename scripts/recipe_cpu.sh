#!/usr/bin/env bash
# The whole CPU recipe on SmolLM2-135M-Instruct, the paper's path (issue 16): ICE-Instruct (SFT, compact
# ads in its mix) -> its own samples, k 4 per SFT prompt -> ranked by the task scorers -> ICE-Reward on
# those pairs beside dpo_en_demo -> ICE-GRT (PPO) -> evaluation of base, SFT and PPO -> report.
#
#   scripts/recipe_cpu.sh [TRAIN ARGS...]     TRAIN ARGS go to every training stage, e.g. --threads 1
#                                             on a machine shared with other jobs
#
# Stages, what each writes (RUNS: runs/recipe_cpu by default) and what a rerun does:
#   sft     RUNS/sft/: icegrt train sft --config configs/sft_cpu.yaml. Training stages run again every
#           time: an interrupted run resumes from its last checkpoint, a finished one reports itself
#           complete and trains nothing.
#   sample  RUNS/samples.jsonl: RUNS/sft/checkpoint's 4 replies (temperature 0.7) to each of 960 SFT prompts
#           (500 E2E tables, 400 compact ads, 60 GSM8K), as results/rm-ranked/run.sh. Skipped when the file
#           exists: icegrt sample writes it atomically once every prompt is done.
#   rank    RUNS/pairs_<task>.jsonl, then RUNS/pairs.jsonl (icegrt rank --by scorer --split-by-task RUNS).
#           Skipped when pairs.jsonl exists: it is written last.
#   reward  RUNS/reward/: icegrt train reward --config configs/reward_ranked_cpu.yaml, whose model and pairs
#           this script overrides (no second config): RUNS/sft/checkpoint, and RUNS/pairs_<task>.jsonl of
#           each task with pairs (a task whose replies all tied has none) beside dpo_en_demo. Reruns as sft.
#   ppo     RUNS/ppo/: icegrt train ppo --config configs/ppo_cpu.yaml from RUNS/sft/checkpoint with
#           RUNS/reward/checkpoint as reward model (and critic start). Reruns as sft.
#   eval    RESULTS/ (results/cpu-recipe-ranked by default): icegrt eval report --run-domain --run-general
#           writes general_<label>.json and domain_<label>.json of base, sft and ppo (ppo's with its chat win
#           rate over sft, judged by the reward model), then report.md, report.json and the PNGs. A rerun
#           keeps each JSON there that parses (delete one to redo it) and runs the missing ones. Every
#           evaluation it finishes is also kept in icegrt's evaluation cache (keyed by the model files and
#           settings, ICEGRT_EVAL_CACHE), so the base model is not evaluated again: not on a rerun, and its
#           general benchmarks not in any other report of the same GENERAL_LIMIT.
#
# A changed setting makes a training stage refuse to resume: use another RUNS, or delete the stage's run.
# Delete an output to redo its stage, and those after it. Each stage logs its UTC start and wall time.
# On this 2-core machine the training stages should take 2.5 to 3.7 hours, from each stage's times measured
# on its own beside other jobs (SFT 50 steps 35-70 min, sampling 41 min in results/rm-ranked, reward 60 steps
# with its evaluations 30-60 min, PPO 30 steps ~46 min in results/cpu-recipe); not yet timed as one run. The
# evaluations at issue 16's sizes take many hours more.
#
# Environment: MODEL (SmolLM2-135M-Instruct: SFT's start and the report's base), RUNS, RESULTS (relative to
# the repository root), PYTHON (.venv/bin/python after scripts/setup.sh; SETUP=0 skips the setup),
# SFT_ARGS / SAMPLE_ARGS / REWARD_ARGS / PPO_ARGS / EVAL_ARGS (more flags for one stage; they come last, so
# they override this script's), EVAL=0 (training stages only), evaluation sizes: GENERAL_LIMIT (500 per
# general benchmark, or the whole task where smaller), TABLE_LIMIT (300 E2E test examples), ADS_LIMIT and
# CHAT_LIMIT (empty: every ad of each ad set, every conversation of each chat set).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-SmolLM2-135M-Instruct}
RUNS=${RUNS:-runs/recipe_cpu}
RESULTS=${RESULTS:-results/cpu-recipe-ranked}
PYTHON=${PYTHON:-.venv/bin/python}
GENERAL_LIMIT=${GENERAL_LIMIT:-500}
TABLE_LIMIT=${TABLE_LIMIT:-300}
export TOKENIZERS_PARALLELISM=false HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1
if [ "${SETUP:-1}" = 1 ]; then bash scripts/setup.sh; fi
mkdir -p "$RUNS"

stage() { # name, icegrt arguments...
  local name=$1; shift
  echo "== $(date -u +%FT%TZ) $name: icegrt $*"
  SECONDS=0
  "$PYTHON" -m cli.main "$@"
  echo "== $(date -u +%FT%TZ) $name finished in ${SECONDS}s"
}

skipped() { # name, output: true (and says so) when the output exists
  if [ -e "$2" ]; then echo "== $(date -u +%FT%TZ) $1: $2 exists, skipped"; else return 1; fi
}

train=(--runs-dir "$RUNS" "$@")
SFT="$RUNS/sft/checkpoint"
REWARD="$RUNS/reward/checkpoint"

stage sft train sft --config configs/sft_cpu.yaml --name sft --model "$MODEL" "${train[@]}" ${SFT_ARGS:-}

skipped sample "$RUNS/samples.jsonl" || stage sample sample --model "$SFT" --output "$RUNS/samples.jsonl" \
  --prompt-source sft --prompt-mix e2e_text_to_table=500,ad_compliance_compact=400,gsm8k=60 --k 4 --temperature 0.7 \
  --max-tokens 192 --max-model-len 1024 --seed 0 ${SAMPLE_ARGS:-}

skipped rank "$RUNS/pairs.jsonl" || stage rank rank --by scorer --input "$RUNS/samples.jsonl" \
  --output "$RUNS/pairs.jsonl" --split-by-task "$RUNS"

shopt -s nullglob
pairs=("$RUNS"/pairs_*.jsonl dpo_en_demo)
shopt -u nullglob
stage reward train reward --config configs/reward_ranked_cpu.yaml --name reward --model "$SFT" --pairs "${pairs[@]}" \
  "${train[@]}" ${REWARD_ARGS:-}

stage ppo train ppo --config configs/ppo_cpu.yaml --name ppo --model "$SFT" --reward-model "$REWARD" "${train[@]}" \
  ${PPO_ARGS:-}

if [ "${EVAL:-1}" = 0 ]; then
  echo "== EVAL=0: evaluations and report skipped"
  exit 0
fi
report=(--name "$(basename "$RESULTS")" --results-dir "$(dirname "$RESULTS")"
        --checkpoint "base=$MODEL" --checkpoint "sft=$SFT" --checkpoint "ppo=$RUNS/ppo/checkpoint"
        --run "$RUNS/sft" --run "$RUNS/reward" --run "$RUNS/ppo"
        --run-domain --run-general --reward-model "$REWARD" --enforce-eager
        --general-limit "$GENERAL_LIMIT" --table-limit "$TABLE_LIMIT")
[ -z "${ADS_LIMIT:-}" ] || report+=(--ads-limit "$ADS_LIMIT")
[ -z "${CHAT_LIMIT:-}" ] || report+=(--chat-limit "$CHAT_LIMIT")
for label in base sft ppo; do
  for kind in general domain; do
    json="$RESULTS/${kind}_$label.json"
    if [ -e "$json" ] && "$PYTHON" -c 'import json, sys; json.load(open(sys.argv[1]))' "$json" 2>/dev/null; then
      echo "== $json exists, kept"
      report+=("--$kind-json" "$label=$json")
    elif [ -e "$json" ]; then
      echo "== $json is not whole JSON (an interrupted write): removed, evaluated again"
      rm -f "$json"
    fi
  done
done
stage eval eval report "${report[@]}" ${EVAL_ARGS:-}
