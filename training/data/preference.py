"""Preference pairs ``{"prompt": [messages], "chosen": str, "rejected": str}`` for ICE-Reward.

Sources are the bundle's ``preference/dpo_en_demo.json`` (LLaMA-Factory's demo set: 300 pairs,
ShareGPT-style ``conversations`` with ``human``/``gpt``/``system`` turns) and the user's files
(a data path, :mod:`training.data.records`: JSONL, JSON, Parquet, CSV, a ``save_to_disk``
folder) whose records each have one of these shapes (found per record):

    icegrt            ``{"prompt": [messages], "chosen": str, "rejected": str}`` (what ``icegrt data
                      export-preferences`` writes by default)
    TRL standard      ``{"prompt": str, "chosen": str, "rejected": str}``: the prompt is one user message
    TRL conversational ``{"prompt": [messages], "chosen": [assistant message], "rejected": [...]}``
                      (a chosen list that repeats the prompt first, as UltraFeedback's, is accepted)
    implicit prompt   ``{"chosen", "rejected"}`` without a prompt: strings share their beginning up to the
                      last whitespace before they differ, message lists their first messages; that
                      shared part is the prompt (as TRL's ``extract_prompt``, but cut between words)
    LLaMA-Factory     ``{"conversations": [turns], "chosen": turn, "rejected": turn}`` (the bundle's)

Messages may be OpenAI (``role``/``content``) or ShareGPT (``from``/``value``) style. The prompt
must end with a user turn. A bad record is a :class:`PairFormatError` naming the file, the line
(or record) and the field.

Every pair has a fixed split, from a hash of its prompt: about :data:`EVAL_PERCENT` percent of prompts
are ``eval``, with all their pairs. Ranked samples give several pairs per prompt (k(k-1)/2), so a split by
pair would hold out pairs whose prompt, and replies, the reward model trained on. The split does not
depend on any setting, so the reward model's held-out pairs are also kept out of SFT (the
``preference_chosen`` and ``multiturn_chat`` sources use ``train`` only).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from common.shared_data import shared_file
from training.data.records import DataFileError, check_data_path, field_error, is_data_path, read_records
from training.data.shapes import parse_message, parse_messages

EVAL_PERCENT = 10
DPO_DEMO_FILE = "preference/dpo_en_demo.json"

Split = Literal["train", "eval", "all"]


class PairFormatError(DataFileError):
    """A preference record does not have the expected shape (names file, line and field)."""


@dataclass(frozen=True)
class PreferencePair:
    """A prompt (chat messages, ending with a user turn) and two replies, the better one first."""

    prompt: tuple[dict, ...]
    chosen: str
    rejected: str
    source: str = field(default="", compare=False)

    def key(self) -> str:
        return json.dumps([list(self.prompt), self.chosen, self.rejected], sort_keys=True, ensure_ascii=False)

    def _prompt_digest(self) -> bytes:
        return hashlib.sha256(json.dumps(list(self.prompt), sort_keys=True, ensure_ascii=False).encode("utf-8")).digest()

    @property
    def prompt_id(self) -> str:
        """A short id of the prompt: the pairs of one prompt share it (and their split)."""
        return self._prompt_digest()[:8].hex()

    @property
    def split(self) -> Literal["train", "eval"]:
        digest = self._prompt_digest()
        return "eval" if int.from_bytes(digest[:8], "big") % 100 < EVAL_PERCENT else "train"

    def to_json(self) -> dict:
        return {"prompt": list(self.prompt), "chosen": self.chosen, "rejected": self.rejected}


def _plain(messages: list[dict]) -> list[dict]:
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def _error(where: str, name: str, problem: str) -> PairFormatError:
    return field_error(where, name, problem, PairFormatError)


def _reply(value: Any, where: str, name: str) -> str | list[dict]:
    """A reply as given: a string, or messages (a list of them, or one message object)."""
    if value is None:
        raise _error(where, name, "missing (a preference record needs chosen and rejected)")
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return _plain([parse_message(value, where, name)])
    return _plain(parse_messages(value, where, name))


def _one_reply(reply: str | list[dict], prompt: list[dict], where: str, name: str) -> str:
    if isinstance(reply, str):
        return reply
    if prompt and len(reply) > len(prompt) and reply[: len(prompt)] == prompt:
        reply = reply[len(prompt):]  # the whole conversation was given: its reply is what follows the prompt
    if len(reply) != 1 or reply[0]["role"] != "assistant":
        raise _error(where, name, "must be one reply: a string, or one assistant message (after the prompt)")
    return reply[0]["content"]


def _implicit_prompt(chosen: str | list[dict], rejected: str | list[dict], where: str) -> tuple[list[dict], Any, Any]:
    """The shared beginning of `chosen` and `rejected` as the prompt, and what is left of each."""
    if isinstance(chosen, str) != isinstance(rejected, str):
        raise _error(where, "rejected", "must be of the same kind as chosen (both strings or both message lists)")
    if chosen == rejected:
        raise _error(where, "rejected", "is the same as chosen")
    shared = 0
    while shared < min(len(chosen), len(rejected)) and chosen[shared] == rejected[shared]:
        shared += 1
    if isinstance(chosen, str):
        while shared and not chosen[shared - 1].isspace():  # cut between words
            shared -= 1
        prompt_text = chosen[:shared].rstrip()
        prompt = [{"role": "user", "content": prompt_text}] if prompt_text else []
    else:
        prompt = chosen[:shared]
    if not prompt:
        raise _error(where, "prompt", "missing, and chosen and rejected share no beginning to take it from")
    return prompt, chosen[shared:], rejected[shared:]


def _check_prompt(prompt: tuple[dict, ...], where: str) -> None:
    if not prompt or prompt[-1]["role"] != "user":
        raise _error(where, "prompt", "the prompt must be a non-empty list of messages ending with a user turn")


def pair_from_record(record: Mapping[str, Any], where: str, source: str) -> PreferencePair:
    """One pair from a record of any shape of the module docstring."""
    chosen, rejected = _reply(record.get("chosen"), where, "chosen"), _reply(record.get("rejected"), where, "rejected")
    prompt_value, prompt_field = record.get("prompt"), "prompt"
    if prompt_value is None and record.get("conversations") is not None:
        prompt_value, prompt_field = record["conversations"], "conversations"
    if prompt_value is None:
        prompt, chosen, rejected = _implicit_prompt(chosen, rejected, where)
    elif isinstance(prompt_value, str):
        if not prompt_value.strip():
            raise _error(where, prompt_field, "is empty")
        prompt = [{"role": "user", "content": prompt_value}]
    else:
        prompt = _plain(parse_messages(prompt_value, where, prompt_field)) if prompt_value != [] else []
    _check_prompt(tuple(prompt), where)
    return PreferencePair(prompt=tuple(prompt), chosen=_one_reply(chosen, prompt, where, "chosen"),
                          rejected=_one_reply(rejected, prompt, where, "rejected"), source=source)


def pairs_from_sharegpt(records: Iterable[dict], source: str) -> list[PreferencePair]:
    """LLaMA-Factory's ranking format: ``conversations`` + ``chosen``/``rejected`` turns."""
    return [pair_from_record(record, f"{source} record {index}", source) for index, record in enumerate(records)]


def read_pairs_file(name: str) -> list[PreferencePair]:
    """Pairs from the user's data path `name` (records of any shape of the module docstring).

    Raises:
        PairFormatError: a missing or unreadable file, or a record that fits no shape.
    """
    try:
        return [pair_from_record(record, where, name) for where, record in read_records(name, "preference pair file")]
    except PairFormatError:
        raise
    except DataFileError as exc:
        raise PairFormatError(str(exc)) from None


def read_pairs_jsonl(path: Path) -> list[PreferencePair]:
    """Pairs from a JSONL file (what ``icegrt data export-preferences`` writes); see :func:`read_pairs_file`."""
    return read_pairs_file(str(path))


def write_pairs_jsonl(pairs: Iterable[PreferencePair], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for pair in pairs:
            handle.write(json.dumps(pair.to_json(), ensure_ascii=False) + "\n")


def load_dpo_en_demo() -> list[PreferencePair]:
    """The 300 pairs of the bundle's ``preference/dpo_en_demo.json``."""
    with open(shared_file(DPO_DEMO_FILE), encoding="utf-8") as handle:
        return pairs_from_sharegpt(json.load(handle), source="dpo_en_demo")


# name -> (bundle files it reads, loader); a data path is accepted wherever a name is
PAIR_SOURCES: dict[str, tuple[tuple[str, ...], Callable[[], list[PreferencePair]]]] = {
    "dpo_en_demo": ((DPO_DEMO_FILE,), load_dpo_en_demo),
}


def is_pair_source(name: str) -> bool:
    """A known source name, or something meant as a data path (checked before work)."""
    return name in PAIR_SOURCES or is_data_path(name)


def unknown_pair_source_message(name: str) -> str:
    return (f"pair source {name!r} is neither a known source ({', '.join(sorted(PAIR_SOURCES))}) nor a path to "
            "a .jsonl/.json/.parquet/.csv file or save_to_disk folder of preference pairs (see docs/own-data.md)")


def check_pair_source(name: str) -> None:
    """Raise (SharedDataError / DataFileError) now if the source's files are missing."""
    if name in PAIR_SOURCES:
        for relpath in PAIR_SOURCES[name][0]:
            shared_file(relpath)
    else:
        check_data_path(name, "preference pair file")


def load_pairs(names: Iterable[str], split: Split = "all") -> list[PreferencePair]:
    """Pairs of the named sources (registry names or data paths), filtered to `split`."""
    pairs: list[PreferencePair] = []
    for name in names:
        pairs.extend(PAIR_SOURCES[name][1]() if name in PAIR_SOURCES else read_pairs_file(name))
    return pairs if split == "all" else [pair for pair in pairs if pair.split == split]
