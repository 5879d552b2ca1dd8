"""Typed configuration classes double as command-line interfaces.

A setting is declared once, as a pydantic field with a description; `add_settings_arguments`
turns each field into a ``--kebab-case`` flag whose help is that description. Flags left out
fall back to the environment (pydantic-settings) and then to the field default, so
``--port 9000``, ``ICEGRT_PORT=9000`` and ``port: 9000`` all mean the same.
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Collection
from typing import Any, Literal

from pydantic import BaseModel


def _flag_type(annotation: Any) -> tuple[dict[str, Any], bool]:
    """argparse keyword arguments for a field type; the bool says it is a list."""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _flag_type(args[0])
    if origin is typing.Annotated:
        return _flag_type(args[0])
    if annotation is bool:
        return {"action": argparse.BooleanOptionalAction}, False
    if origin is Literal:
        return {"choices": [str(a) for a in args]}, False
    if origin is list:
        return {"nargs": "+", "action": "extend"}, True  # a repeated flag adds to the list
    return {}, False


def add_settings_arguments(
    parser: argparse.ArgumentParser, settings_cls: type[BaseModel], fields: Collection[str] | None = None
) -> None:
    """Add one ``--flag`` per field of `settings_cls`, or per field named in `fields` (defaults
    stay with the class: a flag left out is absent from the parsed arguments)."""
    env_prefix = settings_cls.model_config.get("env_prefix", "")
    for name, field in settings_cls.model_fields.items():
        if fields is not None and name not in fields:
            continue
        kwargs, _ = _flag_type(field.annotation)
        env = f" [env {env_prefix}{name.upper()}]" if env_prefix else ""
        if field.is_required():
            shown = "required"
        else:
            shown = f"default: {field.get_default(call_default_factory=True)!r}"
        parser.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            default=argparse.SUPPRESS,
            help=f"{field.description or ''} ({shown}){env}",
            **kwargs,
        )


def settings_from_args(settings_cls: type[BaseModel], args: argparse.Namespace) -> Any:
    """Build `settings_cls` from the flags the user actually gave (the rest from env/defaults)."""
    given = {k: v for k, v in vars(args).items() if k in settings_cls.model_fields}
    return settings_cls(**given)


def describe_validation_error(error: Any, env_prefix: str = "") -> str:
    """One line per invalid setting, named as its flag (and variable), for a message to the user."""
    lines = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]) or "(settings)"
        env = f" / {env_prefix}{name.upper()}" if env_prefix else ""
        lines.append(f"  --{name.replace('_', '-')}{env}: {item['msg']} (got {item.get('input')!r})")
    return "\n".join(lines)
