"""Every violation form, by policy and by pool (train / held-out), checked once at import."""

from __future__ import annotations

from ..policies import policy_ids
from .audience import ALCOHOL_MINORS, PERSONAL_ATTRIBUTES, PROHIBITED_PRODUCTS, SHOCKING_CONTENT
from .forms import Form, Pool
from .health import HEALTH_CLAIMS, WEIGHT_LOSS_CLAIMS
from .money import FALSE_URGENCY, GUARANTEED_RETURNS, MISLEADING_PRICING
from .negatives import NEGATIVES
from .products import ALL_CATEGORIES
from .style import CLICKBAIT, FAKE_ENDORSEMENTS, GIMMICKY_FORMATTING, UNVERIFIABLE_SUPERLATIVES

FORMS: dict[str, list[Form]] = {
    "health_claims": HEALTH_CLAIMS,
    "guaranteed_returns": GUARANTEED_RETURNS,
    "misleading_pricing": MISLEADING_PRICING,
    "false_urgency": FALSE_URGENCY,
    "weight_loss_claims": WEIGHT_LOSS_CLAIMS,
    "prohibited_products": PROHIBITED_PRODUCTS,
    "alcohol_minors": ALCOHOL_MINORS,
    "personal_attributes": PERSONAL_ATTRIBUTES,
    "shocking_content": SHOCKING_CONTENT,
    "gimmicky_formatting": GIMMICKY_FORMATTING,
    "unverifiable_superlatives": UNVERIFIABLE_SUPERLATIVES,
    "fake_endorsements": FAKE_ENDORSEMENTS,
    "clickbait": CLICKBAIT,
}
POLICIES: tuple[str, ...] = tuple(p for p in policy_ids() if p in FORMS)
"""Policies in catalogue order (the order matters: draws index into it)."""


def _by_pool() -> dict[Pool, dict[str, list[Form]]]:
    """Forms split by pool. A text that two keys put in different pools stays held out only,
    so no held-out surface form is ever seen in training."""
    heldout_texts = {f.text for forms in FORMS.values() for f in forms if f.pool == "heldout"}
    out: dict[Pool, dict[str, list[Form]]] = {"train": {}, "heldout": {}}
    for policy, forms in FORMS.items():
        out["heldout"][policy] = [f for f in forms if f.pool == "heldout"]
        out["train"][policy] = [f for f in forms
                                if f.pool == "train" and f.text not in heldout_texts]
    return out


FORMS_BY = _by_pool()
FORMS_BY_CATEGORY: dict[Pool, dict[str, dict[str, list[Form]]]] = {
    pool: {cat: {p: [f for f in forms if cat in f.categories] for p, forms in by_policy.items()}
           for cat in ALL_CATEGORIES}
    for pool, by_policy in FORMS_BY.items()}

assert set(POLICIES) == set(policy_ids()), "every policy needs forms"
assert all(f.labels[0] == policy for policy, forms in FORMS.items() for f in forms)
assert all(FORMS_BY[pool][p] for pool in FORMS_BY for p in POLICIES), "a pool lacks a policy"
assert {n.pool for n in NEGATIVES} == {"train", "heldout"}
