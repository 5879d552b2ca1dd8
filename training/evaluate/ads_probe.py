"""``icegrt eval ads-probe``: how well a checkpoint trained on the compact ad format tells violating ads
from compliant ones, read from one forward pass per ad (no generation, no engine).

After the compact answer's opening ``{"violations":[`` one token decides the verdict: the one that
closes the empty list (compliant) or the one that opens a finding. ``p_violation`` is the second's
probability over the two. Reported: the AUC (the chance that a violating ad scores above a compliant
one; 0.5 is no discrimination), the mean ``p_violation`` of each class, and the shares flagged at a
few thresholds. About a minute for the 200 generated dev ads on this CPU: a check of a training
checkpoint before the endpoint's full evaluation (``icegrt eval ads``), on ads training never saw.

:func:`compare` sets two probes of the same ads side by side, paired per ad, and separates what a
greedy verdict mixes up: the *bias*, how much more readily one checkpoint flags every ad (the mean
change of the log-odds ``log p / (1 - p)``, over all ads and per class), and the *discrimination*,
whether it ranks violating above compliant ads better (the change of the AUC, by a paired bootstrap).
Rows pair by ad id and must carry the same ``ad_digest`` (the ad's text), else the probes are refused.
A compact-format SFT checkpoint holds most ads within a nat of even odds, so a small bias shift flips
many greedy verdicts while the AUC stays where it was (results/ppo-findings/README.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

OPENING = '{"violations":['
DIGEST_CHARS = 16
THRESHOLDS = (0.3, 0.5, 0.7, 0.9)


def decision_tokens(tokenizer: Any) -> tuple[list[int], int, int]:
    """(the answer's opening tokens, the compliant verdict's next token, a finding's next token):
    where the token ids of an empty and a non-empty compact answer first differ."""
    empty = tokenizer.encode(OPENING + "]}", add_special_tokens=False)
    finding = tokenizer.encode(OPENING + '{"policy_id":"', add_special_tokens=False)
    common = next(i for i, (a, b) in enumerate(zip(empty, finding)) if a != b)
    return empty[:common], empty[common], finding[common]


def ad_digest(ad: Any) -> str:
    """A short hash of the ad as the probe shows it: rows of two probes pair only when the ad is the same
    (generated ads keep their ids when the generator changes, their text does not)."""
    import hashlib

    from tasks.ad_compliance.compact import render_ad

    return hashlib.sha256(render_ad(ad).encode("utf-8")).hexdigest()[:DIGEST_CHARS]


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """P(a positive scores above a negative), ties counted half; None without both classes."""
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """AUC, class means and flagged shares per threshold of rows ``{violating, p_violation}``."""
    pos = [r["p_violation"] for r in rows if r["violating"]]
    neg = [r["p_violation"] for r in rows if not r["violating"]]

    def share(values: list[float], t: float) -> float | None:
        return round(sum(v > t for v in values) / len(values), 3) if values else None

    return {"ads": len(rows), "violating": len(pos), "auc": None if (a := auc(pos, neg)) is None else round(a, 4),
            "mean_p_violation": {"violating": round(sum(pos) / len(pos), 4) if pos else None,
                                 "compliant": round(sum(neg) / len(neg), 4) if neg else None},
            "flagged": {str(t): {"violating": share(pos, t), "compliant": share(neg, t)} for t in THRESHOLDS}}


def _log_odds(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def compare(rows: Sequence[dict[str, Any]], against: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Paired ``rows - against`` on their common ads (module docstring): ``bias`` (all ads, then
    ``violating`` and ``compliant``: mean log-odds change with its paired standard error) and ``auc``
    (difference by paired bootstrap). Raises ValueError when no ad is in both."""
    from training.evaluate.paired import align
    from training.evaluate.stats import paired_bootstrap, paired_difference

    pairs = list(zip(*align(list(rows), list(against))))
    if not pairs:
        raise ValueError("the two probes share no ad: probe the same split")
    if any(a.get("ad_digest") != b.get("ad_digest") for a, b in pairs):
        raise ValueError("the two probes read different ads under the same ids (the ad generator changed "
                         "between them): probe both with the same code")

    def bias(kind: bool | None) -> dict[str, Any]:
        chosen = [(a, b) for a, b in pairs if kind is None or a["violating"] == kind]
        return paired_difference([_log_odds(a["p_violation"]) for a, _ in chosen],
                                 [_log_odds(b["p_violation"]) for _, b in chosen])

    def auc_of(items: list[dict[str, Any]]) -> float:
        value = auc([r["p_violation"] for r in items if r["violating"]],
                    [r["p_violation"] for r in items if not r["violating"]])
        return 0.5 if value is None else value  # a resample holding one class only

    return {"ads": len(pairs), "bias": {"all": bias(None), "violating": bias(True), "compliant": bias(False)},
            "auc": paired_bootstrap([a for a, _ in pairs], [b for _, b in pairs], auc_of)}


def probe(model: Any, tokenizer: Any, records: Iterable[Any], progress=lambda: None) -> list[dict[str, Any]]:
    """One row per labelled ad: its id, whether it breaks a policy, and the model's ``p_violation``."""
    import torch

    from tasks.ad_compliance.compact import compact_messages

    opening, compliant, violating = decision_tokens(tokenizer)
    rows = []
    for record in records:
        text = tokenizer.apply_chat_template(compact_messages(record.ad), tokenize=False, add_generation_prompt=True)
        ids = tokenizer.encode(text, add_special_tokens=False) + opening
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, -1].float()
        pair = torch.softmax(logits, -1)[[compliant, violating]]
        rows.append({"id": record.id, "ad_digest": ad_digest(record.ad), "violating": bool(record.labels),
                     "p_violation": round((pair[1] / pair.sum()).item(), 5)})
        progress()
    return rows
