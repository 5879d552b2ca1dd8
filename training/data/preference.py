"""Preference pairs ``{"prompt": [messages], "chosen": str, "rejected": str}`` for ICE-Reward.

Sources are the bundle's ``preference/dpo_en_demo.json`` (LLaMA-Factory's demo set: 300 pairs,
ShareGPT-style ``conversations`` with ``human``/``gpt``/``system`` turns) and JSONL files in the
pair format above (what ``icegrt data export-preferences`` writes from served feedback).

Every pair has a fixed split, from a hash of its content: about :data:`EVAL_PERCENT` percent are
``eval``. The split does not depend on any setting, so the reward model's held-out pairs are also
kept out of SFT (the ``preference_chosen`` and ``multiturn_chat`` sources use ``train`` only).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from common.shared_data import shared_file

EVAL_PERCENT = 10
DPO_DEMO_FILE = "preference/dpo_en_demo.json"
_ROLES = {"human": "user", "gpt": "assistant", "system": "system", "user": "user", "assistant": "assistant"}

Split = Literal["train", "eval", "all"]


class PairFormatError(ValueError):
    """A preference record does not have the expected shape."""


@dataclass(frozen=True)
class PreferencePair:
    """A prompt (chat messages, ending with a user turn) and two replies, the better one first."""

    prompt: tuple[dict, ...]
    chosen: str
    rejected: str
    source: str = field(default="", compare=False)

    def key(self) -> str:
        return json.dumps([list(self.prompt), self.chosen, self.rejected], sort_keys=True, ensure_ascii=False)

    @property
    def split(self) -> Literal["train", "eval"]:
        digest = hashlib.sha256(self.key().encode("utf-8")).digest()
        return "eval" if int.from_bytes(digest[:8], "big") % 100 < EVAL_PERCENT else "train"

    def to_json(self) -> dict:
        return {"prompt": list(self.prompt), "chosen": self.chosen, "rejected": self.rejected}


def _message(turn: dict, where: str) -> dict:
    role = _ROLES.get(turn.get("from", turn.get("role")))
    content = turn.get("value", turn.get("content"))
    if role is None or not isinstance(content, str):
        raise PairFormatError(f"{where}: a turn needs from/role in {sorted(_ROLES)} and a string value/content")
    return {"role": role, "content": content}


def _check_prompt(prompt: tuple[dict, ...], where: str) -> None:
    if not prompt or prompt[-1]["role"] != "user":
        raise PairFormatError(f"{where}: the prompt must be a non-empty list of messages ending with a user turn")


def pairs_from_sharegpt(records: Iterable[dict], source: str) -> list[PreferencePair]:
    """LLaMA-Factory's ranking format: ``conversations`` + ``chosen``/``rejected`` turns."""
    pairs = []
    for index, record in enumerate(records):
        where = f"{source}[{index}]"
        try:
            prompt = tuple(_message(turn, where) for turn in record["conversations"])
            chosen = _message(record["chosen"], where)["content"]
            rejected = _message(record["rejected"], where)["content"]
        except (KeyError, TypeError) as exc:
            raise PairFormatError(f"{where}: expected conversations/chosen/rejected ({exc})") from None
        _check_prompt(prompt, where)
        pairs.append(PreferencePair(prompt=prompt, chosen=chosen, rejected=rejected, source=source))
    return pairs


def read_pairs_jsonl(path: Path) -> list[PreferencePair]:
    """Pairs from a JSONL file of ``{"prompt": [messages], "chosen": str, "rejected": str}``."""
    pairs = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(line)
                prompt = tuple(_message(m, where) for m in record["prompt"])
                chosen, rejected = record["chosen"], record["rejected"]
            except (ValueError, KeyError, TypeError) as exc:
                raise PairFormatError(f"{where}: expected {{prompt: [messages], chosen, rejected}} ({exc})") from None
            if not isinstance(chosen, str) or not isinstance(rejected, str):
                raise PairFormatError(f"{where}: chosen and rejected must be strings")
            _check_prompt(prompt, where)
            pairs.append(PreferencePair(prompt=prompt, chosen=chosen, rejected=rejected, source=str(path)))
    return pairs


def write_pairs_jsonl(pairs: Iterable[PreferencePair], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for pair in pairs:
            handle.write(json.dumps(pair.to_json(), ensure_ascii=False) + "\n")


def load_dpo_en_demo() -> list[PreferencePair]:
    """The 300 pairs of the bundle's ``preference/dpo_en_demo.json``."""
    with open(shared_file(DPO_DEMO_FILE), encoding="utf-8") as handle:
        return pairs_from_sharegpt(json.load(handle), source="dpo_en_demo")


# name -> (bundle files it reads, loader); a JSONL path is accepted wherever a name is
PAIR_SOURCES: dict[str, tuple[tuple[str, ...], Callable[[], list[PreferencePair]]]] = {
    "dpo_en_demo": ((DPO_DEMO_FILE,), load_dpo_en_demo),
}


def check_pair_source(name: str) -> None:
    """Raise (SharedDataError / FileNotFoundError) now if the source's files are missing."""
    if name in PAIR_SOURCES:
        for relpath in PAIR_SOURCES[name][0]:
            shared_file(relpath)
    elif not Path(name).is_file():
        raise FileNotFoundError(f"preference pair file {name} does not exist")


def load_pairs(names: Iterable[str], split: Split = "all") -> list[PreferencePair]:
    """Pairs of the named sources (registry names or JSONL paths), filtered to `split`."""
    pairs: list[PreferencePair] = []
    for name in names:
        pairs.extend(PAIR_SOURCES[name][1]() if name in PAIR_SOURCES else read_pairs_jsonl(Path(name)))
    return pairs if split == "all" else [pair for pair in pairs if pair.split == split]
