"""Ad compliance: deterministic detectors plus the model's judgement and suggested revision.

The flow itself (judge, merge with rules, revise, re-check) lives in
`tasks.ad_compliance.checker.check_ad`, shared with evaluation; this module feeds it the
engine and shapes the response.
"""

from __future__ import annotations

from server.ads.protocol import AdComplianceRequest, AdComplianceResponse, PolicyList, SuggestedRevision
from inference.engine import Engine
from server.generation import ensure_model, structured_generator
from tasks.ad_compliance.checker import Mode, TaskFormat, check_ad
from tasks.ad_compliance.policies import POLICIES

ROUTE = "/v1/ads/compliance"


def policy_list() -> PolicyList:
    return PolicyList(data=list(POLICIES))


async def check(engine: Engine, req: AdComplianceRequest, request_id: str, *, default_mode: Mode = "auto",
                task_format: TaskFormat = "catalogue") -> AdComplianceResponse:
    ensure_model(engine, req.model)
    generate = structured_generator(engine, request_id, ROUTE, input_param="ad")
    outcome = await check_ad(req.ad, generate, req.policies, suggest=req.suggest, mode=req.mode or default_mode,
                             task_format=task_format)
    verdict = outcome.verdict
    revision = outcome.suggested_revision
    return AdComplianceResponse(
        id=request_id,
        model=engine.model_id,
        compliant=verdict.compliant,
        violations=verdict.violations,
        analysis=verdict.analysis,
        model_checked=verdict.model_checked,
        mode=outcome.mode,
        verdict_source=outcome.verdict_source,
        suggested_revision=SuggestedRevision(**revision.model_dump()) if revision else None,
        revision_source=outcome.revision_source,
        revision_compliant=outcome.revision_compliant,
        revision_note=outcome.revision_note,
        usage=generate.usage.as_dict(),
    )
