"""Structured logs for ``icegrt serve``: every log line is one JSON object (python-json-logger).

Each line has ``time`` (ISO 8601, UTC), ``level``, ``logger`` and ``message``, then the record's
own fields: ``exc_info`` (the traceback, one string) for an exception, ``process`` once vLLM has
configured its logging (``MainProcess``, ``EngineCore``, ...), and the fields of a message logged
as `LogFields`. The access line (logger ``icegrt.access``, one per request, written by
`server.middleware.RequestMiddleware`) is such a message: ``request_id``, ``method``, ``path``,
``route``, ``status``, ``duration_ms``, ``client``, ``key_id``, ``prompt_tokens``,
``completion_tokens``.

Where the lines come from: the root logger (icegrt, uvicorn, alembic: uvicorn is told to install
no handlers of its own), Python warnings, and vLLM, which configures its ``vllm`` logger itself in
the server process and in its engine processes: it is handed a logging configuration with the same
formatter through ``VLLM_LOGGING_CONFIG_PATH`` (unless the operator set that variable or
``VLLM_CONFIGURE_LOGGING=0``). Not JSON: output that bypasses logging (a library's print or
progress bar, native code's warnings) and what vLLM's engine processes log or warn while they
import, before they configure their logging.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

VLLM_CONFIG_VARIABLE = "VLLM_LOGGING_CONFIG_PATH"


class LogFields(dict):
    """A log message made of fields: the JSON formatter writes them as the line's own keys; anything
    else (a text formatter, ``record.getMessage()``) shows them as one JSON object."""

    def __str__(self) -> str:
        return json.dumps(self)


class JsonLines(JsonFormatter):
    """One JSON object a line: ``time``, ``level``, ``logger``, ``message``, then the record's fields."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger", "vllm_process_name": "process"})
        kwargs.setdefault("timestamp", "time")
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "color_message"])  # uvicorn's copy with colours
        super().__init__("%(levelname)s %(name)s %(message)s", *args, **kwargs)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        time = log_data.pop("time", None)
        if log_data.get("message") == "":
            log_data.pop("message")  # a LogFields message: its fields are the line
        return {"time": time, **log_data}


def configure_json_logging(level: str) -> None:
    """Every log line of this process (and of vLLM's engine processes) as JSON on stderr, at `level`; call
    it again to change the level. Like `logging.basicConfig`, it leaves a process whose root logger
    already has handlers of someone else's (a program embedding the server, pytest) as it is."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h.formatter, JsonLines)]
    if len(ours) < len(root.handlers):
        return
    if not ours:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonLines())
        root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    _hand_vllm_the_formatter(level)


_written_config: str | None = None
"""The vLLM logging configuration this process wrote (rewritten when the level changes)."""


def _hand_vllm_the_formatter(level: str) -> None:
    global _written_config
    given = os.environ.get(VLLM_CONFIG_VARIABLE)
    if (given and given != _written_config) or os.environ.get("VLLM_CONFIGURE_LOGGING") == "0":
        return  # the operator configured vLLM's logging
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonLines"}},
        "handlers": {"json": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "loggers": {"vllm": {"handlers": ["json"], "level": level.upper(), "propagate": False}},
    }
    if _written_config is None:
        handle, _written_config = tempfile.mkstemp(prefix="icegrt-vllm-logging-", suffix=".json")
        os.close(handle)
        atexit.register(_remove, _written_config)
    Path(_written_config).write_text(json.dumps(config))
    os.environ[VLLM_CONFIG_VARIABLE] = _written_config  # read when vLLM builds the engine, and by its engine processes


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)
