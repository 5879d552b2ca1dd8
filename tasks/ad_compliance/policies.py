"""The ad-policy catalogue: one definition of each policy, used by rules, prompts, data and API.

The wording is this project's own summary of themes common to public advertising standards
(platform ad policies and advertising codes). It is a reviewing aid, not legal advice.

``Policy.detector`` says whether :mod:`tasks.ad_compliance.detectors` has deterministic rules for
the policy; policies without one are left to the model's judgement.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from .datatypes import Severity


class UnknownPolicyError(KeyError):
    """Raised for a policy id that is not in the catalogue."""

    def __init__(self, policy_id: object) -> None:
        self.policy_id = policy_id
        super().__init__(
            f"unknown ad policy id {policy_id!r}; known ids: {', '.join(policy_ids())}"
        )

    def __str__(self) -> str:  # KeyError's str() would repr() the message
        return str(self.args[0])


class Policy(BaseModel):
    """One ad policy."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Stable slug, e.g. health_claims.")
    name: str
    description: str
    severity: Severity
    violating_examples: tuple[str, ...] = Field(min_length=2, max_length=3)
    compliant_examples: tuple[str, ...] = Field(min_length=2, max_length=3)
    detector: bool = Field(description="True when deterministic rule detectors cover it.")


def _p(id_: str, name: str, severity: Severity, detector: bool, description: str,
       violating: tuple[str, ...], compliant: tuple[str, ...]) -> Policy:
    return Policy(id=id_, name=name, severity=severity, detector=detector,
                  description=" ".join(description.split()),
                  violating_examples=violating, compliant_examples=compliant)


POLICIES: tuple[Policy, ...] = (
    _p("health_claims", "Unsubstantiated health or cure claims", "high", True,
       """Claims that a product cures, reverses or eliminates a disease or medical condition, or
       replaces medical treatment, without approval or evidence. Modest, supportable wellness
       wording ("supports", "may help") is acceptable.""",
       ("Our herbal drops cure diabetes in 30 days.",
        "Throw away your blood pressure pills: this tea reverses hypertension."),
       ("Vitamin D supports normal immune function.",
        "Talk to your pharmacist about this season's flu vaccine.")),
    _p("guaranteed_returns", "Guaranteed financial returns", "high", True,
       """Promises of certain or risk-free investment returns, income or profit, or claims that
       money cannot be lost. Financial ads may describe products and historic rates with the
       usual risk caveats.""",
       ("Guaranteed 20% monthly returns with our crypto bot.",
        "Double your money in a week, zero risk.",
        "Make $500 a day from home."),
       ("Savings account: 4.1% AER variable. Capital at risk for investments.",
        "Past performance is not a reliable indicator of future results.")),
    _p("misleading_pricing", "Misleading prices or 'free' offers", "medium", True,
       """Prices, discounts or 'free' offers that overstate the deal or hide its conditions:
       'totally free' offers with hidden charges, free prizes or cash, 'no catch' promises.
       Clear, conditional offers are fine.""",
       ("100% FREE iPhone, just pay shipping!", "Get it absolutely free, no strings attached."),
       ("Free shipping on orders over $50.", "Start a 14-day free trial, then $9.99/month.")),
    _p("false_urgency", "False urgency or scarcity", "medium", True,
       """Pressure to act immediately through invented deadlines, countdowns or stock levels
       ('act now', 'only 2 left', 'last chance'). A real, specific end date is acceptable.""",
       ("Hurry! Only 3 left at this price!", "Act now before it's too late."),
       ("Spring sale ends Sunday 12 May.", "Tickets on sale from 9am Friday.")),
    _p("weight_loss_claims", "Before/after and rapid weight-loss claims", "high", True,
       """Promises of specific or rapid weight loss, before/after body comparisons, or fat loss
       without diet or exercise.""",
       ("Lose 30 lbs in 30 days!", "Melt belly fat without diet or exercise.",
        "See my before and after: down 4 dress sizes."),
       ("A balanced meal plan built with registered dietitians.",
        "Track your workouts and meals in one app.")),
    _p("prohibited_products", "Prohibited products", "critical", True,
       """Promotion of tobacco and nicotine products (cigarettes, vapes, e-liquids), weapons and
       ammunition, or recreational drugs. Quit-smoking aids, toy water guns and similar are not
       covered.""",
       ("Premium vape juice, 20 flavours, shipped discreetly.",
        "AR-15 rifles and ammo in stock now.", "Buy THC gummies online."),
       ("Quit smoking for good with our coaching app.", "Summer water guns for the whole family.")),
    _p("alcohol_minors", "Alcohol aimed at minors", "critical", True,
       """Alcohol advertising that targets or appeals to people under the legal drinking age:
       teens, students under 21, school events, characters or themes aimed at children.""",
       ("Teens love our fruity vodka pops!", "Back-to-school party pack: beer for high schoolers."),
       ("Craft beer tasting for adults 21+. Please drink responsibly.",
        "Our new pale ale pairs well with barbecue.")),
    _p("personal_attributes", "Assertions about personal attributes", "high", True,
       """Copy that asserts or implies knowledge of the reader's personal characteristics:
       health, finances, debt, body, religion, sexuality, relationship status, age. Ads may
       describe what a service does without addressing the reader's condition.""",
       ("Are you in debt? We can help.", "Struggling with depression?",
        "You're overweight and it's time to act."),
       ("Debt advice from qualified counsellors.", "Therapy sessions online, on your schedule.")),
    _p("shocking_content", "Shocking or sensational content", "medium", False,
       """Content designed to shock or scare: gore, disgusting imagery, violent or fear-mongering
       language, exploiting tragedy to sell.""",
       ("Disgusting parasites are eating you alive from the inside!",
        "Gruesome crash footage: this could be your family."),
       ("Drive safely this holiday weekend.", "Regular check-ups help catch problems early.")),
    _p("gimmicky_formatting", "Gimmicky formatting", "low", True,
       """Attention-grabbing formatting instead of content: excessive capitals, repeated
       punctuation or symbols, spaced-out letters, symbols replacing letters.""",
       ("BUY NOW AND SAVE BIG!!!", "$$$ Ca$h in today $$$", "F R E E gift inside"),
       ("Buy now and save 20%.", "New arrivals at IKEA and H&M.")),
    _p("unverifiable_superlatives", "Unverifiable superlatives", "low", True,
       """Claims of being the best, #1, the cheapest or the world's leading product without an
       independent, cited source.""",
       ("The #1 dating app in America.", "The best coffee in the world."),
       ("Rated 4.6 by 12,000 customers on Trustpilot (May 2024).", "Best regards, the team.")),
    _p("fake_endorsements", "Fake endorsements and testimonials", "high", True,
       """Invented or unauthorised endorsements: celebrities or public figures said to back a
       product, fabricated expert approval, made-up customer testimonials.""",
       ("Elon Musk reveals his secret investment platform.",
        "Oprah swears by these keto gummies."),
       ("'Great service' - verified customer review, Google, March 2024.",
        "Featured in our own customer stories.")),
    _p("clickbait", "Clickbait", "medium", True,
       """Headlines that withhold information to bait a click or exaggerate the surprise:
       'you won't believe', 'this one weird trick', 'doctors hate him'.""",
       ("You won't believe what happened next!", "This one weird trick erases debt.",
        "Doctors hate him for this discovery."),
       ("How our app helps you save $200 a year.", "Read the full story on our blog.")),
)

_BY_ID: dict[str, Policy] = {p.id: p for p in POLICIES}
assert len(_BY_ID) == len(POLICIES), "duplicate policy id"


def policy_ids() -> tuple[str, ...]:
    """All policy ids, in catalogue order."""
    return tuple(_BY_ID)


def get_policy(policy_id: str) -> Policy:
    """The policy with id ``policy_id``; raises :class:`UnknownPolicyError` if none."""
    try:
        return _BY_ID[policy_id]
    except (KeyError, TypeError):
        raise UnknownPolicyError(policy_id) from None


def select_policies(ids: Iterable[str] | None = None) -> tuple[Policy, ...]:
    """The policies named by ``ids`` in catalogue order (all when ``ids`` is None).

    Raises :class:`UnknownPolicyError` for the first unknown id, and ``ValueError`` for an
    empty selection (checking against no policy is almost certainly a caller bug).
    """
    if ids is None:
        return POLICIES
    wanted = set()
    for pid in ids:
        wanted.add(get_policy(pid).id)
    if not wanted:
        raise ValueError("policies must name at least one policy id (or be omitted for all)")
    return tuple(p for p in POLICIES if p.id in wanted)
