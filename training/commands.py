"""``icegrt train sft|reward|ppo``: one subcommand per stage, every config field a flag.

Register with ``add_train_parser(subparsers)``. Each stage takes ``--config FILE`` (YAML) and
one ``--kebab-case`` flag per field of its config class (flags win over the file). Exit codes:
0 done, 1 the run diverged (its last good checkpoint is kept), 2 a configuration error found
before any work, 130 interrupted (rerun the same command to resume). Under ``torchrun`` every
rank runs the stage (:mod:`training.distributed`) and rank 0 alone prints the summary.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from common.config import add_settings_arguments
from training.config import RewardConfig, SFTConfig, TrainConfig, load_config
from training.distributed import teardown
from training.ppo.config import PPOConfig

STAGES: dict[str, tuple[type[TrainConfig], str, str]] = {
    "sft": (SFTConfig, "training.sft:run_sft", "Supervised fine-tuning (ICE-Instruct), loss on assistant tokens"),
    "reward": (RewardConfig, "training.reward:run_reward", "Reward model (ICE-Reward) on preference pairs"),
    "ppo": (PPOConfig, "training.ppo.trainer:run_ppo", "PPO (ICE-GRT): actor from SFT, critic, frozen reference, reward model and/or task reward"),
}


def add_train_parser(subparsers) -> None:
    """Add ``train`` with one sub-subcommand per stage to an argparse subparsers object."""
    parser = subparsers.add_parser("train", help="Train a stage: sft (ICE-Instruct), reward (ICE-Reward) or ppo (ICE-GRT)")
    stages = parser.add_subparsers(dest="train_stage", required=True)
    for name, (config_cls, _, help_text) in STAGES.items():
        stage = stages.add_parser(name, help=help_text, description=help_text)
        stage.add_argument("--config", type=Path, default=None, help="YAML file of settings; flags given here override it")
        add_settings_arguments(stage, config_cls)
        stage.set_defaults(handler=run_train_command, train_stage=name)
    from training.pack import add_pack_parser

    add_pack_parser(stages)


def run_train_command(args: argparse.Namespace) -> int:
    """Load the stage's config (file + flags), run it, and map failures to exit codes."""
    import importlib

    config_cls, target, _ = STAGES[args.train_stage]
    overrides = {k: v for k, v in vars(args).items() if k in config_cls.model_fields}
    main_rank = int(os.environ.get("RANK", "0")) == 0  # under torchrun, rank 0 alone reports
    logging.basicConfig(level=logging.INFO if main_rank else logging.WARNING, format="%(message)s")
    try:
        config = load_config(config_cls, args.config, overrides)
        module_name, function_name = target.split(":")
        run = getattr(importlib.import_module(module_name), function_name)
        summary = run(config)
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: rerun the same command to resume {args.train_stage} from its last checkpoint",
            file=sys.stderr,
        )
        return 130
    except Exception as exc:
        from training.loop import TrainingDiverged

        if isinstance(exc, TrainingDiverged):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise
    finally:
        teardown()
    if main_rank:
        print(json.dumps(summary, indent=2))
    return 0
