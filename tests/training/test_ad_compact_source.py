"""The compact ad-compliance SFT source: answers the server parses, revisions taught as compliant."""

from __future__ import annotations

import json

from tasks.ad_compliance.compact import SYSTEM, compact_json_schema
from tasks.ad_compliance.parser import ModelJudgement, parse_judgement
from training.data.ad_compliance import compact_findings, load_ad_compliance_compact
from training.data.sources import SFT_SOURCES, mix_task_formats


def test_every_example_is_in_the_served_compact_format():
    conversations = load_ad_compliance_compact()
    assert len(conversations) > 500
    enum = set(compact_json_schema()["properties"]["violations"]["items"]["properties"]["policy_id"]["enum"])
    for conv in conversations[:300]:
        system, user, answer = conv.messages
        assert system["content"] == SYSTEM and user["content"].endswith("</ad>")
        obj = json.loads(answer["content"])
        assert answer["content"] == json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        assert {v["policy_id"] for v in obj["violations"]} <= enum
    revised = [c for c in conversations if c.id.endswith("-revised")]
    assert revised and all(json.loads(c.messages[-1]["content"]) == {"violations": []} for c in revised)


def test_the_ads_only_source_is_the_same_ads_without_their_revisions():
    with_revised = SFT_SOURCES["ad_compliance_compact"].load()
    ads_only = SFT_SOURCES["ad_compliance_compact_ads_only"].load()
    assert ads_only == [c for c in with_revised if not c.id.endswith("-revised")]
    assert len(ads_only) < len(with_revised)


def test_findings_come_from_gold_or_rules_and_parse_back():
    from tasks.ad_compliance.data import LabelledAd

    record = LabelledAd(id="x", ad={"body": "Tea for all. Only 2 left, hurry!"}, labels=["false_urgency"], split="train")
    findings = compact_findings(record)
    assert findings[0][0] == "false_urgency" and findings[0][1] in record.ad.body
    judgement = parse_judgement(json.dumps({"violations": [dict(zip(("policy_id", "quote", "fix"), findings[0]))]}),
                                record.ad)
    assert isinstance(judgement, ModelJudgement) and judgement.violations[0].evidence


def test_mix_task_formats():
    assert mix_task_formats({"ad_compliance_compact": 3, "gsm8k": 2}) == {"ad_compliance": "compact-v1"}
    assert mix_task_formats({"ad_compliance_compact": 0, "gsm8k": 2}) == {}
    assert mix_task_formats({"ad_compliance_compact_ads_only": 1}) == {"ad_compliance": "compact-v1"}
