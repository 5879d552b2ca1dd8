"""Evaluation results cached by what they depend on: the model's files, the examples and the settings.

A report compares every checkpoint with the base model on the same examples (paired, by the
per-example rows), so the base model's evaluation is the same in every report: it runs once and
is reused. The key is a SHA-256 of the kind of evaluation, :data:`FORMAT`, the content of every
file of the model directory (and of any other model the evaluation uses, such as a reward model)
and the settings that choose the examples and the decoding, as sorted JSON. Request concurrency
and torch.compile are left out (greedy results do not depend on them). Code is not in the key:
bump :data:`FORMAT` when an evaluation's output changes, or delete the cache directory
(:func:`common.paths.eval_cache_dir`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT = 1
"""Version of the cached outputs (1: per-example rows)."""
_CHUNK = 8 << 20


def model_fingerprint(path: Path) -> str:
    """SHA-256 over the relative path and content of every file under `path` (a file: its content)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode() + b"\0")
        with open(file, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def cache_key(kind: str, models: dict[str, Path], settings: dict[str, Any]) -> str:
    """The key of an evaluation of `kind` on `models` (role -> directory) with `settings` (JSON-able)."""
    content = {"kind": kind, "format": FORMAT, "models": {role: model_fingerprint(p) for role, p in sorted(models.items())},
               "settings": settings}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def cached_evaluation(kind: str, models: dict[str, Path], settings: dict[str, Any], evaluate: Callable[[], dict],
                      cache_dir: Path) -> tuple[dict, bool]:
    """(the evaluation's JSON, whether it came from the cache): a cached result of the same key, or
    ``evaluate()`` run now and stored (written atomically, so a killed run leaves no half file)."""
    path = Path(cache_dir) / f"{kind}-{cache_key(kind, models, settings)}.json"
    if path.is_file():
        return json.loads(path.read_text()), True
    result = evaluate()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(result) + "\n")
    os.replace(partial, path)
    return result, False
