"""Typed requests and results of the domain endpoints (DESIGN.md section 3).

The SDK mirrors the contract instead of importing the server's or ``tasks``' models, so product
teams install it without torch or vLLM. Results keep fields the server adds later
(``extra="allow"``: they show up as attributes and in ``model_dump()``), so a newer server never
breaks an older client.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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
    source: str | None = None  # "rule" or "model": which check found it


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
    model_checked: bool | None = None  # False: the model's judgement was unusable and rules alone decided
    mode: str | None = None  # the mode that ran: "rules" or "hybrid"
    verdict_source: str | None = None  # "rules" or "model+rules"
    suggested_revision: SuggestedRevision | None = None
    revision_source: str | None = None  # "model", "rules" (a rewrite of the flagged spans) or None
    revision_compliant: bool | None = None
    revision_note: str | None = None  # why no revision was suggested
    usage: Usage | None = None


class Policy(Result):
    """One entry of ``GET /v1/ads/policies``."""

    id: str
    name: str
    description: str
    severity: Severity
    violating_examples: list[str] = Field(default_factory=list)
    compliant_examples: list[str] = Field(default_factory=list)
    detector: bool | None = None  # True when deterministic rules cover the policy


class TableResult(Result):
    """``POST /v1/text-to-table``: one list of cells per row, in ``columns`` order.

    ``complete`` is False when the model's answer was cut off or unreadable (``rows`` then holds
    what could be recovered, ``warnings`` says why); ``csv`` is set when ``format="csv"``.
    """

    id: str
    object: str
    model: str | None = None
    columns: list[str]
    rows: list[list[str]]
    markdown: str
    csv: str | None = None
    complete: bool | None = None
    warnings: list[str] = Field(default_factory=list)
    usage: Usage | None = None


class Message(Result):
    id: str | None = None
    role: str
    content: str
    finish_reason: str | None = None  # on assistant messages: "stop" or "length"


class Conversation(Result):
    """A conversation; ``messages`` is its history as the server keeps it (trimmed to the context)."""

    id: str
    model: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    messages: list[Message] = Field(default_factory=list)


class Reply(Result):
    """The assistant's stored answer to ``conversations.send``; ``id`` is the ``message_id`` that
    feedback refers to."""

    id: str
    conversation_id: str | None = None
    role: str = "assistant"
    content: str
    finish_reason: str | None = None
    usage: Usage | None = None


class FeedbackReceipt(Result):
    """What ``POST /v1/feedback`` answers once the feedback is stored."""

    id: str
