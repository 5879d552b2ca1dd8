"""Ad-compliance request and response models (pydantic only)."""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from server.openai.protocol import Usage
from tasks.ad_compliance.datatypes import Ad, Change, Violation
from tasks.ad_compliance.policies import Policy, UnknownPolicyError, get_policy


class AdComplianceRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ad: Ad
    market: str | None = Field(None, max_length=32, description="Market the ad runs in, e.g. 'US' (informational)")
    policies: list[str] | None = Field(None, min_length=1, max_length=32,
                                       description="Policy ids to check; all policies when absent")
    suggest: bool = Field(True, description="Suggest a compliant revision when the ad violates a policy")
    mode: Literal["auto", "rules", "hybrid"] | None = Field(
        None, description="auto: the model's judgement only for a checkpoint trained on the task; rules: "
        "detectors only; hybrid: rules plus the model. Unset: the server's --ads-mode")
    model: str | None = None

    @field_validator("policies")
    @classmethod
    def _known_policies(cls, ids: list[str] | None) -> list[str] | None:
        if ids is None:
            return None
        for policy_id in ids:
            try:
                get_policy(policy_id)
            except UnknownPolicyError as exc:  # a KeyError: pydantic only reports ValueErrors
                raise ValueError(str(exc)) from exc
        return list(dict.fromkeys(ids))


class SuggestedRevision(BaseModel):
    headline: str | None
    body: str
    call_to_action: str | None
    changes: list[Change]


class AdComplianceResponse(BaseModel):
    id: str
    object: Literal["ad.compliance"] = "ad.compliance"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    compliant: bool
    violations: list[Violation]
    analysis: str
    model_checked: bool = Field(description="False when the model's judgement was unusable and rules alone decided")
    mode: Literal["rules", "hybrid"] = Field(description="The mode that ran (auto resolved)")
    verdict_source: Literal["rules", "model+rules"] = Field(description="What produced the verdict")
    suggested_revision: SuggestedRevision | None
    revision_source: Literal["model", "rules"] | None = Field(
        description="model: the model's revision passed its re-check (or was the only one); rules: a "
        "deterministic rewrite of the flagged spans; null: no revision")
    revision_compliant: bool | None
    revision_note: str | None = Field(None, description="Why no revision was suggested, when none was")
    usage: Usage


class PolicyList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Policy]
