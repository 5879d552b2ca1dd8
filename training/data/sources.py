"""The SFT data-source registry and the seeded data mix of ICE-Instruct.

A data source is a name, the bundle files it reads (checked before any work starts), and a
loader that returns :class:`Conversation` records (chat messages whose assistant turns are the
targets). A configuration names sources and how many examples to draw from each
(``mix: {gsm8k: 200, e2e_text_to_table: 100}``); :func:`build_mix` draws them with a seed.

Built-in sources:
    gsm8k              GSM8K train: question -> worked answer (calculator annotations removed)
    self_instruct      the 175 self-instruct seed tasks: instruction (+ input) -> output
    preference_chosen  single-turn prompts of the preference set with their chosen reply
    multiturn_chat     multi-turn dialogues of the preference set, every assistant turn a target
    e2e_text_to_table  E2E sentences -> JSON table, with the task's own prompt (tasks.text_to_table)
    ad_compliance      the generated ad-compliance train split -> JSON judgement (tasks.ad_compliance);
                       its prompt holds the policy catalogue: about 2,300 tokens per example
    ad_compliance_compact  the same ads in the compact format (tasks.ad_compliance.compact): verdict
                       with quotes and fixes, plus each gold revision judged compliant; ~250 tokens;
                       a model trained on it is served and evaluated in that format
    ad_compliance_compact_ads_only  the same without the gold revisions: only the generated ads

A mix also names the user's own files by path, beside the built-in names
(``mix: {gsm8k: 200, data/mine.jsonl: 100}``): JSONL/JSON/Parquet/CSV files or ``save_to_disk``
folders of OpenAI, ShareGPT or Alpaca records (:mod:`training.data.records`,
:mod:`training.data.shapes`); a key that is not a built-in name is a path when it has a directory
part, a data-file suffix, or exists (:func:`get_source`).

The preference sources use the ``train`` split of :mod:`training.data.preference` only, so the
reward model's held-out pairs stay unseen. MT-Bench and Vicuna-Bench (``multiturn/``) are
evaluation sets and deliberately not sources. Other packages add their tasks with
:func:`register_source`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from common.shared_data import shared_file
from common.task_formats import AD_COMPLIANCE, AD_COMPLIANCE_COMPACT
from training.data.ad_compliance import load_ad_compliance, load_ad_compliance_compact
from training.data.conversation import Conversation


@dataclass(frozen=True)
class DataSource:
    """A named loader of conversations and the bundle files (and modules) it needs."""

    name: str
    description: str
    load: Callable[[], list[Conversation]]
    files: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    task_format: tuple[str, str] | None = None
    """``(task, format)`` a model trained on this source answers in (recorded in its checkpoint)."""
    user_path: str | None = None
    """The user's data path this source reads (a file source), checked like the bundle files."""

    def check(self) -> None:
        """Raise now if a file or module the loader needs is missing."""
        if self.user_path is not None:
            from training.data.records import check_data_path

            check_data_path(self.user_path)
        for module in self.modules:
            if importlib.util.find_spec(module) is None:
                raise ModuleNotFoundError(f"data source {self.name!r} needs the module {module}, which is not installed")
        for relpath in self.files:
            shared_file(relpath)


SFT_SOURCES: dict[str, DataSource] = {}


def register_source(source: DataSource, *, replace: bool = False) -> DataSource:
    """Add `source` to the registry (names are unique unless `replace`)."""
    if source.name in SFT_SOURCES and not replace:
        raise ValueError(f"data source {source.name!r} is already registered")
    SFT_SOURCES[source.name] = source
    return source


def _user_assistant(user: str, assistant: str) -> tuple[dict, ...]:
    return ({"role": "user", "content": user}, {"role": "assistant", "content": assistant})


def _read_jsonl(relpath: str) -> list[dict]:
    with open(shared_file(relpath), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


_CALCULATOR = re.compile(r"<<[^<>]*>>")


def load_gsm8k() -> list[Conversation]:
    return [
        Conversation(_user_assistant(r["question"], _CALCULATOR.sub("", r["answer"])), "gsm8k", f"gsm8k-{i}")
        for i, r in enumerate(_read_jsonl("sft/gsm8k_train.jsonl"))
    ]


def load_self_instruct() -> list[Conversation]:
    conversations = []
    for record in _read_jsonl("sft/self_instruct_seed_tasks.jsonl"):
        for j, instance in enumerate(record["instances"]):
            user = record["instruction"] + (f"\n\n{instance['input']}" if instance["input"].strip() else "")
            conversations.append(Conversation(_user_assistant(user, instance["output"]), "self_instruct", f"{record['id']}-{j}"))
    return conversations


def _preference_conversations(multiturn: bool, name: str) -> list[Conversation]:
    from training.data.preference import load_pairs

    conversations = []
    for i, pair in enumerate(load_pairs(["dpo_en_demo"], split="train")):
        has_history = any(m["role"] == "assistant" for m in pair.prompt)
        if has_history == multiturn:
            messages = (*pair.prompt, {"role": "assistant", "content": pair.chosen})
            conversations.append(Conversation(messages, name, f"{name}-{i}"))
    return conversations


def load_e2e_text_to_table() -> list[Conversation]:
    from tasks.text_to_table.e2e import load_e2e
    from tasks.text_to_table.prompt import build_messages

    conversations = []
    for example in load_e2e("train"):
        # half the requests pin the columns (as a client may), chosen by a hash of the id
        pin = hashlib.sha256(example.id.encode()).digest()[0] % 2 == 0
        prompt = build_messages(example.text, example.table.columns if pin else None)
        messages = (*prompt, {"role": "assistant", "content": example.table.to_json()})
        conversations.append(Conversation(messages, "e2e_text_to_table", example.id))
    return conversations


def mix_task_formats(mix: dict[str, int]) -> dict[str, str]:
    """``{task: format}`` of the sources a mix draws from (the user's files have none)."""
    sources = [SFT_SOURCES[name] for name in mix if mix[name] and name in SFT_SOURCES]
    return dict(source.task_format for source in sources if source.task_format)


for _source in (
    DataSource("gsm8k", "GSM8K train math word problems", load_gsm8k, ("sft/gsm8k_train.jsonl",)),
    DataSource("self_instruct", "self-instruct seed tasks", load_self_instruct, ("sft/self_instruct_seed_tasks.jsonl",)),
    DataSource(
        "preference_chosen", "single-turn prompts + chosen replies (preference train split)",
        lambda: _preference_conversations(False, "preference_chosen"), ("preference/dpo_en_demo.json",),
    ),
    DataSource(
        "multiturn_chat", "multi-turn dialogues + chosen last reply (preference train split)",
        lambda: _preference_conversations(True, "multiturn_chat"), ("preference/dpo_en_demo.json",),
    ),
    DataSource(
        "e2e_text_to_table", "E2E NLG sentences -> JSON tables (text-to-table task prompt)",
        load_e2e_text_to_table, ("text_to_table/e2e_devel.csv",), ("tasks.text_to_table.e2e",),
    ),
    DataSource(
        "ad_compliance", "generated ad-compliance train split -> JSON judgement (needs max_seq_len ~2300)",
        load_ad_compliance,
        (), ("tasks.ad_compliance.data", "tasks.ad_compliance.prompt"),
    ),
    DataSource(
        "ad_compliance_compact",
        "generated ad-compliance train split -> compact verdict with fixes; revised ads -> compliant (~250 tokens)",
        load_ad_compliance_compact,
        (), ("tasks.ad_compliance.data", "tasks.ad_compliance.compact"),
        task_format=(AD_COMPLIANCE, AD_COMPLIANCE_COMPACT),
    ),
    DataSource(
        "ad_compliance_compact_ads_only",
        "generated ad-compliance train split -> compact verdict with fixes, without the revised ads (~250 tokens)",
        lambda: load_ad_compliance_compact(None),
        (), ("tasks.ad_compliance.data", "tasks.ad_compliance.compact"),
        task_format=(AD_COMPLIANCE, AD_COMPLIANCE_COMPACT),
    ),
):
    register_source(_source)


def is_source(name: str) -> bool:
    """Whether a mix key names a source: a built-in name, or a path (see :func:`get_source`)."""
    from training.data.records import is_data_path

    return name in SFT_SOURCES or is_data_path(name)


def unknown_source_message(name: str) -> str:
    return (f"unknown data source {name!r}; known: {', '.join(sorted(SFT_SOURCES))}, or a path to your own "
            ".jsonl/.json/.parquet/.csv file or save_to_disk folder (see docs/own-data.md)")


def get_source(name: str) -> DataSource:
    """The built-in source `name`, else the user's data path `name` as a source.

    Raises:
        KeyError: `name` is neither a built-in source nor path-like (see
            :func:`training.data.records.is_data_path`).
    """
    if name in SFT_SOURCES:
        return SFT_SOURCES[name]
    if not is_source(name):
        raise KeyError(unknown_source_message(name))
    from training.data.shapes import load_conversations

    return DataSource(name, f"your data: {name}", lambda: load_conversations(name), user_path=name)


def check_sources(names: list[str]) -> None:
    """Raise before any work if a named source is unknown or misses a file or module (a user's file:
    :class:`~training.data.records.DataFileError`)."""
    for name in names:
        get_source(name).check()


def fingerprints(conversations: list[Conversation]) -> dict[str, str]:
    """sha256 per source of the conversations drawn from it (ids and messages, in order): what a
    trained model can be traced back to, whatever the files or generator become later."""
    digests: dict[str, Any] = {}
    for conv in conversations:
        digest = digests.setdefault(conv.source, hashlib.sha256())
        digest.update(json.dumps([conv.id, list(conv.messages)], ensure_ascii=False).encode())
    return {source: digest.hexdigest() for source, digest in sorted(digests.items())}


def build_mix(mix: dict[str, int], seed: int) -> tuple[list[Conversation], dict[str, int]]:
    """Up to ``mix[name]`` conversations from each source, drawn with `seed`, then shuffled.

    Returns the conversations and how many each source actually gave (fewer when a source is
    smaller than asked).
    """
    drawn: list[Conversation] = []
    counts: dict[str, int] = {}
    for name in sorted(mix):
        pool = get_source(name).load()
        random.Random(f"{seed}:{name}").shuffle(pool)
        take = pool[: mix[name]]
        counts[name] = len(take)
        drawn.extend(take)
    random.Random(seed).shuffle(drawn)
    return drawn, counts
