"""Statistics of the generated set and of the rule detectors on it.

Run ``python -m tasks.ad_compliance.generator.stats [--seed N]`` for a JSON report: distinct
surface forms per policy (quotes with the brand and item masked) in train and test, the share
of each policy's labels the rules find, how often rules find every label of a violating ad,
the rules' ad-level precision / recall / false-positive rate per split, and how many compliant
ads carry trigger-full sentences and how often rules misfire on those.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Mapping

from ..data import DEFAULT_SIZES, generate_drafts
from ..datatypes import Ad
from ..detectors import detected_policy_ids
from .compose import Draft


def masked(quote: str, draft: Draft) -> str:
    """A quote with the product's brand and item masked, so forms count once across products."""
    return quote.replace(draft.product.name, "<name>").replace(draft.product.item, "<item>")


def _ad(draft: Draft) -> Ad:
    return Ad(headline=draft.headline, body=draft.body, call_to_action=draft.call_to_action,
              landing_page_text=draft.landing_page_text)


def distinct_forms(drafts: list[Draft]) -> dict[str, int]:
    """Per policy, the number of distinct masked quotes (prohibited products' own copy
    excluded: it is the product, not a phrasing)."""
    seen: dict[str, set[str]] = defaultdict(set)
    for d in drafts:
        for f in d.findings:
            if f.fix is not None:
                seen[f.policy_id].add(masked(f.quote, d))
    return {p: len(q) for p, q in sorted(seen.items())}


def report(seed: int = 0, sizes: Mapping[str, int] = DEFAULT_SIZES) -> dict:
    """The statistics of ``generate_dataset(seed, sizes)`` (see the module doc)."""
    by_split: dict[str, list[Draft]] = defaultdict(list)
    for split, draft in generate_drafts(seed, sizes):
        by_split[split].append(draft)
    out: dict = {"seed": seed, "sizes": {s: len(d) for s, d in by_split.items()}}
    out["distinct_forms"] = {s: distinct_forms(d) for s, d in by_split.items()}
    label_found: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for split, drafts in by_split.items():
        tp = fp = fn = tn = every = violating = 0
        with_neg = misfire = compliant = 0
        for d in drafts:
            found = set(detected_policy_ids(_ad(d)))
            if d.labels:
                violating += 1
                every += set(d.labels) <= found
                tp += bool(found)
                fn += not found
                for label in d.labels:
                    label_found[split, label][0] += label in found
                    label_found[split, label][1] += 1
            else:
                compliant += 1
                fp += bool(found)
                tn += not found
                if d.negatives:
                    with_neg += 1
                    misfire += bool(found)
        out[split] = {
            "rules_find_every_label": round(every / violating, 3),
            "rules_ad_precision": round(tp / (tp + fp), 3) if tp + fp else 0.0,
            "rules_ad_recall": round(tp / (tp + fn), 3) if tp + fn else 0.0,
            "rules_ad_fpr": round(fp / (fp + tn), 3) if fp + tn else 0.0,
            "compliant_with_trigger_sentences": round(with_neg / compliant, 3),
            "rules_misfire_on_those": round(misfire / with_neg, 3) if with_neg else 0.0,
        }
    out["rules_recall_per_label"] = {
        split: {p: round(c / n, 3) for (s, p), (c, n) in sorted(label_found.items()) if s == split}
        for split in by_split}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    print(json.dumps(report(parser.parse_args().seed), indent=2))


if __name__ == "__main__":
    main()
