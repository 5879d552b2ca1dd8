#!/usr/bin/env bash
# A peer's client against `icegrt serve` (issue 17): lm-evaluation-harness 0.4.13's `local-completions`
# model scores ARC-Easy and PIQA over HTTP (lists of tokenized prompts, echo, prompt logprobs) against
# `icegrt serve SmolLM2-135M-Instruct`; then `icegrt eval general` scores the same examples in process.
# The comparison (training.evaluate.general.harness_check) puts them side by side per example.
# Run from the repository root. LIMIT (default 200) examples per task; the two engines run one after
# the other (two at once starve each other on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
export HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OPENAI_API_KEY=unused
R=results/lm-eval-local-completions
OUT=$R/raw
LIMIT=${LIMIT:-200}
PORT=${PORT:-8123}
mkdir -p "$OUT"
bash scripts/setup.sh
.venv/bin/pip install -q "lm_eval[api]==0.4.13"  # the harness-check extra, beside the pinned torch
MODEL=$(.venv/bin/python -c 'from common.models import build_model; print(build_model("SmolLM2-135M-Instruct"))')
DATA=$(mktemp -d)
.venv/bin/icegrt serve SmolLM2-135M-Instruct --port "$PORT" --enforce-eager --data-dir "$DATA" > "$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
until curl -sf "http://127.0.0.1:$PORT/ready" > /dev/null; do
  kill -0 $SERVER || { tail -20 "$OUT/server.log"; exit 1; }
  sleep 2
done
echo "== $(date -u +%FT%TZ) lm-eval local-completions against icegrt serve"
.venv/bin/python -m lm_eval --model local-completions \
  --model_args "model=SmolLM2-135M-Instruct,base_url=http://127.0.0.1:$PORT/v1/completions,tokenizer=$MODEL,tokenizer_backend=huggingface,tokenized_requests=True,num_concurrent=2,max_retries=1" --batch_size 8 \
  --include_path results/general-harness-check/lm_eval_tasks --tasks ref_arc_easy,ref_piqa --limit "$LIMIT" \
  --output_path "$OUT/lm_eval_local_completions" --log_samples
kill $SERVER; wait $SERVER || true
echo "== $(date -u +%FT%TZ) icegrt eval general, in process"
.venv/bin/icegrt eval general --model SmolLM2-135M-Instruct --tasks arc_easy,piqa --limit "$LIMIT" --enforce-eager \
  --output "$OUT/icegrt_vllm.json" --samples "$OUT/icegrt_vllm.samples.jsonl"
.venv/bin/python -m training.evaluate.general.harness_check --ours "$OUT/icegrt_vllm.json" \
  --ours-samples "$OUT/icegrt_vllm.samples.jsonl" --lm-eval "$OUT/lm_eval_local_completions" --out "$R" \
  --lm-eval-backend "local-completions via icegrt serve"
