"""Labelled ads: a seeded synthetic generator, JSONL I/O and the hand-written test set.

Record format (one JSON object per line)::

    {"id": str, "ad": {"headline"?, "body", "call_to_action"?, "landing_page_text"?},
     "labels": [policy ids, sorted], "split": "train" | "dev" | "test" | "handwritten"}

Generator (:func:`generate_dataset`): for each ad, with ``random.Random(seed)``:

1. draw how many violations to inject: 0, 1 or 2 (probabilities 0.35 / 0.45 / 0.20);
2. none: a compliant ad for a random allowed product. Otherwise draw the first policy
   uniformly, then one of its snippets, then a product the snippet fits (for
   ``prohibited_products``, half the time a prohibited product with no snippet: such ads are
   always labelled ``prohibited_products``); a second snippet, if any, fits the same product and
   carries other labels;
3. build the copy from a headline template, a body template and the product's offer/CTA, the
   snippets replacing the headline or CTA or extending the body; labels are the union of the
   snippets' labels;
4. with probability 0.3 add a hard-negative sentence (compliant but rule-like), and with
   probability 0.2 a short landing page text;
5. skip exact duplicates (same headline, body and call to action) and draw again.

The first ``sizes["train"]`` unique ads form the train split, then dev, then test, so a given seed
and sizes always give the same records. Building blocks live in :mod:`.templates`;
LABELLING.md describes the labelling rules both sets follow.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from .datatypes import Ad, Revision
from .policies import UnknownPolicyError, get_policy
from .templates import (BODIES, HARD_NEGATIVES, HEADLINES, PRODUCTS, PROHIBITED_CATEGORIES,
                        SNIPPETS, Product, Snippet)

Split = Literal["train", "dev", "test", "handwritten"]
DEFAULT_SIZES: Mapping[str, int] = {"train": 600, "dev": 100, "test": 100}
HANDWRITTEN_FILE = "handwritten_test.jsonl"
_POLICIES_WITH_DATA = tuple(SNIPPETS)


class GoldFinding(BaseModel):
    """Where a labelled ad breaks one policy: ``quote`` is copied exactly from one of its fields;
    ``fix`` replaces it in a minimal compliant revision ("" drops it; None where no rewording
    fixes the ad, e.g. a prohibited product)."""

    model_config = ConfigDict(extra="forbid")

    policy_id: str
    quote: str
    fix: str | None = None


class LabelledAd(BaseModel):
    """One ad with its gold policy labels (empty = compliant).

    Optional gold detail, where the source knows it: ``findings`` (exact quotes per label, the
    generator knows what it injected), ``revision`` (a minimal compliant rewrite that keeps the
    product, brand, price and genuine offer; None where no rewording can fix the ad, e.g. a
    prohibited product) and ``subtle`` (hand-written ads whose violation, or compliance, a keyword
    rule would get wrong).
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    ad: Ad
    labels: list[str]
    split: Split
    subtle: bool = False
    findings: list[GoldFinding] = []
    revision: Revision | None = None

    @field_validator("labels")
    @classmethod
    def _known_sorted_unique(cls, labels: list[str]) -> list[str]:
        for pid in labels:
            try:
                get_policy(pid)
            except UnknownPolicyError as exc:
                raise ValueError(str(exc)) from None
        return sorted(set(labels))

    @property
    def compliant(self) -> bool:
        return not self.labels


def _compose(rng: random.Random, product: Product, snippets: list[Snippet]) -> tuple[Ad, set[str]]:
    fmt = {"name": product.name, "item": product.item, "benefit": product.benefit,
           "offer": product.offer}
    headline = rng.choice(HEADLINES).format(**fmt)
    fmt["headline_upper"] = headline.upper()
    body_start: list[str] = []
    body_end: list[str] = []
    cta = product.cta
    labels: set[str] = set()
    if product.category in PROHIBITED_CATEGORIES:
        labels.add("prohibited_products")
    slots_used: set[str] = set()
    for snip in snippets:
        text = snip.text.format(**fmt)
        slot = snip.slot if snip.slot not in slots_used else "body_end"
        slots_used.add(slot)
        labels.update(snip.labels)
        if slot == "headline":
            headline = text
        elif slot == "cta":
            cta = text
        elif slot == "body_start":
            body_start.append(text)
        else:
            body_end.append(text)
    if rng.random() < 0.3:
        pool = HARD_NEGATIVES["any"] + HARD_NEGATIVES.get(product.category, ())
        body_end.append(rng.choice(pool))
    body = " ".join(body_start + [rng.choice(BODIES).format(**fmt)] + body_end)
    landing = None
    if rng.random() < 0.2:
        landing = f"{product.name}: {product.item}. {product.benefit} {product.offer} Terms apply."
    return Ad(headline=headline, body=body, call_to_action=cta, landing_page_text=landing), labels


def _draw(rng: random.Random) -> tuple[Ad, set[str]]:
    """One ad: 0-2 injected violations, policies drawn uniformly (see the module doc)."""
    allowed = [p for p in PRODUCTS if p.category not in PROHIBITED_CATEGORIES]
    n = rng.choices((0, 1, 2), weights=(0.35, 0.45, 0.20))[0]
    if n == 0:
        return _compose(rng, rng.choice(allowed), [])
    policy = rng.choice(_POLICIES_WITH_DATA)
    if policy == "prohibited_products" and rng.random() < 0.5:
        product = rng.choice([p for p in PRODUCTS if p.category in PROHIBITED_CATEGORIES])
        return _compose(rng, product, [])
    first = rng.choice(SNIPPETS[policy])
    product = rng.choice([p for p in allowed if p.category in first.categories])
    chosen = [first]
    if n == 2:
        options = [s for group in SNIPPETS.values() for s in group
                   if product.category in s.categories and not set(s.labels) & set(first.labels)]
        if options:
            chosen.append(rng.choice(options))
    return _compose(rng, product, chosen)


def generate_dataset(seed: int = 0, sizes: Mapping[str, int] = DEFAULT_SIZES,
                     max_attempts_factor: int = 50) -> list[LabelledAd]:
    """Deterministic labelled ads for ``seed``: ``sizes[split]`` unique ads per split, in the
    order train, dev, test (any subset of those keys). Raises ``ValueError`` if the templates
    cannot produce that many unique ads."""
    order = [s for s in ("train", "dev", "test") if sizes.get(s, 0) > 0]
    total = sum(sizes[s] for s in order)
    rng = random.Random(seed)
    seen: set[tuple[str | None, str, str | None]] = set()
    records: list[LabelledAd] = []
    boundaries = [(s, sum(sizes[t] for t in order[: i + 1])) for i, s in enumerate(order)]
    attempts = 0
    while len(records) < total:
        attempts += 1
        if attempts > total * max_attempts_factor:
            raise ValueError(f"could only build {len(records)} unique ads of {total} requested")
        ad, labels = _draw(rng)
        key = (ad.headline, ad.body, ad.call_to_action)
        if key in seen:
            continue
        seen.add(key)
        split = next(s for s, end in boundaries if len(records) < end)
        records.append(LabelledAd(id=f"gen{seed}-{len(records):05d}", ad=ad,
                                  labels=sorted(labels), split=split))
    return records


def to_json_line(record: LabelledAd) -> str:
    """One JSONL line (fields at their defaults omitted, non-ASCII kept)."""
    return json.dumps(record.model_dump(exclude_defaults=True), ensure_ascii=False)


def write_jsonl(records: Iterable[LabelledAd], path: str | Path) -> int:
    """Write ``records`` to ``path`` as JSONL (parent folders created); returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(to_json_line(record) + "\n")
            n += 1
    return n


def parse_jsonl(text: str, source: str = "<text>") -> list[LabelledAd]:
    """Parse JSONL text into records; a bad line raises ``ValueError`` naming its line number."""
    records = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(LabelledAd.model_validate_json(line))
        except ValueError as exc:
            raise ValueError(f"{source}:{lineno}: invalid labelled ad: {exc}") from exc
    return records


def read_jsonl(path: str | Path) -> list[LabelledAd]:
    """Read records written by :func:`write_jsonl` (or in the same format)."""
    return parse_jsonl(Path(path).read_text(encoding="utf-8"), str(path))


def load_handwritten() -> list[LabelledAd]:
    """The hand-written, hand-labelled test set shipped inside this package (split
    "handwritten")."""
    resource = resources.files(__package__).joinpath(HANDWRITTEN_FILE)
    return parse_jsonl(resource.read_text(encoding="utf-8"), HANDWRITTEN_FILE)
