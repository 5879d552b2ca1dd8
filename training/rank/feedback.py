"""The server's exported feedback as ranking pairs (``icegrt rank --by feedback``).

Input: the JSONL that ``icegrt data export-preferences`` writes from stored rankings and ratings
(:mod:`server.feedback.export`: a ranking of k replies is already expanded into its k(k-1)/2
pairs there, with ``chosen_id`` / ``rejected_id`` the stored message ids). Each line is checked
as the reward trainer would read it (:func:`training.data.preference.read_pairs_jsonl`); a pair
whose two replies have the same text, or that repeats an earlier pair, is dropped and counted.
Output: the pairs file of :mod:`training.rank.pairs`, ``source`` ``rank:feedback:<export source>``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from training.rank.pairs import RankInputError


def feedback_pairs(path: Path) -> tuple[list[dict[str, Any]], dict[str, int]]:
    from training.data.preference import PairFormatError, read_pairs_jsonl

    if not path.is_file():
        raise RankInputError(f"feedback export {path} does not exist (write it with `icegrt data export-preferences`)")
    try:
        checked = read_pairs_jsonl(path)
    except PairFormatError as exc:
        raise RankInputError(str(exc)) from None
    raw = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    pairs, seen, report = [], set(), {"read": len(raw), "ties": 0, "duplicates": 0}
    for pair, record in zip(checked, raw, strict=True):
        key = pair.key()
        if pair.chosen == pair.rejected:
            report["ties"] += 1
        elif key in seen:
            report["duplicates"] += 1
        else:
            seen.add(key)
            pairs.append({**pair.to_json(), "source": f"rank:feedback:{record.get('source', '')}",
                          "chosen_id": record.get("chosen_id"), "rejected_id": record.get("rejected_id")})
    return pairs, report
