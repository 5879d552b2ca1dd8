"""Multi-turn chat: held-out conversations, the model's final reply, scored by ICE-Reward.

Sets (none of them is in ICE-Instruct's SFT mix, PPO's prompts or ICE-Reward's training pairs):

    preference_eval  the multi-turn dialogues of the preference set's held-out ``eval`` split
                     (:mod:`training.data.preference`; SFT and the reward model use ``train``
                     only): the dialogue so far is given, the model writes the last assistant turn
    mt_bench         MT-Bench's two-turn questions (an evaluation set, never an SFT source): the
                     model answers turn 1, then turn 2 after its own first answer (FastChat's
                     protocol); the second answer is the one scored

Replies are greedy, generated on an in-process vLLM engine after the history is trimmed to the
context window as the conversation endpoint does (:func:`tasks.chat.history.trim_history`). The
reward model scores each final reply after its conversation, rendered exactly as in PPO
(:func:`training.ppo.rewards.reward_model_scores`). A pairwise win rate compares two models'
scores item by item (:func:`training.evaluate.stats.win_rate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.engine import Engine, GenerationParams
from inference.generation import collect
from tasks.chat.history import ContextTooLongError, trim_history
from training.evaluate.domain import run_bounded
from training.evaluate.stats import mean_stderr, win_rate

CHAT_SETS = ("preference_eval", "mt_bench")


@dataclass(frozen=True)
class ChatItem:
    """A held-out conversation: `messages` end with the first user turn the model answers; each of
    `followups` is sent after the model's previous reply. The model's last reply is scored."""

    id: str
    set: str
    messages: tuple[dict, ...]
    followups: tuple[str, ...] = ()


def load_chat_items(sets: Sequence[str], limit: int | None = None) -> list[ChatItem]:
    """The items of each set in file order, the first `limit` of each when given.

    Raises:
        ValueError: an unknown set name.
    """
    unknown = [s for s in sets if s not in CHAT_SETS]
    if unknown:
        raise ValueError(f"unknown chat set(s) {', '.join(unknown)}; choose from {', '.join(CHAT_SETS)}")
    items: list[ChatItem] = []
    for name in sets:
        loaded = _preference_eval() if name == "preference_eval" else _mt_bench()
        items += loaded[:limit] if limit else loaded
    return items


def _preference_eval() -> list[ChatItem]:
    from training.data.preference import load_pairs

    pairs = load_pairs(["dpo_en_demo"], split="eval")
    return [ChatItem(f"preference_eval-{i}", "preference_eval", pair.prompt)
            for i, pair in enumerate(pairs) if any(m["role"] == "assistant" for m in pair.prompt)]


def _mt_bench() -> list[ChatItem]:
    from tasks.chat.benchmarks import load_questions

    return [ChatItem(f"mt_bench-{q.question_id}", "mt_bench", ({"role": "user", "content": q.turns[0]},), q.turns[1:])
            for q in load_questions("mt_bench")]


async def _reply(engine: Engine, messages: list[dict], params: GenerationParams, request_id: str) -> tuple[str, str]:
    def count(history: list[dict]) -> int:
        return len(engine.encode(engine.render_chat(history)))

    kept = trim_history(messages, count, engine.max_model_len - params.max_tokens)
    result = await collect(engine, engine.encode(engine.render_chat(kept)), params, request_id)
    choice = result.choices[0]
    return choice.text, choice.finish_reason or "abort"


async def generate_transcripts(engine: Engine, items: Sequence[ChatItem], *, max_tokens: int, seed: int,
                               concurrency: int) -> list[dict[str, Any]]:
    """One transcript per item: ``{"id", "set", "messages", "reply", "finish_reason"}`` where
    messages end with the last user turn; ``{"id", "set", "skipped": reason}`` when the
    conversation does not fit the context window."""
    params = GenerationParams(max_tokens=max_tokens, temperature=0.0, seed=seed)

    async def work(i: int, item: ChatItem) -> dict[str, Any]:
        messages = list(item.messages)
        try:
            reply, finish = await _reply(engine, messages, params, f"eval-chat-{i}-0")
            for turn, followup in enumerate(item.followups, start=1):
                messages += [{"role": "assistant", "content": reply}, {"role": "user", "content": followup}]
                reply, finish = await _reply(engine, messages, params, f"eval-chat-{i}-{turn}")
        except ContextTooLongError as exc:
            return {"id": item.id, "set": item.set, "skipped": str(exc)}
        return {"id": item.id, "set": item.set, "messages": messages, "reply": reply, "finish_reason": finish}

    return await run_bounded(items, work, concurrency, "chat")


def load_reward_model(path: Path) -> tuple[Any, Any]:
    """(model, tokenizer) of an ICE-Reward checkpoint, in eval mode on CPU.

    Raises:
        training.config.ConfigError: `path` is not a reward-model checkpoint.
    """
    import torch
    from transformers import AutoModelForSequenceClassification

    from training.config import ConfigError
    from training.models import checkpoint_kind, load_tokenizer

    if checkpoint_kind(path) != "reward":
        raise ConfigError(f"{path} is not a reward model checkpoint (train one with `icegrt train reward`)")
    model = AutoModelForSequenceClassification.from_pretrained(path, torch_dtype=torch.float32).eval()
    return model, load_tokenizer(path)


def score_transcripts(reward_model: tuple[Any, Any], transcripts: Sequence[dict[str, Any]], max_seq_len: int,
                      batch_size: int = 4) -> list[float | None]:
    """The reward model's score of each transcript's reply after its conversation (None if skipped)."""
    from training.ppo.prompts import Prompt
    from training.ppo.rewards import reward_model_scores

    from tqdm import tqdm

    model, tokenizer = reward_model
    scored = [t for t in transcripts if "reply" in t]
    values: list[float] = []
    for start in tqdm(range(0, len(scored), 4 * batch_size), desc="reward model", unit="chunk"):
        chunk = scored[start : start + 4 * batch_size]
        prompts = [Prompt(messages=tuple(t["messages"]), source=t["set"], id=t["id"]) for t in chunk]
        values += reward_model_scores(model, tokenizer, prompts, [t["reply"] for t in chunk], max_seq_len,
                                      batch_size, "cpu").tolist()
    by_id = dict(zip((t["id"] for t in scored), values, strict=True))
    return [by_id.get(t["id"]) for t in transcripts]


def summarize_scores(transcripts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean reward-model score ± stderr over all scored items and per set."""
    scored = [t for t in transcripts if t.get("score") is not None]
    per_set = {name: mean_stderr([t["score"] for t in scored if t["set"] == name])
               for name in dict.fromkeys(t["set"] for t in transcripts)}
    return {**mean_stderr([t["score"] for t in scored]), "per_set": per_set,
            "skipped": sum("skipped" in t for t in transcripts)}


def pairwise(transcripts: Sequence[dict[str, Any]], versus: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Win rate of the first model's replies over the second's, on the items both have a score for."""
    theirs = {t["id"]: t.get("score") for t in versus}
    pairs = [(t["score"], theirs[t["id"]]) for t in transcripts
             if t.get("score") is not None and theirs.get(t["id"]) is not None]
    return win_rate([a for a, _ in pairs], [b for _, b in pairs])
