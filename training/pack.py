"""``icegrt train pack-adapter``: ship a LoRA run's adapter in the repository (``adapters/<name>/``).

The info file records what made the adapter, so a shipped model can be traced and rebuilt: the
run's config, the git commit it is packed at, and the sha256 per data source of the exact
conversations the run trained on (``data.json``, written by the run itself).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml

from common.adapters import pack_adapter
from common.paths import REPO_ROOT


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def add_pack_parser(stages) -> None:
    pack = stages.add_parser("pack-adapter", help="Ship a LoRA run's adapter as adapters/<name>/ (bfloat16, <= 5 MiB)")
    pack.add_argument("--run", type=Path, required=True, help="The LoRA training run directory (runs/sft_cpu)")
    pack.add_argument("--name", required=True, help="Model name users will serve it by (the folder's name)")
    pack.add_argument("--base", default=None, help="Known base model name (default: the run config's model)")
    pack.set_defaults(handler=run_pack_command)


def run_pack_command(args: argparse.Namespace) -> int:
    config_file = args.run / "config.yaml"
    if not config_file.is_file():
        print(f"error: {config_file} is missing: --run must be a training run directory", file=sys.stderr)
        return 2
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    base = args.base or config["model"]
    data = json.loads((args.run / "data.json").read_text(encoding="utf-8")) if (args.run / "data.json").is_file() else {}
    recipe = {"config": config, "git_commit": _git_commit(), "data_sha256": data.get("data_sha256")}
    try:
        dest = pack_adapter(args.run, args.name, base, recipe)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(dest)
    return 0
