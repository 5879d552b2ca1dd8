"""TensorBoard events beside ``metrics.jsonl`` (``report_to: tensorboard``).

Every record appended to ``metrics.jsonl`` is also written to ``runs/<name>/tensorboard/`` as
scalars under the same names at the same step: numbers as they are, booleans as 0/1; strings
(``event``) and values that were not finite (written as null) are left out. When a run is opened
the event files are rebuilt from ``metrics.jsonl`` (already cut back to the checkpoint a resume
starts from), so the events hold exactly what the file holds, after a kill and resume too, and a
run that turns ``report_to`` on later gets its earlier steps as well.

``torch.utils.tensorboard.SummaryWriter`` writes the events; it needs the ``tensorboard`` package.
"""

from __future__ import annotations

import importlib.util
import math
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

TENSORBOARD_PACKAGE = "tensorboard==2.21.0"  # the version pinned in pyproject.toml (dev extra)


def check_tensorboard() -> None:
    """Raise ValueError (a config error) when the tensorboard package is not installed."""
    if importlib.util.find_spec("tensorboard") is None:
        raise ValueError(f"report_to tensorboard needs the tensorboard package: pip install {TENSORBOARD_PACKAGE} "
                         "(or set report_to: none; metrics.jsonl and the plots are written either way)")


def scalars(record: dict[str, Any]) -> dict[str, float]:
    """The scalars of a metrics.jsonl record by name: finite numbers, booleans as 0/1; not ``step``."""
    values = {}
    for key, value in record.items():
        if key == "step" or not isinstance(value, (bool, int, float)):
            continue
        if math.isfinite(value):
            values[key] = float(value)
    return values


class TensorBoardLog:
    """The events of one run directory: rebuilt from `records` when opened, then one record at a time."""

    def __init__(self, log_dir: Path, records: Iterable[dict[str, Any]] = ()):
        from common.errors import UserError

        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:  # installed but broken, or removed since the config was checked
            raise UserError(f"report_to tensorboard: cannot import torch.utils.tensorboard ({exc}); "
                            f"pip install {TENSORBOARD_PACKAGE}, or set report_to: none") from None
        self.log_dir = Path(log_dir)
        if self.log_dir.exists():
            shutil.rmtree(self.log_dir)  # events of steps a resume repeats, or of a run before it was cut back
        self.writer = SummaryWriter(str(self.log_dir))
        for record in records:
            self._add(record)
        self.writer.flush()

    def _add(self, record: dict[str, Any]) -> None:
        step = record.get("step")
        if isinstance(step, int):
            for name, value in scalars(record).items():
                self.writer.add_scalar(name, value, step)

    def write(self, record: dict[str, Any]) -> None:
        """Add a record's scalars and flush, so the events are on disk as soon as metrics.jsonl is."""
        self._add(record)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
