"""Rule detectors: hand-picked positives with exact spans, and negatives that must not fire."""

import pytest

from tasks.ad_compliance.datatypes import Ad
from tasks.ad_compliance.detectors import detect, detected_policy_ids, rule_policy_ids
from tasks.ad_compliance.policies import UnknownPolicyError, get_policy


def texts(body: str, policy: str) -> list[str]:
    """Evidence texts of ``policy`` for an ad with this body (checks spans index the body)."""
    ad = Ad(body=body)
    found = [v for v in detect(ad) if v.policy_id == policy]
    assert len(found) <= 1
    if not found:
        return []
    for ev in found[0].evidence:
        assert ev.field == "body" and body[ev.start:ev.end] == ev.text
    return [e.text for e in found[0].evidence]


POSITIVES = [
    ("health_claims", "Our herbal drops cure diabetes in 30 days.", ["cure diabetes"]),
    ("health_claims", "This tea reverses type 2 diabetes.", ["reverses type 2 diabetes"]),
    ("health_claims", "The natural cure for anxiety.", ["cure for anxiety"]),
    ("health_claims", "Throw away your pills today.", ["Throw away your pills"]),
    ("guaranteed_returns", "Guaranteed returns of 12% a year.", ["Guaranteed returns"]),
    ("guaranteed_returns", "Double your money in a week.", ["Double your money"]),
    ("guaranteed_returns", "Make $500 a day from home.", ["Make $500 a day"]),
    ("guaranteed_returns", "Risk-free investing for all.", ["Risk-free investing"]),
    ("guaranteed_returns", "Profits are guaranteed.", ["Profits are guaranteed"]),
    ("misleading_pricing", "100% FREE!!!", ["100% FREE"]),
    ("misleading_pricing", "Claim your free iPhone now.", ["free iPhone"]),
    ("misleading_pricing", "Yours free, no strings attached.", ["no strings attached"]),
    ("misleading_pricing", "Try it for $0, just pay shipping.", ["just pay shipping"]),
    ("false_urgency", "Hurry! Only 3 left at this price!", ["Hurry", "Only 3 left"]),
    ("false_urgency", "Act now before it's too late.", ["Act now", "before it's too late"]),
    ("false_urgency", "This price expires in 10 minutes.", ["expires in 10 minutes"]),
    ("weight_loss_claims", "Lose 30 lbs in 30 days!", ["Lose 30 lbs"]),
    ("weight_loss_claims", "Melt belly fat without diet or exercise.",
     ["Melt belly fat", "without diet"]),
    ("weight_loss_claims", "Diet pills: see my before and after.", ["before and after"]),
    ("prohibited_products", "Premium vape juice, 20 flavours.", ["vape"]),
    ("prohibited_products", "AR-15 rifles and ammo in stock.", ["AR-15", "rifles", "ammo"]),
    ("prohibited_products", "Buy THC gummies online.", ["THC"]),
    ("prohibited_products", "Stun guns for sale.", ["guns"]),
    ("alcohol_minors", "Teens love our fruity vodka pops!", ["Teens", "vodka"]),
    ("alcohol_minors", "Sneak our lager into prom.", ["lager", "prom"]),
    ("personal_attributes", "Are you in debt? We can help.", ["Are you in debt"]),
    ("personal_attributes", "Struggling with depression?", ["Struggling with depression"]),
    ("personal_attributes", "You're overweight and it's time.", ["You're overweight"]),
    ("personal_attributes", "Do you have bad credit?", ["Do you have bad credit"]),
    ("gimmicky_formatting", "BUY NOW AND SAVE BIG!!!", ["BUY NOW AND SAVE BIG", "!!!"]),
    ("gimmicky_formatting", "$$$ Ca$h in today $$$", ["$$$", "Ca$h", "$$$"]),
    ("gimmicky_formatting", "F R E E gift inside", ["F R E E"]),
    ("gimmicky_formatting", "Sale 🔥🔥🔥 now", ["🔥🔥🔥"]),
    ("gimmicky_formatting", "Get it FREE today", ["FREE"]),
    ("unverifiable_superlatives", "The #1 dating app in America.", ["#1"]),
    ("unverifiable_superlatives", "The best coffee in the world.", ["The best coffee in the world"]),
    ("unverifiable_superlatives", "The world's leading VPN.", ["world's leading"]),
    ("unverifiable_superlatives", "Simply unbeatable prices.", ["unbeatable"]),
    ("fake_endorsements", "Elon Musk reveals his platform.", ["Elon Musk reveals"]),
    ("fake_endorsements", "Oprah swears by these gummies.", ["Oprah swears by"]),
    ("fake_endorsements", "As seen on Shark Tank.", ["As seen on Shark Tank"]),
    ("fake_endorsements", "9 out of 10 doctors recommend it.", ["9 out of 10 doctors recommend"]),
    ("clickbait", "You won't believe what happened next!",
     ["You won't believe", "what happened next"]),
    ("clickbait", "This one weird trick erases debt.", ["one weird trick"]),
    ("clickbait", "Doctors hate him for this.", ["Doctors hate"]),
]


@pytest.mark.parametrize("policy,body,expected", POSITIVES)
def test_positive(policy, body, expected):
    assert texts(body, policy) == expected


NEGATIVES = [
    ("misleading_pricing", "Free shipping on orders over $50."),
    ("misleading_pricing", "Start a 14-day free trial, then $9.99/month."),
    ("unverifiable_superlatives", "Best regards, the team."),
    ("unverifiable_superlatives", "All the best from all of us. Do your best work."),
    ("unverifiable_superlatives", "Enjoy the best of both worlds."),
    ("guaranteed_returns", "30-day money-back guarantee on all orders."),
    ("guaranteed_returns", "Satisfaction guaranteed or your money back."),
    ("guaranteed_returns", "Savings account: 4.1% AER variable."),
    ("false_urgency", "Spring sale ends Sunday 12 May."),
    ("false_urgency", "No hurry: cancel anytime."),
    ("false_urgency", "Only 3 ingredients, ready in 10 minutes."),
    ("prohibited_products", "Quit smoking for good with our app. No more cigarettes."),
    ("prohibited_products", "Summer water guns and glue guns for crafts."),
    ("prohibited_products", "Weed killer for your lawn. Seaweed snacks."),
    ("alcohol_minors", "Craft beer tasting for adults 21+. Kids menu available too."),
    ("alcohol_minors", "Our pale ale. Not for sale to persons under 21."),
    ("alcohol_minors", "Kids eat free on Sundays. Bottomless prosecco for grown-ups."),
    ("alcohol_minors", "Non-alcoholic punch for kids' parties."),
    ("personal_attributes", "Debt advice from qualified counsellors."),
    ("personal_attributes", "Support for people living with diabetes."),
    ("personal_attributes", "Are you ready for summer?"),
    ("gimmicky_formatting", "New arrivals at IKEA and H&M. Learn HTML, CSS and SQL."),
    ("gimmicky_formatting", "Buy now and save 20%! Use code AUTUMN40."),
    ("health_claims", "Vitamin D supports normal immune function."),
    ("health_claims", "Cured ham and aged cheese, sliced to order."),
    ("weight_loss_claims", "Home renovation: see the before and after photos."),
    ("weight_loss_claims", "Track your workouts and meals in one app."),
    ("clickbait", "How our app helps you save $200 a year."),
    ("fake_endorsements", "'Great service' - verified review, Google, March 2024."),
]


@pytest.mark.parametrize("policy,body", NEGATIVES)
def test_negative(policy, body):
    assert texts(body, policy) == []


def test_spans_are_exact_offsets_in_each_field():
    ad = Ad(headline="LAST CHANCE!!!", body="Great shoes.", call_to_action="Act now",
            landing_page_text="Terms apply. Hurry up.")
    found = {v.policy_id: v for v in detect(ad)}
    urgency = [(e.field, e.text, e.start, e.end) for e in found["false_urgency"].evidence]
    assert urgency == [("headline", "LAST CHANCE", 0, 11), ("call_to_action", "Act now", 0, 7),
                       ("landing_page_text", "Hurry up", 13, 21)]
    gimmick = [(e.field, e.text, e.start, e.end) for e in found["gimmicky_formatting"].evidence]
    assert gimmick == [("headline", "LAST CHANCE", 0, 11), ("headline", "!!!", 11, 14)]


def test_overlapping_spans_are_merged():
    found = {v.policy_id: v for v in detect(Ad(body="The best coffee in the world."))}
    [ev] = found["unverifiable_superlatives"].evidence  # "The best" + "best coffee in the world"
    assert (ev.text, ev.start, ev.end) == ("The best coffee in the world", 0, 28)


def test_violation_fields_come_from_catalogue():
    [v] = detect(Ad(body="Lose 10 kg in 2 weeks."))
    policy = get_policy("weight_loss_claims")
    assert (v.policy_id, v.policy, v.severity, v.source) == (
        policy.id, policy.name, policy.severity, "rule")
    assert '"Lose 10 kg"' in v.explanation


def test_policy_filter_and_unknown_ids():
    ad = Ad(body="Hurry! The best deal!!")
    assert detected_policy_ids(ad) == ["false_urgency", "gimmicky_formatting",
                                       "unverifiable_superlatives"]
    assert detected_policy_ids(ad, ["false_urgency"]) == ["false_urgency"]
    assert detected_policy_ids(ad, ["shocking_content"]) == []  # model-only policy: no rule
    with pytest.raises(UnknownPolicyError):
        detect(ad, ["nope"])


def test_rule_coverage_matches_catalogue_flags():
    ids = rule_policy_ids()
    assert "shocking_content" not in ids and "gimmicky_formatting" in ids
    assert all(get_policy(i).detector for i in ids)


def test_curly_apostrophes_and_case():
    assert texts("YOU WON’T BELIEVE this", "clickbait") == ["YOU WON’T BELIEVE"]
