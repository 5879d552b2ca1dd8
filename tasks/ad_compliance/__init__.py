"""Ad-policy compliance: one definition of the task for the server, training and evaluation.

Modules (import what you need; this ``__init__`` imports nothing):

- ``datatypes``  Ad, Evidence, Violation, ComplianceVerdict, Revision, Change
- ``policies``   the policy catalogue: POLICIES, get_policy, policy_ids, UnknownPolicyError
- ``detectors``  deterministic rule detectors: detect(ad, policies) (patterns in ``rules``)
- ``schema``     bounded JSON schemas for the model's output and their max_tokens budgets
- ``prompt``     chat messages for the judgement and the revision (prefix-cache friendly)
- ``parser``     model text -> ModelJudgement | Revision | ParseFailure (never raises)
- ``checker``    merge(), verdict_for_revision(), and the async orchestrator check_ad()
- ``scorer``     precision/recall/F1 per policy, revision pass rate, keeps-product heuristic
- ``data``       seeded generator of labelled ads (building blocks in ``generator``), JSONL I/O,
                 load_handwritten(); LABELLING.md is the labelling guide
"""
