"""Typed requests and results of the domain endpoints (DESIGN.md section 3).

The SDK mirrors the contract instead of importing the server's or ``tasks``' models, so product
teams install it without torch or vLLM. Results keep fields the server adds later
(``extra="allow"``: they show up as attributes and in ``model_dump()``), so a newer server never
breaks an older client.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Severity = Literal["low", "medium", "high", "critical"]


class Result(BaseModel):
    model_config = ConfigDict(extra="allow")


class Ad(BaseModel):
    """An ad to check. Text is sent verbatim: evidence offsets index it exactly as given."""

    model_config = ConfigDict(extra="allow")

    headline: str | None = None
    body: str
    call_to_action: str | None = None
    landing_page_text: str | None = None


class Usage(Result):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class Evidence(Result):
    """A span of the submitted ad: ``text == ad[field][start:end]``."""

    text: str
    start: int
    end: int
    field: str | None = None  # which ad field the span indexes; servers may omit it


class Violation(Result):
    policy_id: str
    policy: str
    severity: Severity
    evidence: list[Evidence] = Field(default_factory=list)
    explanation: str


class Change(Result):
    before: str
    after: str
    reason: str


class SuggestedRevision(Result):
    headline: str | None = None
    body: str
    call_to_action: str | None = None
    changes: list[Change] = Field(default_factory=list)


class ComplianceResult(Result):
    """``POST /v1/ads/compliance``. ``revision_compliant`` says whether the suggested revision
    passed the server's re-check; it is None when there is no revision."""

    id: str
    object: str
    created: int
    model: str
    compliant: bool
    violations: list[Violation]
    analysis: str
    suggested_revision: SuggestedRevision | None = None
    revision_compliant: bool | None = None
    usage: Usage | None = None


class Policy(Result):
    """One entry of ``GET /v1/ads/policies``."""

    id: str
    name: str
    description: str
    severity: Severity
    examples: Any = None  # shape not fixed by the contract; extra example fields are kept too


class TableResult(Result):
    """``POST /v1/text-to-table``: one list of cells per row, in ``columns`` order."""

    id: str
    object: str
    columns: list[str]
    rows: list[list[Any]]
    markdown: str
    usage: Usage | None = None


class Message(Result):
    id: str | None = None
    role: str
    content: str


class Conversation(Result):
    """A conversation; ``messages`` is its history as the server keeps it (possibly trimmed)."""

    id: str
    messages: list[Message] = Field(default_factory=list)


class Reply(Result):
    """The assistant's answer to ``conversations.send``.

    The contract says only "the assistant's reply", so a message object, ``{"message": {...}}``
    and a ``chat.completion`` (first choice) are all read; the raw fields stay available.
    """

    id: str | None = None
    role: str = "assistant"
    content: str
    usage: Usage | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "content" in data:
            return data
        inner = data.get("message")
        if inner is None and data.get("choices"):
            inner = data["choices"][0].get("message")
        if isinstance(inner, dict):
            return {**data, **inner}
        return data


class FeedbackReceipt(Result):
    """What ``POST /v1/feedback`` answers once the feedback is stored."""

    id: str | None = None
