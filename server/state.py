"""What the app holds while it runs: the settings, and the engine once it has loaded."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from fastapi import Request

from inference.engine import Engine
from server.errors import RETRY_AFTER_SECONDS, APIError
from server.openai.tools import ToolCalling
from server.settings import ServerSettings


@dataclass
class ServerState:
    settings: ServerSettings
    model_path: Path
    served_names: tuple[str, ...]
    """The names clients may send as ``model``; responses report the first."""
    ad_task_formats: dict[str, Literal["catalogue", "compact"]] = field(default_factory=dict)
    """Per served name (LoRA adapters included): ``compact`` for a checkpoint or adapter trained on ad
    compliance (its marker says so), else ``catalogue``."""
    engine: Engine | None = None
    tool_calling: ToolCalling | None = None
    """Tool calling for the loaded model (set with the engine)."""
    load_error: str | None = None
    started_at: int = field(default_factory=lambda: int(time.time()))

    @property
    def served_name(self) -> str:
        return self.served_names[0]

    @staticmethod
    def of(request: Request) -> "ServerState":
        return request.app.state.icegrt

    def ready_engine(self, model: str | None = None) -> Engine:
        """The engine for requests naming `model`: a served LoRA adapter's view, else the engine."""
        if self.engine is None:
            reason = f"engine failed to load: {self.load_error}" if self.load_error else "engine is still loading"
            raise APIError(503, reason, code="engine_not_ready", retry_after=RETRY_AFTER_SECONDS)
        return self.engine.for_model(model)

    def ad_task_format(self, model: str | None) -> Literal["catalogue", "compact"]:
        return self.ad_task_formats.get(model or self.served_name, "catalogue")
