"""``icegrt ablate --config FILE``: the paper's PPO ablations (every config field also a flag).

Exit codes: 0 done (results written), 2 a configuration error found before any work, 130
interrupted (rerun the same command: finished variants are skipped, the current one resumes).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from common.config import add_settings_arguments
from training.ablate.config import AblationConfig


def add_ablate_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "ablate", help="PPO ablations: full, no reward scaling, no KL control, no advantage normalization, external prompts",
        description="Run each PPO ablation variant (same seed) from a base PPO config, evaluate, and write results/<name>/",
    )
    parser.add_argument("--config", type=Path, default=None, help="YAML file of settings; flags given here override it")
    add_settings_arguments(parser, AblationConfig)
    parser.set_defaults(handler=run_ablate_command)


def run_ablate_command(args: argparse.Namespace) -> int:
    from training.ablate.runner import run_ablation
    from training.evaluate.domain_command import command_line

    overrides = {k: v for k, v in vars(args).items() if k in AblationConfig.model_fields}
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        config = _load(args.config, overrides)
        result = run_ablation(config, command_line(args))
    except KeyboardInterrupt:
        print("\ninterrupted: rerun the same command to resume the ablation", file=sys.stderr)
        return 130
    print(json.dumps({name: row["summary"] | {"domain": (row["domain"] or {}).get("value")}
                      for name, row in result["variants"].items()}, indent=2))
    print(f"wrote {config.results_path()}/ablation.md")
    return 0


def _load(config_file: Path | None, overrides: dict) -> AblationConfig:
    """The file's settings with the flags on top; ``--ppo`` adds to the file's ``ppo`` mapping key by
    key (so ``--ppo '{threads: 1}'`` keeps the file's sizing) instead of replacing it."""
    from training.config import ConfigError, load_config

    flag_ppo = overrides.pop("ppo", None)
    config = load_config(AblationConfig, config_file, overrides)
    if flag_ppo is None:
        return config
    extra = AblationConfig._mapping_from_text(flag_ppo)
    if not isinstance(extra, dict):
        raise ConfigError(f"--ppo must be a YAML mapping such as '{{max_steps: 2}}', got {flag_ppo!r}")
    return load_config(AblationConfig, None, {**config.model_dump(), "ppo": {**config.ppo, **extra}})
