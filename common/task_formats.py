"""Which task formats a checkpoint was trained on, recorded in its checkpoint marker.

A model fine-tuned on a domain task in a compact format (the policy knowledge in the weights, not
in the prompt) must be prompted in that format; any other model gets the task's catalogue format.
``icegrt train`` writes ``{"task_formats": {task: format}}`` into ``icegrt-checkpoint.json``
beside the weights (a stage inherits the formats of the checkpoint it starts from and adds those
of its own data); the server and evaluation read it with :func:`read_task_formats`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

CHECKPOINT_MARKER = "icegrt-checkpoint.json"
ADAPTER_INFO = "icegrt-adapter.json"
"""A shipped adapter's record (:mod:`common.adapters`), task formats included."""
AD_COMPLIANCE = "ad_compliance"
AD_COMPLIANCE_COMPACT = "compact-v1"


def _marker(model_dir: Path) -> Path:
    """Where the task formats of ``model_dir`` are recorded: its checkpoint marker; for a LoRA adapter
    folder, a shipped adapter's info file or, for a run's ``checkpoint/adapter``, the checkpoint's marker."""
    candidates = [model_dir / CHECKPOINT_MARKER]
    if (model_dir / "adapter_config.json").is_file():
        candidates += [model_dir / ADAPTER_INFO, model_dir.parent / CHECKPOINT_MARKER]
    return next((c for c in candidates if c.is_file()), candidates[0])


def read_task_formats(model_dir: str | Path) -> dict[str, str]:
    """``{task: format}`` of the checkpoint (or LoRA adapter) in ``model_dir`` ({} for a model no stage wrote)."""
    marker = _marker(Path(model_dir))
    if not marker.is_file():
        return {}
    try:
        formats = json.loads(marker.read_text(encoding="utf-8")).get("task_formats") or {}
    except (OSError, ValueError, AttributeError):
        return {}
    return {str(k): str(v) for k, v in formats.items()} if isinstance(formats, dict) else {}


def trained_on(model_dir: str | Path, task: str, task_format: str) -> bool:
    """Whether the checkpoint in ``model_dir`` was trained on ``task`` in ``task_format``."""
    return read_task_formats(model_dir).get(task) == task_format


def ad_compliance_format(model_dir: str | Path) -> Literal["catalogue", "compact"]:
    """How to prompt the model in ``model_dir`` for ad compliance: ``compact`` when it was trained
    on the task in that format, else ``catalogue`` (the policies in the prompt)."""
    return "compact" if trained_on(model_dir, AD_COMPLIANCE, AD_COMPLIANCE_COMPACT) else "catalogue"
