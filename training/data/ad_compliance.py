"""The project's ad-compliance train split as SFT conversations (the judgement task).

Ads and labels come from :func:`tasks.ad_compliance.data.generate_dataset` (seed
:data:`AD_SEED`, its default sizes, split ``train``); the prompt is the task's own
:func:`~tasks.ad_compliance.prompt.judgement_messages`, so training and serving see the same
text, and the target is the task's perfect answer for the ad's labels
(:func:`tasks.ad_compliance.targets.judgement_target`).

The judgement prompt carries the whole policy catalogue (about 1,900 tokens with SmolLM2's
tokenizer), so these examples need ``max_seq_len`` of about 2,300; shorter limits drop them.
"""

from __future__ import annotations

from training.data.conversation import Conversation

AD_SEED = 0
REVISED_EVERY = 3
REVISED_ID_SUFFIX = "-revised"


def load_ad_compliance() -> list[Conversation]:
    from tasks.ad_compliance.data import generate_dataset
    from tasks.ad_compliance.prompt import judgement_messages
    from tasks.ad_compliance.targets import judgement_target

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


def revised_record(record):
    """``record``'s gold revision as a compliant ad of its own (id ``<id>-revised``, no labels): the
    compact source's re-check examples, and the gold PPO scores replies to them against."""
    from tasks.ad_compliance.data import LabelledAd

    return LabelledAd(id=f"{record.id}{REVISED_ID_SUFFIX}", ad=record.revision.to_ad(record.ad), labels=[],
                      split=record.split)


def load_ad_compliance_compact(revised_every: int | None = REVISED_EVERY) -> list[Conversation]:
    """The generated train split in the compact format (:mod:`tasks.ad_compliance.compact`): each
    ad with its verdict and fixes, and one gold revision in ``revised_every`` (when the
    generator wrote one) as a compliant ad, so the model also learns the re-check of its own
    revisions. Every revision would make compliant answers the majority (59%), and a model that
    answers ``{"violations":[]}`` to everything was what 40 steps of such a mix gave. ``None``: no
    revisions (a revision differs from its ad only in the violating spans, and such minimal pairs
    can teach the generator's own phrasings instead of the policies: results/ads-expert/verdict-head/)."""
    from tasks.ad_compliance.compact import compact_answer, compact_messages
    from tasks.ad_compliance.data import generate_dataset

    conversations = []
    for record in generate_dataset(seed=AD_SEED):
        if record.split != "train":
            continue
        answer = compact_answer(compact_findings(record))
        conversations.append(Conversation((*compact_messages(record.ad), {"role": "assistant", "content": answer}),
                                          "ad_compliance_compact", record.id))
        if revised_every and record.revision is not None and len(conversations) % revised_every == 0:
            revised = revised_record(record)
            conversations.append(Conversation(
                (*compact_messages(revised.ad), {"role": "assistant", "content": compact_answer([])}),
                "ad_compliance_compact", revised.id))
    return conversations
