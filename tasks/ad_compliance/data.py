"""Labelled ads: a seeded synthetic generator, JSONL I/O and the hand-written test set.

Record format (one JSON object per line)::

    {"id": str, "ad": {"headline"?, "body", "call_to_action"?, "landing_page_text"?},
     "labels": [policy ids, sorted], "split": "train" | "dev" | "test" | "handwritten",
     "subtle"?: bool, "findings"?: [{"policy_id", "quote", "fix"}],
     "revision"?: {"headline", "body", "call_to_action", "changes": []}}

Generator (:func:`generate_dataset`): the building blocks and the drawing of one ad live in
:mod:`.generator` (see :mod:`.generator.compose`). Each record carries gold findings (the exact
quote of every injected violation and its minimal fix) and a gold revision (every quote replaced
by its fix), or None where no rewording fixes the ad. Train ads draw their violations and hard
negatives from the train pool of surface forms; dev and test ads from the held-out pool, which
train never sees (see :mod:`.generator.forms`). Exact duplicates (same headline, body and call to
action) are skipped and drawn again, so a given seed and sizes always give the same records.
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
from .generator.compose import Draft, draw
from .policies import UnknownPolicyError, get_policy

Split = Literal["train", "dev", "test", "handwritten"]
DEFAULT_SIZES: Mapping[str, int] = {"train": 4000, "dev": 200, "test": 400}
HANDWRITTEN_FILE = "handwritten_test.jsonl"


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


def generate_drafts(seed: int = 0, sizes: Mapping[str, int] = DEFAULT_SIZES,
                    max_attempts_factor: int = 50) -> list[tuple[str, Draft]]:
    """The (split, draft) pairs behind :func:`generate_dataset`: the drafts also carry the
    product, the forms and the hard negatives each ad was built from (for tests and stats)."""
    order = [s for s in ("train", "dev", "test") if sizes.get(s, 0) > 0]
    total = sum(sizes[s] for s in order)
    rng = random.Random(seed)
    seen: set[tuple[str | None, str, str | None]] = set()
    drafts: list[tuple[str, Draft]] = []
    attempts = 0
    for split in order:
        pool = "train" if split == "train" else "heldout"
        wanted = len(drafts) + sizes[split]
        while len(drafts) < wanted:
            attempts += 1
            if attempts > total * max_attempts_factor:
                raise ValueError(f"could only build {len(drafts)} unique ads of {total} requested")
            draft = draw(rng, pool)
            key = (draft.headline, draft.body, draft.call_to_action)
            if key not in seen:
                seen.add(key)
                drafts.append((split, draft))
    return drafts


def to_record(id_: str, split: Split, draft: Draft) -> LabelledAd:
    """The labelled ad of one draft."""
    ad = Ad(headline=draft.headline, body=draft.body, call_to_action=draft.call_to_action,
            landing_page_text=draft.landing_page_text)
    findings = [GoldFinding(policy_id=f.policy_id, quote=f.quote, fix=f.fix)
                for f in draft.findings]
    revision = None
    if draft.revision is not None:
        headline, body, cta = draft.revision
        revision = Revision(headline=headline, body=body, call_to_action=cta)
    return LabelledAd(id=id_, ad=ad, labels=list(draft.labels), split=split,
                      findings=findings, revision=revision)


def generate_dataset(seed: int = 0, sizes: Mapping[str, int] = DEFAULT_SIZES,
                     max_attempts_factor: int = 50) -> list[LabelledAd]:
    """Deterministic labelled ads for ``seed``: ``sizes[split]`` unique ads per split, in the
    order train, dev, test (any subset of those keys). Raises ``ValueError`` if the generator
    cannot produce that many unique ads."""
    return [to_record(f"gen{seed}-{i:05d}", split, draft)
            for i, (split, draft) in enumerate(generate_drafts(seed, sizes, max_attempts_factor))]


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
