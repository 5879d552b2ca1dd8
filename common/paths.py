"""Where the project reads shared data and keeps built models.

Every location can be moved with an environment variable, so tests and deployments never
depend on the current working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    """The public data bundle: ``$ICEGRT_SHARED_DATA`` or ``<repo>/../shared/data``."""
    return Path(os.environ.get("ICEGRT_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def models_dir() -> Path:
    """Prepared models: ``$ICEGRT_MODELS_DIR`` or ``~/.cache/icegrt/models``."""
    default = Path.home() / ".cache" / "icegrt" / "models"
    return Path(os.environ.get("ICEGRT_MODELS_DIR", default))


def eval_cache_dir() -> Path:
    """Cached evaluation results (:mod:`training.evaluate.cache`): ``$ICEGRT_EVAL_CACHE`` or ``~/.cache/icegrt/evals``."""
    default = Path.home() / ".cache" / "icegrt" / "evals"
    return Path(os.environ.get("ICEGRT_EVAL_CACHE", default))
