"""PPO prompts: the paper's "appropriate data", drawn from ICE-Instruct's own training sources.

``prompt_source: sft`` (the default) takes the prompts of the SFT data sources
(:mod:`training.data.sources`, mixed by ``prompt_mix``): each conversation without its final
assistant turn, so PPO samples replies to the very kinds of requests ICE-Instruct was trained on.
Prompts of the ``ad_compliance`` and ``ad_compliance_compact`` sources carry their labelled ad and those of ``e2e_text_to_table``
the table of their E2E meaning representation (:class:`Prompt.gold`), which the task rewards
(:mod:`training.ppo.task_rewards`) score against. ``prompt_source: preference`` takes the user turns
of external preference pairs instead (``preference_prompts``, train split), the paper's ablation.

Prompts are rendered with the actor's chat template and the generation prompt
(``<|im_start|>assistant\\n``), tokenized without extra special tokens (as vLLM does); those
longer than ``max_seq_len - max_new_tokens`` tokens are skipped. The first ``eval_prompts`` of the
seeded order are held out for evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from training.config import ConfigError
from training.ppo.config import PPOConfig


@dataclass(frozen=True)
class Prompt:
    """One PPO prompt: chat messages ending with a user turn, and its token ids."""

    messages: tuple[dict, ...]
    source: str
    id: str
    input_ids: tuple[int, ...] = ()
    gold: Any = field(default=None, compare=False)
    """Task reference for a task reward (ad_compliance: the :class:`LabelledAd`; e2e_text_to_table: the
    :class:`~tasks.text_to_table.table.Table` of the E2E meaning representation), else None."""
    reference: str | None = field(default=None, compare=False)
    """The source's own reply to the prompt (the SFT target, or the preferred reply), if any."""


def render_prompt(tokenizer: Any, messages: Sequence[Mapping[str, Any]]) -> list[int]:
    """Token ids of `messages` with the chat template's generation prompt appended."""
    text = tokenizer.apply_chat_template([dict(m) for m in messages], tokenize=False, add_generation_prompt=True)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _ad_records() -> dict[str, Any]:
    from tasks.ad_compliance.data import generate_dataset
    from training.data.ad_compliance import AD_SEED

    return {r.id: r for r in generate_dataset(seed=AD_SEED) if r.split == "train"}


def _ad_compact_records() -> dict[str, Any]:
    """The train ads by conversation id of ``ad_compliance_compact``, with each gold revision that
    source shows as a compliant ad (:func:`training.data.ad_compliance.revised_record`)."""
    from training.data.ad_compliance import revised_record

    records = _ad_records()
    revised = (revised_record(r) for r in records.values() if r.revision is not None)
    return {**records, **{r.id: r for r in revised}}


def _e2e_tables() -> dict[str, Any]:
    from tasks.text_to_table.e2e import load_e2e

    return {example.id: example.table for example in load_e2e("train")}


def _sft_prompts(config: PPOConfig) -> list[Prompt]:
    from training.data.sources import build_mix

    conversations, _ = build_mix(config.prompt_mix, config.seed)
    golds = {"ad_compliance": _ad_records() if "ad_compliance" in config.prompt_mix else {},
             "ad_compliance_compact": _ad_compact_records() if "ad_compliance_compact" in config.prompt_mix else {},
             "e2e_text_to_table": _e2e_tables() if "e2e_text_to_table" in config.prompt_mix else {}}
    prompts = []
    for conversation in conversations:
        messages = list(conversation.messages)
        last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        gold = golds.get(conversation.source, {}).get(conversation.id)
        context = tuple({"role": m["role"], "content": m["content"]} for m in messages[:last])  # no "weight"
        prompts.append(Prompt(context, conversation.source, conversation.id, gold=gold,
                              reference=messages[last]["content"]))
    return prompts


def _preference_prompts(config: PPOConfig) -> list[Prompt]:
    import json
    import random

    from training.data.preference import load_pairs

    seen, prompts = set(), []
    for index, pair in enumerate(load_pairs(config.preference_prompts, split="train")):
        key = json.dumps(pair.prompt, sort_keys=True)
        if key not in seen:
            seen.add(key)
            prompts.append(Prompt(tuple(pair.prompt), pair.source or "preference", f"preference-{index}",
                                  reference=pair.chosen))
    random.Random(config.seed).shuffle(prompts)
    return prompts


def check_prompt_sources(config: PPOConfig) -> None:
    """Raise ConfigError now if a source the prompts need is unknown or misses a file."""
    from common.shared_data import SharedDataError
    from training.data.preference import check_pair_source
    from training.data.records import DataFileError
    from training.data.sources import check_sources

    try:
        if config.prompt_source == "sft":
            check_sources(list(config.prompt_mix))
        else:
            for name in config.preference_prompts:
                check_pair_source(name)
    except KeyError as exc:
        raise ConfigError(f"PPO prompts: {exc.args[0]}") from None
    except (SharedDataError, ModuleNotFoundError, FileNotFoundError, DataFileError) as exc:
        raise ConfigError(f"PPO prompts: {exc}") from None


def draw_prompts(config: PPOConfig) -> list[Prompt]:
    """The prompts of ``config.prompt_source``, untokenized, in their seeded order.

    Reads only ``prompt_source``, ``prompt_mix``, ``preference_prompts`` and ``seed`` (so
    `icegrt sample` passes its own settings).
    """
    return _sft_prompts(config) if config.prompt_source == "sft" else _preference_prompts(config)


def load_prompts(config: PPOConfig, tokenizer: Any) -> tuple[list[Prompt], list[Prompt], dict[str, Any]]:
    """Train and held-out prompts (tokenized, within the length budget) and a summary.

    Raises:
        ConfigError: fewer than rollout_batch_size train prompts fit, or too few for eval_prompts.
    """
    drawn = draw_prompts(config)
    budget = config.max_seq_len - config.max_new_tokens
    kept = []
    for prompt in drawn:
        ids = render_prompt(tokenizer, prompt.messages)
        if len(ids) <= budget:
            kept.append(replace(prompt, input_ids=tuple(ids)))
    held_out, train = kept[: config.eval_prompts], kept[config.eval_prompts :]
    if len(train) < config.rollout_batch_size:
        raise ConfigError(
            f"only {len(train)} train prompts fit in max_seq_len - max_new_tokens = {budget} tokens "
            f"({len(drawn)} drawn, {len(held_out)} held out); rollout_batch_size is {config.rollout_batch_size}: "
            "raise max_seq_len or the prompt counts, or lower rollout_batch_size"
        )
    sources: dict[str, int] = {}
    for prompt in train:
        sources[prompt.source] = sources.get(prompt.source, 0) + 1
    summary = {"prompt_source": config.prompt_source, "drawn": len(drawn), "too_long": len(drawn) - len(kept),
               "train_prompts": len(train), "eval_prompts": len(held_out), "train_by_source": sources,
               "mean_prompt_tokens": round(sum(len(p.input_ids) for p in train) / len(train), 1)}
    return train, held_out, summary
