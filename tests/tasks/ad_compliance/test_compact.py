"""The compact task format: prompt, schema, answer text, fixes -> revision, and the modes."""

import asyncio
import json

from tasks.ad_compliance.checker import check_ad, resolve_mode
from tasks.ad_compliance.compact import (SYSTEM, compact_answer, compact_json_schema, compact_max_tokens,
                                         compact_messages, revision_from_fixes)
from tasks.ad_compliance.datatypes import Ad
from tasks.ad_compliance.detectors import detect
from tasks.ad_compliance.parser import ModelJudgement, parse_judgement
from tasks.ad_compliance.policies import policy_ids
from tasks.ad_compliance.prompt import judgement_messages
from tasks.ad_compliance.schema import max_tokens_for_schema

AD = Ad(headline="Tempo budget app", body="Track every dollar. Only 2 spots left, hurry! Try it free for "
        "14 days, then $4.99 a month.", call_to_action="Download")
SUBTLE = Ad(headline="Brightside tea", body="Say goodbye to your inhaler with our herbal tea. $12 a box.")


def test_prompt_is_short_fixed_and_ends_with_the_ad():
    messages = compact_messages(AD)
    assert messages[0] == {"role": "system", "content": SYSTEM}
    assert messages[1]["content"].startswith("<ad>") and messages[1]["content"].endswith("</ad>")
    catalogue = sum(len(m["content"]) for m in judgement_messages(AD))
    assert sum(len(m["content"]) for m in messages) * 4 < catalogue
    scoped = compact_messages(AD, ["false_urgency", "clickbait"])
    assert scoped[1]["content"].startswith("Check only: false_urgency, clickbait\n")


def test_schema_is_bounded_and_budget_fits_it():
    schema = compact_json_schema()
    item = schema["properties"]["violations"]["items"]
    assert item["properties"]["policy_id"]["enum"] == list(policy_ids())
    assert compact_max_tokens() == max_tokens_for_schema(schema)
    assert compact_json_schema(["clickbait"])["properties"]["violations"]["items"]["properties"][
        "policy_id"]["enum"] == ["clickbait"]


def test_answer_is_compact_ordered_and_one_per_policy():
    text = compact_answer([("gimmicky_formatting", "HURRY", "Hurry"), ("false_urgency", "hurry!", ""),
                           ("false_urgency", "again", "x")])
    assert text == ('{"violations":[{"policy_id":"false_urgency","quote":"hurry!","fix":""},'
                    '{"policy_id":"gimmicky_formatting","quote":"HURRY","fix":"Hurry"}]}')
    assert compact_answer([]) == '{"violations":[]}'


def test_fixes_give_the_revision_and_unfixable_findings_give_none():
    answer = compact_answer([("false_urgency", "Only 2 spots left, hurry!", "")])
    judgement = parse_judgement(answer, AD)
    assert isinstance(judgement, ModelJudgement) and judgement.violations[0].fix == ""
    revision = revision_from_fixes(AD, judgement)
    assert revision.body == "Track every dollar. Try it free for 14 days, then $4.99 a month."
    assert revision.headline == "Tempo budget app" and revision.call_to_action == "Download"
    assert revision_from_fixes(AD, parse_judgement(compact_answer([("false_urgency", "not in ad", "")]), AD)) is None
    smoke = Ad(body="Menthol cigarettes, 20 for $9.")
    judgement = parse_judgement(compact_answer([("prohibited_products", "Menthol cigarettes", "")]), smoke)
    assert revision_from_fixes(smoke, judgement) is None


class Fake:
    def __init__(self, *answers):
        self.answers, self.calls = list(answers), []

    async def __call__(self, messages, schema, max_tokens):
        self.calls.append(messages)
        return self.answers.pop(0), "stop"


def test_compact_flow_uses_one_call_for_verdict_and_revision_plus_a_recheck():
    fake = Fake(compact_answer([("health_claims", "Say goodbye to your inhaler", "Enjoy")]), '{"violations":[]}')
    outcome = asyncio.run(check_ad(SUBTLE, fake, mode="auto", task_format="compact"))
    assert outcome.mode == "hybrid" and outcome.verdict_source == "model+rules"
    assert [v.policy_id for v in outcome.verdict.violations] == ["health_claims"]
    assert outcome.revision_source == "model" and outcome.revision_compliant is True
    assert outcome.suggested_revision.body == "Enjoy with our herbal tea. $12 a box."
    assert [(c.before, c.after) for c in outcome.suggested_revision.changes] == [
        ("Say goodbye to your inhaler", "Enjoy")]
    assert len(fake.calls) == 2 and all(m[0]["content"] == SYSTEM for m in fake.calls)


def test_auto_on_an_untrained_model_is_rules_only_with_a_rule_revision():
    fake = Fake()
    outcome = asyncio.run(check_ad(AD, fake, mode="auto", task_format="catalogue"))
    assert fake.calls == [] and outcome.mode == "rules" and outcome.verdict_source == "rules"
    assert [v.policy_id for v in outcome.verdict.violations] == [v.policy_id for v in detect(AD)]
    assert outcome.revision_source == "rules" and outcome.revision_compliant is True
    assert "Tempo" in outcome.suggested_revision.headline and "$4.99" in outcome.suggested_revision.body
    assert resolve_mode("auto", "compact") == "hybrid" and resolve_mode("rules", "compact") == "rules"


def test_unusable_model_answer_falls_back_to_rules():
    fake = Fake('{"violations":[{"policy_id":"false_ur', '{"violations":[]}')
    outcome = asyncio.run(check_ad(AD, fake, mode="hybrid", task_format="compact"))
    assert not outcome.verdict.model_checked and not outcome.verdict.compliant
    assert outcome.revision_source == "rules" and outcome.revision_compliant is True


def test_prohibited_product_gets_no_revision_and_says_why():
    ad = Ad(headline="Vape pens", body="Disposable vapes in 12 flavours, from $9.")
    outcome = asyncio.run(check_ad(ad, Fake(), mode="rules"))
    assert not outcome.verdict.compliant and outcome.suggested_revision is None
    assert "prohibited" in outcome.revision_note
    assert json.loads(compact_answer([]))["violations"] == []
