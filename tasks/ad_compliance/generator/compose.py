"""Drawing one ad: product copy, injected violations, hard negatives, gold findings, revision.

For each ad, with the caller's ``random.Random``:

1. how many violations: 0, 1 or 2 (probabilities 0.35 / 0.45 / 0.20);
2. none: a compliant ad for a product of a random allowed category. Otherwise a policy drawn
   uniformly; for ``prohibited_products`` 30% of the time an ad *for* a prohibited product (its
   finding quotes the sentence naming the product, with no fix). Else one of the policy's forms
   from the split's pool, then a product the form fits. A second violation, if any, is a form of
   another policy that fits the same product and a free slot;
3. hard negatives (compliant trigger-full sentences whose ``mimics`` avoid the ad's labels): on
   35% of compliant ads (a second one on a quarter of those) and 20% of violating ones. Body
   violations and hard negatives open the body or close it, or (about a third of the closing
   ones) follow the product's benefit sentence mid-body;
4. neutral details (:mod:`.details`, from the ad's pool) top every ad's added body sentences (violations and
   hard negatives) up to counts drawn from :data:`BODY_SENTENCES_ADDED`, so that length says
   nothing about the labels (without them, compliant ads were shorter and length alone told the
   classes apart at AUC 0.72, a shortcut a trained model took; results/ads-expert/calibrated/).
   Compliant ads carry more of them, so they are hundreds of phrasings with held-out cores, not a
   fixed few a model could learn as "the compliant sentences" (:mod:`.details`);
5. a landing page: on 5% of violating ads one body violation moves there (the revision is then
   None: revisions cannot change the landing page); otherwise 20% of violating ads and
   :data:`LANDING_SHARE` of the others get a plain one;
6. gold findings: one per label of each form, quoting its text exactly as it appears; the gold
   revision replaces every quote by its fix in headline, body and call to action.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..datatypes import AdField
from .catalogue import FORMS_BY, FORMS_BY_CATEGORY, POLICIES, Pool
from .details import DETAILS_BY_POOL
from .forms import RESTORE, Form, Negative
from .negatives import BY_CATEGORY as NEGATIVES_BY
from .products import (ALLOWED_CATEGORIES, BODIES, BRANDS, HEADLINES, ITEMS, LANDING,
                       MASS_NOUNS, PROHIBITED_CATEGORIES, Product)

BODY_SENTENCES_ADDED = (0.06, 0.54, 0.34, 0.06)
"""Weights of 0, 1, 2 or 3 sentences added to the product copy, the distribution the violations and
hard negatives of violating ads give. Every ad is topped up with neutral details to the larger of two
counts drawn from it (a violating ad's own sentences already are one such draw), so a compliant ad is
as long as a violating one: the labels do not leak through length."""

LANDING_SHARE = 0.05 + 0.95 * 0.2
"""Ads with a landing page: on ads with violations, 5% carry one moved there and 20% of the rest a plain
one; ads without get a plain one as often, so the landing page's length says nothing either."""

_SLOT_FIELD: dict[str, AdField] = {"headline": "headline", "cta": "call_to_action",
                                   "body_start": "body", "body_end": "body"}


@dataclass(frozen=True)
class Finding:
    """A gold finding with the field its quote sits in (``fix`` None: no rewording fixes it)."""

    policy_id: str
    field: AdField
    quote: str
    fix: str | None


@dataclass(frozen=True)
class Draft:
    """One generated ad with everything the generator knows about it."""

    headline: str
    body: str
    call_to_action: str
    landing_page_text: str | None
    labels: tuple[str, ...]
    findings: tuple[Finding, ...]
    revision: tuple[str, str, str] | None
    """(headline, body, call_to_action) with every quote replaced by its fix."""
    product: Product
    forms: tuple[Form, ...]
    negatives: tuple[str, ...]
    """The hard-negative sentences it carries, as they appear in the ad."""


def _article(item: str) -> str:
    """"an IELTS course", "a meal kit"; plural and mass nouns ("running shoes", "granola") take
    none."""
    if item.endswith("s") or item in MASS_NOUNS:
        return item
    return ("an " if item[0].lower() in "aeiou" or item.startswith(("IELTS", "LED")) else "a ") \
        + item


def draw_product(rng: random.Random, category: str) -> Product:
    spec = rng.choice(ITEMS[category])
    return Product(category, rng.choice(BRANDS[category]), spec.item, spec.benefit,
                   rng.choice(spec.offers), rng.choice(spec.ctas))


def _fits(form: Form, category: str, used_slots: set[str]) -> bool:
    return category in form.categories and not (form.slot in ("headline", "cta")
                                                and form.slot in used_slots)


def _choose_forms(rng: random.Random, pool: Pool, n: int) -> tuple[Product, list[Form]]:
    policy = rng.choice(POLICIES)
    if policy == "prohibited_products" and rng.random() < 0.3:
        product = draw_product(rng, rng.choice(PROHIBITED_CATEGORIES))
        first: list[Form] = []
    else:
        form = rng.choice(FORMS_BY[pool][policy])
        allowed = [c for c in form.categories if c in ALLOWED_CATEGORIES]
        product = draw_product(rng, rng.choice(allowed))
        first = [form]
    if n == 2:
        taken = set(first[0].labels) if first else {"prohibited_products"}
        slots = {f.slot for f in first}
        fitting = FORMS_BY_CATEGORY[pool][product.category]
        options = {p: [f for f in fitting.get(p, ()) if _fits(f, product.category, slots)
                       and not taken & set(f.labels)] for p in POLICIES if p not in taken}
        options = {p: fs for p, fs in options.items() if fs}
        if options:
            first.append(rng.choice(options[rng.choice(sorted(options))]))
    return product, first


def _negatives(rng: random.Random, pool: Pool, category: str, labels: set[str],
               count: int) -> list[Negative]:
    """``count`` hard negatives of different families, each drawn uniformly from the sentences
    that fit (so the bigger, compositional families, mostly trigger-full, come up most)."""
    options = [n for n in NEGATIVES_BY.get(category, []) if n.pool == pool
               and not labels & set(n.mimics)]
    chosen: list[Negative] = []
    for _ in range(count):
        rest = [n for n in options if n.family not in {c.family for c in chosen}]
        if rest:
            chosen.append(rng.choice(rest))
    return chosen


def draw(rng: random.Random, pool: Pool) -> Draft:
    """One ad drawn from ``pool``'s forms (see the module doc)."""
    n = rng.choices((0, 1, 2), weights=(0.35, 0.45, 0.20))[0]
    if n == 0:
        product, forms = draw_product(rng, rng.choice(ALLOWED_CATEGORIES)), []
    else:
        product, forms = _choose_forms(rng, pool, n)
    labels = {label for f in forms for label in f.labels}
    if product.prohibited:
        labels.add("prohibited_products")
    if n == 0:
        count = int(rng.random() < 0.35)
        count += count and rng.random() < 0.25
    else:
        count = int(rng.random() < 0.2)
    negs = _negatives(rng, pool, product.category, labels, count) if count else []
    added = sum(f.slot in ("body_start", "body_end") for f in forms) + len(negs)
    # an ad with violations already holds one draw (its own sentences); the max of it and one more
    # draw is matched on the others by the max of two draws
    target = max(rng.choices(range(len(BODY_SENTENCES_ADDED)), weights=BODY_SENTENCES_ADDED, k=1 if forms else 2))
    details = rng.sample(DETAILS_BY_POOL[pool], max(0, target - added))
    to_landing = bool(labels) and rng.random() < 0.05
    return _compose(rng, product, forms, negs, details, sorted(labels), to_landing)


def _compose(rng: random.Random, product: Product, forms: list[Form], negs: list[Negative],
             details: list[str], labels: list[str], to_landing: bool) -> Draft:
    fmt = {"name": product.name, "item": product.item, "a_item": _article(product.item),
           "benefit": product.benefit, "offer": product.offer}
    plain_headline = rng.choice(HEADLINES).format(**fmt)
    fmt.update(headline=plain_headline, headline_upper=plain_headline.upper())
    headline, cta = plain_headline, product.cta
    body_start: list[str] = []
    body_end: list[str] = []
    landing_extra: list[str] = []
    findings: list[Finding] = []
    movable = [f for f in forms if f.slot in ("body_start", "body_end")]
    landing_form = rng.choice(movable) if to_landing and movable else None
    for form in forms:
        text = form.text.format(**fmt)
        if form.fix == RESTORE:
            fix = plain_headline if form.slot == "headline" else product.cta
        else:
            fix = form.fix.format(**fmt)
        field = _SLOT_FIELD[form.slot]
        if form is landing_form:
            field = "landing_page_text"
            landing_extra.append(text)
        elif form.slot == "headline":
            headline = text
        elif form.slot == "cta":
            cta = text
        else:
            (body_start if form.slot == "body_start" else body_end).append(text)
        findings += [Finding(label, field, text, fix) for label in form.labels]
    neg_texts = [neg.text.format(**fmt) for neg in negs]
    body_end += neg_texts + [detail.format(**fmt) for detail in details]
    # Not always last: about a third of the end-of-body sentences go right after the benefit.
    mid = [t for t in body_end if rng.random() < 0.35]
    body_end = [t for t in body_end if t not in mid]
    middle = rng.choice(BODIES).format(**{**fmt, "benefit": " ".join([product.benefit, *mid])})
    body = " ".join(body_start + [middle] + body_end)
    if product.prohibited:
        findings.insert(0, Finding("prohibited_products", "body", product.benefit, None))
    landing = None
    if landing_extra or rng.random() < (0.2 if forms else LANDING_SHARE):
        landing = " ".join([rng.choice(LANDING).format(**fmt)] + landing_extra)
    fixable = not product.prohibited and landing_form is None
    revision = _revise(headline, body, cta, findings) if findings and fixable else None
    return Draft(headline, body, cta, landing, tuple(labels), tuple(findings), revision,
                 product, tuple(forms), tuple(neg_texts))


def _revise(headline: str, body: str, cta: str,
            findings: list[Finding]) -> tuple[str, str, str]:
    fields = {"headline": headline, "body": body, "call_to_action": cta}
    done: set[tuple[str, str]] = set()
    for f in findings:
        if (f.field, f.quote) in done:
            continue
        done.add((f.field, f.quote))
        assert f.fix is not None and f.field in fields
        fields[f.field] = " ".join(fields[f.field].replace(f.quote, f.fix, 1).split())
    return fields["headline"], fields["body"], fields["call_to_action"]
