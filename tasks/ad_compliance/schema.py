"""Bounded JSON schemas for the model's outputs, and the ``max_tokens`` budget each needs.

Every array has ``maxItems`` and every string ``maxLength`` (or an ``enum``), so a structured
generation (vLLM + xgrammar) cannot run away: a small model that loops on one array item stops at
the bound instead of at ``max_tokens`` with unterminated JSON. Property order is the generation
order. Only keywords xgrammar supports are used (type, properties, required,
additionalProperties, items, maxItems, minLength, maxLength, enum).

Severities are not asked of the model: the catalogue fixes each policy's severity, so the model
spends no tokens on a value that would be overwritten.

Budgets: :func:`max_tokens_for_schema` adds up the longest answer a schema allows (content
characters of strings, plus the JSON punctuation and keys) and converts it to tokens at
``chars_per_token`` (default 3, conservative for English prose; structural characters count at 2
per token). Text in other scripts, heavy escaping or extra whitespace (vLLM allows any
whitespace unless ``disable_any_whitespace`` is set; the server should set it) can need more; such
an answer ends with ``finish_reason="length"`` and the parser reports it as truncated.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .datatypes import MAX_BODY_CHARS, MAX_CTA_CHARS, MAX_HEADLINE_CHARS, Ad
from .policies import select_policies

JsonSchema = dict[str, Any]


@dataclass(frozen=True)
class JudgementLimits:
    """Bounds of the compliance-judgement output."""

    max_violations: int = 6
    max_quote_chars: int = 150
    max_explanation_chars: int = 200
    max_analysis_chars: int = 500


@dataclass(frozen=True)
class RevisionLimits:
    """Bounds of the suggested-revision output (the body bound is sized per ad)."""

    max_headline_chars: int = 150
    max_cta_chars: int = 40
    max_changes: int = 6
    max_change_text_chars: int = 200
    max_reason_chars: int = 150
    body_buckets: tuple[int, ...] = (300, 600, 1200, 2500, MAX_BODY_CHARS)


DEFAULT_JUDGEMENT_LIMITS = JudgementLimits()
DEFAULT_REVISION_LIMITS = RevisionLimits()


def _string(max_length: int, min_length: int = 0) -> JsonSchema:
    schema: JsonSchema = {"type": "string", "maxLength": max_length}
    if min_length:
        schema["minLength"] = min_length
    return schema


def _object(properties: dict[str, JsonSchema]) -> JsonSchema:
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}


def judgement_json_schema(policies: Iterable[str] | None = None,
                          limits: JudgementLimits = DEFAULT_JUDGEMENT_LIMITS) -> JsonSchema:
    """Schema of ``{"violations": [{"policy_id", "quote", "explanation"}], "analysis"}``.

    ``policy_id`` is an enum of the selected policies (all by default), in catalogue order, so the
    schema is identical for every request with the same policy set (grammar cache hits).
    """
    ids = [p.id for p in select_policies(policies)]
    violation = _object({
        "policy_id": {"type": "string", "enum": ids},
        "quote": _string(limits.max_quote_chars),
        "explanation": _string(limits.max_explanation_chars),
    })
    return _object({
        "violations": {"type": "array", "items": violation, "maxItems": limits.max_violations},
        "analysis": _string(limits.max_analysis_chars),
    })


def revision_body_limit(ad: Ad | None, limits: RevisionLimits = DEFAULT_REVISION_LIMITS) -> int:
    """The body ``maxLength`` for revising ``ad``: the smallest bucket >= 1.25 x its body + 50.

    Buckets keep the number of distinct schemas (and compiled grammars) small.
    """
    if ad is None:
        return limits.body_buckets[-1]
    need = math.ceil(len(ad.body) * 1.25) + 50
    return next((b for b in limits.body_buckets if b >= need), limits.body_buckets[-1])


def revision_json_schema(ad: Ad | None = None,
                         limits: RevisionLimits = DEFAULT_REVISION_LIMITS) -> JsonSchema:
    """Schema of ``{"headline", "body", "call_to_action", "changes": [{"before","after","reason"}]}``.

    ``headline`` and ``call_to_action`` are strings ("" when the ad has none); ``body`` is
    non-empty and sized by :func:`revision_body_limit`.
    """
    change = _object({
        "before": _string(limits.max_change_text_chars),
        "after": _string(limits.max_change_text_chars),
        "reason": _string(limits.max_reason_chars),
    })
    return _object({
        "headline": _string(min(limits.max_headline_chars, MAX_HEADLINE_CHARS)),
        "body": _string(min(revision_body_limit(ad, limits), MAX_BODY_CHARS), min_length=1),
        "call_to_action": _string(min(limits.max_cta_chars, MAX_CTA_CHARS)),
        "changes": {"type": "array", "items": change, "maxItems": limits.max_changes},
    })


def _longest(schema: JsonSchema, path: str = "$") -> tuple[int, int]:
    """(content chars, structural chars) of the longest JSON text ``schema`` allows.

    Raises ``ValueError`` for an unbounded array or string (the point of this module).
    """
    kind = schema.get("type")
    if "enum" in schema:
        return 0, max(len(json.dumps(v, ensure_ascii=False)) for v in schema["enum"])
    if kind == "string":
        if "maxLength" not in schema:
            raise ValueError(f"unbounded string at {path}: add maxLength")
        return schema["maxLength"], 2
    if kind == "array":
        if "maxItems" not in schema:
            raise ValueError(f"unbounded array at {path}: add maxItems")
        n = schema["maxItems"]
        content, structure = _longest(schema["items"], f"{path}[]")
        return n * content, 2 + n * structure + 2 * max(n - 1, 0)
    if kind == "object":
        props = schema.get("properties", {})
        content, structure = 0, 2 + 2 * max(len(props) - 1, 0)
        for key, sub in props.items():
            c, s = _longest(sub, f"{path}.{key}")
            content, structure = content + c, structure + s + len(key) + 4  # "key": 
        return content, structure
    if kind in ("boolean", "null"):
        return 0, 5
    if kind in ("integer", "number"):
        return 0, 24
    raise ValueError(f"unsupported schema at {path}: {schema!r}")


def max_tokens_for_schema(schema: JsonSchema, chars_per_token: float = 3.0) -> int:
    """A ``max_tokens`` budget that fits the longest output ``schema`` allows (see module doc)."""
    if chars_per_token <= 0:
        raise ValueError("chars_per_token must be positive")
    content, structure = _longest(schema)
    return math.ceil(content / chars_per_token) + math.ceil(structure / 2) + 16


def judgement_max_tokens(policies: Iterable[str] | None = None,
                         limits: JudgementLimits = DEFAULT_JUDGEMENT_LIMITS) -> int:
    """``max_tokens`` for :func:`judgement_json_schema` with the same arguments."""
    return max_tokens_for_schema(judgement_json_schema(policies, limits))


def revision_max_tokens(ad: Ad | None = None,
                        limits: RevisionLimits = DEFAULT_REVISION_LIMITS) -> int:
    """``max_tokens`` for :func:`revision_json_schema` with the same arguments."""
    return max_tokens_for_schema(revision_json_schema(ad, limits))
