#!/usr/bin/env bash
# Create .venv-trl-ppo: TRL 1.12.0, the newest release that still ships a PPO trainer
# (trl.experimental.ppo), beside the project's torch, for benchmarks/training/ppo_vs_trl.py.
# setup_trl.sh with another venv and pin file; idempotent; nothing of .venv or .venv-trl changes.
#
#   benchmarks/training/setup_trl_ppo.sh        # then: .venv-trl-ppo/bin/python -c 'import trl.experimental.ppo'
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
export TRL_VENV="${TRL_VENV:-$ROOT/.venv-trl-ppo}"
export TRL_REQS="$ROOT/benchmarks/training/requirements-trl-ppo.txt"
"$ROOT/benchmarks/training/setup_trl.sh"
"$TRL_VENV/bin/python" -c 'from trl.experimental.ppo import PPOConfig, PPOTrainer; print("[setup_trl_ppo] PPOTrainer importable")'
