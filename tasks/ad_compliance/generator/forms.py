"""Compositional surface forms: one grammar expands into hundreds of phrasings per policy.

A *family* is a template with ``[piece]`` slots and a list of alternatives per slot; expanding it
gives one :class:`Form` per combination. ``{name}`` / ``{item}`` placeholders are left in the text
and filled with the product when an ad is built.

Held-out split: every form has a ``key``, the family id plus its ``[core]`` piece (the claim
itself, e.g. "reverses type 2 diabetes"). Within each family, the cores are ordered by a stable
hash (SHA-1, the same on every run and platform) and the first quarter of them (at least one,
when the family has two or more) go to the held-out pool that the dev and test splits draw
from; train never sees those cores in any combination, so generated-test scores measure
generalisation to new phrasings, not recall of memorised ones. Holding out cores rather than
whole strings matters: with whole strings, test forms would differ from train forms only in a
lead-in or a tail. Holding out per family keeps both kinds of phrasing, with and without
trigger words, in both pools.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Slot = Literal["headline", "body_start", "body_end", "cta"]
Pool = Literal["train", "heldout"]

RESTORE = "<restore>"
"""A fix meaning "put back what the form displaced": the plain headline or the product's CTA."""

HELDOUT_SHARE = 0.25
"""The share of each family's cores held out for dev and test."""


@dataclass(frozen=True)
class Form:
    """One surface form of a violation.

    ``fix`` is its minimal compliant replacement: "" drops it, :data:`RESTORE` puts back the
    displaced headline or CTA, anything else replaces it (placeholders allowed).
    """

    labels: tuple[str, ...]
    text: str
    fix: str
    slot: Slot
    categories: tuple[str, ...]
    family: str
    key: str
    pool: Pool


@dataclass(frozen=True)
class Negative:
    """A compliant sentence full of trigger words (a hard negative).

    ``mimics`` names the policies it looks like (and that rules may misfire on); the generator
    never adds it to an ad labelled with one of them, so a gold revision of that ad stays clean.
    """

    text: str
    mimics: tuple[str, ...]
    categories: tuple[str, ...]
    family: str
    key: str
    pool: Pool


def heldout_keys(keys: Sequence[str]) -> set[str]:
    """The keys of one family that are held out (see the module doc)."""
    distinct = sorted(set(keys), key=_digest)
    if len(distinct) < 2:
        return set()
    return set(distinct[:max(1, round(len(distinct) * HELDOUT_SHARE))])


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


_PIECE = re.compile(r"\[(\w+)\]")


def tidy(text: str) -> str:
    """Collapse the spacing and punctuation that empty pieces or dropped quotes leave behind."""
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([.,!?;:])", r"\1", text)
    text = re.sub(r"([,;:])(?=[.!?])", "", text)
    text = re.sub(r"\.\s*\.", ".", text)
    text = re.sub(r"^[,;:]\s*", "", text)
    return re.sub(r"(^|[.!?] )([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)


def expand(template: str, pieces: Mapping[str, Sequence[str]]) -> list[tuple[str, str, dict]]:
    """Every combination of ``pieces`` in ``template``: (text, core, chosen pieces)."""
    names = list(dict.fromkeys(_PIECE.findall(template)))
    missing = [n for n in names if n not in pieces]
    if missing:
        raise KeyError(f"template {template!r} has no pieces for {missing}")
    out = []
    for combo in itertools.product(*(pieces[n] for n in names)):
        chosen = dict(zip(names, combo))
        text = _PIECE.sub(lambda m: chosen[m.group(1)], template)
        out.append((tidy(text), chosen.get("core", text), chosen))
    return out


def family(fid: str, labels: str | tuple[str, ...], slot: Slot, categories: tuple[str, ...],
           template: str, fixes: Sequence[str] = ("",), **pieces: Sequence[str]) -> list[Form]:
    """Expand one family of violation forms.

    ``fixes``: candidate replacements (templates with the same ``[piece]`` slots allowed); each
    form takes one, chosen by a stable hash of its text so the choice never depends on draw
    order.
    """
    labels = (labels,) if isinstance(labels, str) else labels
    expanded = expand(template, pieces)
    held = heldout_keys([f"{fid}:{core}" for _, core, _ in expanded])
    forms = []
    for text, core, chosen in expanded:
        fix = fixes[_stable_index(text, len(fixes))]
        if fix and fix != RESTORE:
            fix = tidy(_PIECE.sub(lambda m: chosen[m.group(1)], fix))
        key = f"{fid}:{core}"
        forms.append(Form(labels, text, fix, slot, categories, fid, key,
                          "heldout" if key in held else "train"))
    return forms


def negatives(fid: str, mimics: str | tuple[str, ...], categories: tuple[str, ...],
              template: str, **pieces: Sequence[str]) -> list[Negative]:
    """Expand one family of compliant trigger-full sentences."""
    mimics = (mimics,) if isinstance(mimics, str) else mimics
    expanded = expand(template, pieces)
    held = heldout_keys([f"{fid}:{core}" for _, core, _ in expanded])
    return [Negative(text, mimics, categories, fid, f"{fid}:{core}",
                     "heldout" if f"{fid}:{core}" in held else "train")
            for text, core, _ in expanded]


def _stable_index(text: str, n: int) -> int:
    return int(_digest(text)[8:16], 16) % n if n > 1 else 0
