"""Typed records shared by every part of the ad-compliance task.

These are plain pydantic models with no I/O. The server's protocol models can embed or mirror
them; training uses them for data, rewards and evaluation.

Offsets: an :class:`Evidence` span indexes the text exactly as submitted (nothing is stripped or
normalised), so ``getattr(ad, ev.field)[ev.start:ev.end] == ev.text`` always holds for evidence
produced by this package.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Severity = Literal["low", "medium", "high", "critical"]
"""How bad a policy breach is; fixed per policy by the catalogue, never chosen by the model."""

AdField = Literal["headline", "body", "call_to_action", "landing_page_text"]
"""Names of the ad's text fields, in the order they are scanned and rendered."""

AD_FIELDS: tuple[AdField, ...] = ("headline", "body", "call_to_action", "landing_page_text")

SEVERITY_RANK: dict[str, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}

MAX_HEADLINE_CHARS = 300
MAX_BODY_CHARS = 5000
MAX_CTA_CHARS = 100
MAX_LANDING_PAGE_CHARS = 5000


class Ad(BaseModel):
    """An ad as submitted for review. Text is kept verbatim (offsets index it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    headline: str | None = Field(default=None, max_length=MAX_HEADLINE_CHARS)
    body: str = Field(max_length=MAX_BODY_CHARS, description="Ad body text; required, not blank.")
    call_to_action: str | None = Field(default=None, max_length=MAX_CTA_CHARS)
    landing_page_text: str | None = Field(default=None, max_length=MAX_LANDING_PAGE_CHARS)

    @field_validator("body")
    @classmethod
    def _body_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("body must contain text (it is empty or only whitespace)")
        return value

    def fields(self) -> list[tuple[AdField, str]]:
        """The present (non-None, non-empty) text fields in canonical order."""
        return [(name, text) for name in AD_FIELDS if (text := getattr(self, name))]

    def text_of(self, field: AdField) -> str:
        """The text of ``field`` ("" when absent)."""
        return getattr(self, field) or ""


class Evidence(BaseModel):
    """An exact span of one ad field: ``ad.text_of(field)[start:end] == text``."""

    model_config = ConfigDict(frozen=True)

    field: AdField
    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> Evidence:
        if self.end - self.start != len(self.text):
            raise ValueError("evidence end - start must equal len(text)")
        return self

    @classmethod
    def at(cls, ad: Ad, field: AdField, start: int, end: int) -> Evidence:
        """Build the span ``[start, end)`` of ``field`` in ``ad``."""
        return cls(field=field, text=ad.text_of(field)[start:end], start=start, end=end)

    def matches(self, ad: Ad) -> bool:
        """True when the span still indexes ``ad`` exactly."""
        return ad.text_of(self.field)[self.start : self.end] == self.text


class Violation(BaseModel):
    """One policy breached by an ad, with the spans that show it."""

    policy_id: str
    policy: str = Field(description="Human-readable policy name.")
    severity: Severity
    evidence: list[Evidence] = Field(default_factory=list)
    explanation: str
    source: Literal["rule", "model"]


class ComplianceVerdict(BaseModel):
    """The merged result of rule detectors and (optionally) the model for one ad."""

    compliant: bool
    violations: list[Violation]
    analysis: str
    model_checked: bool = Field(
        description="True when a model judgement was parsed and merged; False when the verdict "
        "rests on the rule detectors alone (no model call, or its output failed to parse)."
    )
    model_error: str | None = Field(default=None, description="Why the model output was unusable.")


class Change(BaseModel):
    """One edit made by a suggested revision."""

    before: str
    after: str
    reason: str


class Revision(BaseModel):
    """A suggested rewrite of the ad copy (the landing page is not rewritten)."""

    headline: str | None = None
    body: str
    call_to_action: str | None = None
    changes: list[Change] = Field(default_factory=list)

    def to_ad(self, original: Ad) -> Ad:
        """The revised ad: rewritten copy plus the original landing page text.

        Raises ``pydantic.ValidationError`` when the revision is not a valid ad (e.g. blank body).
        """
        return Ad(
            headline=self.headline or None,
            body=self.body,
            call_to_action=self.call_to_action or None,
            landing_page_text=original.landing_page_text,
        )
