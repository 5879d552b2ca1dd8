"""ICE-Reward: a transformer with a scalar head, trained on preference pairs (Bradley-Terry).

``icegrt train reward --config configs/reward_tiny.yaml`` runs :func:`run_reward`:

    1. check everything that can fail before work: pair sources, start model and its kind, run dir
    2. data: pairs split train/held-out per prompt (training.data.preference), each reply rendered
       after its prompt with the chat template and cut from the left so the reply's end is always kept
    3. model: ``AutoModelForSequenceClassification`` (num_labels=1) from a causal LM (the SFT
       checkpoint, usually), or the last checkpoint when resuming; optionally LoRA
    4. train (training.loop) on ``-logsigmoid(r_chosen - r_rejected)``; every checkpoint carries
       held-out pairwise accuracy and ``reward_stats.json``: the mean and std of the scores of
       the held-out replies (chosen and rejected), which ``RewardScaler(mode="rm_norm")`` uses, and
       ``heldout_scores.jsonl``: each held-out pair's source, prompt id and two scores, so accuracy can
       be compared per source and per prompt later; with several sources, accuracy per source is logged

The score is read at the last non-padding token, found from the attention mask (the pad token
of SmolLM2 is also its end-of-turn token, so token ids cannot tell padding apart).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training import distributed
from training.config import ConfigError, RewardConfig
from training.data.chat import encode_prompt_response, pad_batch
from training.distributed import SINGLE, Distributed
from training.loop import Evaluation, StepSampler, prepare_model, train
from training.models import REWARD_STATS, checkpoint_kind, is_peft, pick_device, resolve_start_model, save_checkpoint
from training.runs import open_run

log = logging.getLogger(__name__)

EncodedPair = tuple[list[int], list[int]]  # chosen ids, rejected ids
HELDOUT_SCORES = "heldout_scores.jsonl"  # per held-out pair: source, prompt_id, chosen and rejected scores


def position_ids_for(attention_mask: Any) -> Any:
    """Positions counted over attended tokens only, so left padding does not shift them."""
    return (attention_mask.long().cumsum(dim=1) - 1).clamp(min=0)


def token_scores(model: Any, input_ids: Any, attention_mask: Any) -> Any:
    """[B, L] float32 head outputs at every position (a critic's values; padding is garbage)."""
    inner = model.get_base_model() if is_peft(model) else model
    backbone = getattr(inner, inner.base_model_prefix)
    hidden = backbone(input_ids=input_ids, attention_mask=attention_mask,
                      position_ids=position_ids_for(attention_mask)).last_hidden_state
    return inner.score(hidden).squeeze(-1).float()


def reward_scores(model: Any, input_ids: Any, attention_mask: Any) -> Any:
    """[B] float32 scores, read at each sequence's last attended token (left or right padding)."""
    import torch

    inner = model.get_base_model() if is_peft(model) else model
    backbone = getattr(inner, inner.base_model_prefix)
    hidden = backbone(input_ids=input_ids, attention_mask=attention_mask,
                      position_ids=position_ids_for(attention_mask)).last_hidden_state
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    last = (attention_mask.bool() * (positions + 1)).argmax(dim=1)
    pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    return inner.score(pooled).squeeze(-1).float()


def bradley_terry_loss(chosen: Any, rejected: Any) -> Any:
    """[B] ``-log sigmoid(r_chosen - r_rejected)``: the negative log-likelihood of the preference."""
    import torch.nn.functional as F

    return -F.logsigmoid(chosen - rejected)


def read_reward_stats(checkpoint: Path) -> dict[str, float]:
    """``{"mean", "std", ...}`` of a reward checkpoint, for ``RewardScaler(mode="rm_norm")``.

    Raises:
        ConfigError: not a reward checkpoint, or it has no reward_stats.json.
    """
    if checkpoint_kind(checkpoint) != "reward":
        raise ConfigError(f"{checkpoint} is not a reward model checkpoint (train one with `icegrt train reward`)")
    path = checkpoint / REWARD_STATS
    if not path.is_file():
        raise ConfigError(f"{checkpoint} has no {REWARD_STATS}; it was not written by `icegrt train reward`")
    return json.loads(path.read_text())


@dataclass
class RewardStage:
    """The reward-model plug-in of training.loop.train."""

    config: RewardConfig
    train_pairs: list[EncodedPair]
    eval_pairs: list[EncodedPair]
    tokenizer: Any
    device: str
    base: Path
    dist: Distributed = SINGLE
    eval_info: list[dict[str, str]] = field(default_factory=list)  # each held-out pair's source and prompt_id
    name: str = "reward"
    unit: str = "pairs"

    def __post_init__(self) -> None:
        c = self.config
        self.sampler = StepSampler(len(self.train_pairs), c.batch_size, c.grad_accum_steps, c.seed, self.dist)

    def _batch(self, pairs: list[EncodedPair]) -> dict[str, Any]:
        """Chosen replies first, then rejected ones, in one padded batch of 2B sequences."""
        sequences = [chosen for chosen, _ in pairs] + [rejected for _, rejected in pairs]
        batch = pad_batch(sequences, self.tokenizer.pad_token_id)
        return {k: v.to(self.device) for k, v in batch.items()}

    def _scores(self, model: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
        scores = reward_scores(model, batch["input_ids"], batch["attention_mask"])
        half = scores.shape[0] // 2
        return scores[:half], scores[half:]

    def micro_batches(self, step: int) -> list[dict[str, Any]]:
        return [self._batch([self.train_pairs[i] for i in idx]) for idx in self.sampler.micro_batches(step)]

    def weight(self, micro_batch: dict[str, Any]) -> float:
        return micro_batch["input_ids"].shape[0] / 2

    def loss(self, model: Any, micro_batch: dict[str, Any]) -> tuple[Any, dict[str, float]]:
        chosen, rejected = self._scores(model, micro_batch)
        extra = {"accuracy": (chosen > rejected).sum().item(), "margin": (chosen - rejected).sum().item()}
        return bradley_terry_loss(chosen, rejected).sum(), extra

    def evaluate(self, model: Any) -> Evaluation:
        import torch
        from tqdm import tqdm

        model.eval()
        chosen_all, rejected_all, size = [], [], self.config.eval_batch_size
        with torch.no_grad():
            starts = range(0, len(self.eval_pairs), size)
            for start in tqdm(starts, desc=f"{self.name} eval", leave=False, disable=not self.config.progress):
                chosen, rejected = self._scores(model, self._batch(self.eval_pairs[start : start + size]))
                chosen_all.append(chosen)
                rejected_all.append(rejected)
        chosen, rejected = torch.cat(chosen_all), torch.cat(rejected_all)
        every = torch.cat([chosen, rejected]).double()
        stats = {"mean": every.mean().item(), "std": every.std().item(), "count": every.numel(),
                 "samples": "chosen and rejected replies of the held-out preference pairs"}
        metrics = {
            "loss": bradley_terry_loss(chosen, rejected).mean().item(),
            "accuracy": (chosen > rejected).double().mean().item(),
            "margin": (chosen - rejected).mean().item(),
            "reward_mean": stats["mean"],
            "reward_std": stats["std"],
            **accuracy_by_source(chosen > rejected, [info["source"] for info in self.eval_info]),
        }
        heldout = [{**info, "chosen": c, "rejected": r}
                   for info, c, r in zip(self.eval_info, chosen.tolist(), rejected.tolist())]
        return Evaluation(metrics, {"reward_stats": stats, "heldout": heldout})

    def write_model(self, model: Any, dest: Path, step: int, evaluation: Evaluation,
                    state_dict: dict[str, Any] | None = None) -> None:
        marker = {"kind": "reward", "stage": "reward", "step": step, "base_model": str(self.base),
                  "run": self.config.name, "eval": evaluation.metrics}
        save_checkpoint(model, self.tokenizer, dest, marker, state_dict)
        stats = {**evaluation.extras["reward_stats"], "step": step}
        (dest / REWARD_STATS).write_text(json.dumps(stats, indent=2))
        if evaluation.extras["heldout"]:
            rows = "".join(json.dumps(row) + "\n" for row in evaluation.extras["heldout"])
            (dest / HELDOUT_SCORES).write_text(rows, encoding="utf-8")


def source_label(source: str) -> str:
    """A pair source as a metric name: a registry name as is, a data path by its file name without suffix."""
    from training.data.preference import PAIR_SOURCES

    return source if source in PAIR_SOURCES else Path(source).stem


def accuracy_by_source(correct: Any, sources: list[str]) -> dict[str, float]:
    """``accuracy_<source>`` for each source of the held-out pairs, when they come from more than one.

    Scorer-ranked samples and external pairs are different tasks for the reward model (the paper's
    ICE-Instruct rankings against human preferences), so a pooled accuracy alone can hide either one.
    """
    if len(set(sources)) < 2:
        return {}
    if len(sources) != len(correct):
        raise ValueError(f"{len(sources)} sources for {len(correct)} held-out pairs")
    by_source: dict[str, list[bool]] = {}
    for source, right in zip(sources, correct.tolist()):
        by_source.setdefault(source_label(source), []).append(bool(right))
    return {f"accuracy_{label}": sum(rights) / len(rights) for label, rights in sorted(by_source.items())}


def _check_before_work(config: RewardConfig) -> Path:
    from common.shared_data import SharedDataError
    from training.data.preference import check_pair_source
    from training.data.records import DataFileError

    for name in config.pairs:
        try:
            check_pair_source(name)
        except (SharedDataError, DataFileError) as exc:
            raise ConfigError(f"reward data: {exc}") from None
    return resolve_start_model(config.model, ("causal_lm", "reward"), "reward")


@dataclass
class PreparedPairs:
    """Encoded train and held-out pairs, each held-out pair's source, and a summary for the run's data.json."""

    train: list[EncodedPair]
    eval: list[EncodedPair]
    eval_info: list[dict[str, str]]  # each held-out pair's source and prompt_id
    summary: dict[str, Any]


def prepare_pairs(config: RewardConfig, tokenizer: Any) -> PreparedPairs:
    """Encoded train and held-out pairs (the split is fixed per prompt, see training.data.preference)."""
    import random

    from training.data.preference import PairFormatError, load_pairs

    try:
        pairs = load_pairs(config.pairs)
    except PairFormatError as exc:
        raise ConfigError(f"reward data: {exc}") from None
    train_pairs = [p for p in pairs if p.split == "train"][: config.max_train_pairs]
    eval_pairs = [p for p in pairs if p.split == "eval"][: config.max_eval_pairs]
    if not train_pairs or len(eval_pairs) < 2:
        raise ConfigError(
            f"reward data gives {len(train_pairs)} train and {len(eval_pairs)} held-out pairs; "
            "at least 1 and 2 are needed (add pairs, or raise max_train_pairs / max_eval_pairs)"
        )
    random.Random(config.seed).shuffle(train_pairs)

    def encode(items):
        n = config.max_seq_len
        return [(encode_prompt_response(tokenizer, p.prompt, p.chosen, n),
                 encode_prompt_response(tokenizer, p.prompt, p.rejected, n)) for p in items]

    eval_sources = [p.source for p in eval_pairs]
    summary = {"train_pairs": len(train_pairs), "eval_pairs": len(eval_pairs), "sources": config.pairs,
               "eval_pairs_by_source": {label: eval_sources.count(label) for label in dict.fromkeys(eval_sources)}}
    eval_info = [{"source": p.source, "prompt_id": p.prompt_id} for p in eval_pairs]
    return PreparedPairs(encode(train_pairs), encode(eval_pairs), eval_info, summary)


def run_reward(config: RewardConfig, stop_after: int | None = None) -> dict[str, Any]:
    """Train ICE-Reward as configured; returns a summary (step, eval metrics, checkpoint path)."""
    from training.models import load_tokenizer

    # 1. everything that can be wrong, before any work
    base = _check_before_work(config)
    dist, device = distributed.setup(pick_device(config), {"batch_size": config.batch_size}, config.fsdp)

    # 2. data: pairs, split, rendered replies
    tokenizer = load_tokenizer(base)
    pairs = prepare_pairs(config, tokenizer)

    # 3. the run directory: new, or resumed from its last checkpoint
    run, start_step, already_complete = open_run(config, pairs.summary, dist)
    if already_complete:
        return already_complete

    # 4. model with a scalar head: base (+LoRA) for a new run, last checkpoint for a resumed one
    model = prepare_model(config, run, start_step, base, "reward", device, dist)

    # 5. train on the Bradley-Terry loss
    stage = RewardStage(config, pairs.train, pairs.eval, tokenizer, device, base, dist, pairs.eval_info)
    evaluation = train(config, run, model, stage, start_step, stop_after=stop_after, dist=dist)
    return {"step": run.saved_step(), "checkpoint": str(run.checkpoint_dir), "resumed": start_step > 0,
            "eval": evaluation.metrics if evaluation else None, "data": pairs.summary}
