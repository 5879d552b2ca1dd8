"""The project's ad-compliance train split as SFT conversations (the judgement task).

Ads and labels come from :func:`tasks.ad_compliance.data.generate_dataset` (seed
:data:`AD_SEED`, its default sizes, split ``train``); the prompt is the task's own
:func:`~tasks.ad_compliance.prompt.judgement_messages`, so training and serving see the same
text. The data has labels (policy ids) but no written findings, so the target judgement is
built from them, within the bounds of the task's output schema:

- one finding per label, in catalogue order; its quote is the first span the rule detectors
  find for that policy, or "" when the wording is a paraphrase the rules miss (the parser keeps
  such findings, with empty evidence); its explanation is the rule's explanation, or else the
  first sentence of the policy's description;
- the analysis names the policies broken, or says the ad breaks none.

The judgement prompt carries the whole policy catalogue (about 1,900 tokens with SmolLM2's
tokenizer), so these examples need ``max_seq_len`` of about 2,300; shorter limits drop them.
"""

from __future__ import annotations

import json

from training.data.sources import Conversation

AD_SEED = 0


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
    policies = list(select_policies(record.labels))[: LIMITS.max_violations]
    violations = []
    for policy in policies:
        rule = found.get(policy.id)
        quote = rule.evidence[0].text[: LIMITS.max_quote_chars] if rule and rule.evidence else ""
        explanation = rule.explanation if rule else policy.description
        violations.append({"policy_id": policy.id, "quote": quote,
                           "explanation": _first_sentence(explanation, LIMITS.max_explanation_chars)})
    names = "; ".join(p.name.lower() for p in policies)
    analysis = f"The ad breaks {len(policies)} {'policy' if len(policies) == 1 else 'policies'}: {names}."
    return json.dumps({"violations": violations, "analysis": analysis[: LIMITS.max_analysis_chars]}, ensure_ascii=False)


def load_ad_compliance() -> list[Conversation]:
    from tasks.ad_compliance.data import generate_dataset
    from tasks.ad_compliance.prompt import judgement_messages

    conversations = []
    for record in generate_dataset(seed=AD_SEED):
        if record.split != "train":
            continue
        messages = (*judgement_messages(record.ad), {"role": "assistant", "content": judgement_target(record)})
        conversations.append(Conversation(messages, "ad_compliance", record.id))
    return conversations


def compact_findings(record) -> list[tuple[str, str, str]]:
    """``(policy_id, quote, fix)`` per label: the record's gold findings, else the first rule span
    (or "" when the rules miss it) with an empty fix."""
    from tasks.ad_compliance.detectors import detect

    if record.findings or not record.labels:
        return [(f.policy_id, f.quote, f.fix or "") for f in record.findings]
    found = {v.policy_id: v for v in detect(record.ad, record.labels) if v.evidence}
    return [(pid, found[pid].evidence[0].text if pid in found else "", "") for pid in record.labels]


def load_ad_compliance_compact() -> list[Conversation]:
    """The generated train split in the compact format (:mod:`tasks.ad_compliance.compact`): each
    ad with its verdict and fixes, and each gold revision (when the generator wrote one) as a
    compliant ad, so the model also learns the re-check of its own revisions."""
    from tasks.ad_compliance.compact import compact_answer, compact_messages
    from tasks.ad_compliance.data import generate_dataset

    conversations = []
    for record in generate_dataset(seed=AD_SEED):
        if record.split != "train":
            continue
        answer = compact_answer(compact_findings(record))
        conversations.append(Conversation((*compact_messages(record.ad), {"role": "assistant", "content": answer}),
                                          "ad_compliance_compact", record.id))
        if record.revision is not None:
            revised = record.revision.to_ad(record.ad)
            conversations.append(Conversation(
                (*compact_messages(revised), {"role": "assistant", "content": compact_answer([])}),
                "ad_compliance_compact", f"{record.id}-revised"))
    return conversations
