"""The "perfect answer" of the judgement task for a labelled ad: what SFT trains on and what
the PPO and ranking scorers are checked against.

The target judgement is built from the labels (policy ids) and, where the data has them, the
gold findings' quotes, within the bounds of the task's output schema:

- one finding per label, in catalogue order; its quote is the gold finding's (copied from the ad),
  else the first span the rule detectors find for that policy, else "" (a paraphrase the rules
  miss in data without findings: the parser keeps such findings, with empty evidence); its
  explanation is the rule's explanation, or else the first sentence of the policy's description;
- the analysis names the policies broken, or says the ad breaks none.
"""

from __future__ import annotations

import json


def _first_sentence(text: str, limit: int) -> str:
    sentence = text.split(". ")[0].rstrip(".") + "."
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def judgement_target(record) -> str:
    """The JSON judgement a perfect reviewer would give for a labelled ad (see the module doc)."""
    from tasks.ad_compliance.detectors import detect
    from tasks.ad_compliance.policies import select_policies
    from tasks.ad_compliance.schema import DEFAULT_JUDGEMENT_LIMITS as LIMITS

    if not record.labels:
        return json.dumps({"violations": [], "analysis": "The ad breaks none of the listed policies."})
    found = {v.policy_id: v for v in detect(record.ad, record.labels)}
    gold_quotes = {f.policy_id: f.quote for f in reversed(record.findings) if f.quote}  # the first per policy
    policies = list(select_policies(record.labels))[: LIMITS.max_violations]
    violations = []
    for policy in policies:
        rule = found.get(policy.id)
        quote = gold_quotes.get(policy.id) or (rule.evidence[0].text if rule and rule.evidence else "")
        quote = quote[: LIMITS.max_quote_chars]
        explanation = rule.explanation if rule else policy.description
        violations.append({"policy_id": policy.id, "quote": quote,
                           "explanation": _first_sentence(explanation, LIMITS.max_explanation_chars)})
    names = "; ".join(p.name.lower() for p in policies)
    analysis = f"The ad breaks {len(policies)} {'policy' if len(policies) == 1 else 'policies'}: {names}."
    return json.dumps({"violations": violations, "analysis": analysis[: LIMITS.max_analysis_chars]}, ensure_ascii=False)
