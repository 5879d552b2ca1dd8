"""ICE-Instruct: supervised fine-tuning on a data mix, loss on assistant tokens only.

``icegrt train sft --config configs/sft_tiny.yaml`` runs :func:`run_sft`:

    1. check everything that can fail before work: data sources, start model and its kind,
       the run directory (a run of the same name resumes; other settings are refused)
    2. data: draw the mix, hold out ``eval_examples``, render with the chat template, label
       assistant tokens only
    3. model: the base (or the last checkpoint when resuming), optionally with LoRA
    4. train (training.loop): token-weighted gradient accumulation, warmup + decay, clipping,
       divergence guard, evaluation loss, atomic checkpoints, plots
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.task_formats import read_task_formats
from training import distributed
from training.config import ConfigError, SFTConfig
from training.data.sources import mix_task_formats
from training.data.chat import IGNORE_INDEX, EncodedExample, encode_conversation, pad_batch
from training.distributed import SINGLE, Distributed
from training.loop import Evaluation, StepSampler, prepare_model, train
from training.models import pick_device, resolve_start_model, save_checkpoint
from training.runs import open_run

log = logging.getLogger(__name__)


def token_loss_sum(model: Any, batch: dict[str, Any]) -> Any:
    """Summed next-token cross-entropy over the labelled positions of a padded batch."""
    import torch.nn.functional as F

    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    labels = batch["labels"][:, 1:]
    return F.cross_entropy(
        logits[:, :-1].flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE_INDEX, reduction="sum"
    )


def label_count(batch: dict[str, Any]) -> float:
    """Labelled positions that a next-token loss sees (the first token is never predicted)."""
    return float((batch["labels"][:, 1:] != IGNORE_INDEX).sum())


@dataclass
class SFTStage:
    """The SFT plug-in of training.loop.train."""

    config: SFTConfig
    train_examples: list[EncodedExample]
    eval_examples: list[EncodedExample]
    tokenizer: Any
    device: str
    base: Path
    dist: Distributed = SINGLE
    name: str = "sft"
    unit: str = "tokens"

    def __post_init__(self) -> None:
        c = self.config
        self.sampler = StepSampler(len(self.train_examples), c.batch_size, c.grad_accum_steps, c.seed, self.dist)

    def _batch(self, examples: list[EncodedExample]) -> dict[str, Any]:
        batch = pad_batch([e.input_ids for e in examples], self.tokenizer.pad_token_id, [e.labels for e in examples])
        return {k: v.to(self.device) for k, v in batch.items()}

    def micro_batches(self, step: int) -> list[dict[str, Any]]:
        return [self._batch([self.train_examples[i] for i in idx]) for idx in self.sampler.micro_batches(step)]

    def weight(self, micro_batch: dict[str, Any]) -> float:
        return label_count(micro_batch)

    def loss(self, model: Any, micro_batch: dict[str, Any]) -> tuple[Any, dict[str, float]]:
        return token_loss_sum(model, micro_batch), {}

    def evaluate(self, model: Any) -> Evaluation:
        import torch
        from tqdm import tqdm

        model.eval()
        total, tokens, size = 0.0, 0.0, self.config.eval_batch_size
        with torch.no_grad():
            starts = range(0, len(self.eval_examples), size)
            for start in tqdm(starts, desc=f"{self.name} eval", leave=False, disable=not self.config.progress):
                batch = self._batch(self.eval_examples[start : start + size])
                total += token_loss_sum(model, batch).item()
                tokens += label_count(batch)
        return Evaluation({"loss": total / tokens, "tokens": tokens})

    def write_model(self, model: Any, dest: Path, step: int, evaluation: Evaluation,
                    state_dict: dict[str, Any] | None = None) -> None:
        marker = {"kind": "causal_lm", "stage": "sft", "step": step, "base_model": str(self.base),
                  "run": self.config.name, "eval": evaluation.metrics,
                  "task_formats": {**read_task_formats(self.base), **mix_task_formats(self.config.mix)}}
        save_checkpoint(model, self.tokenizer, dest, marker, state_dict)


def _check_before_work(config: SFTConfig) -> Path:
    """Data sources and start model, or a ConfigError saying what to fix."""
    from common.shared_data import SharedDataError
    from training.data.records import DataFileError
    from training.data.sources import check_sources

    try:
        check_sources(list(config.mix))
    except KeyError as exc:
        raise ConfigError(f"SFT data: {exc.args[0]}") from None
    except (SharedDataError, ModuleNotFoundError, DataFileError) as exc:
        raise ConfigError(f"SFT data: {exc}") from None
    return resolve_start_model(config.model, ("causal_lm",), "sft")


def prepare_data(config: SFTConfig, tokenizer: Any) -> tuple[list[EncodedExample], list[EncodedExample], dict]:
    """Encoded train and held-out examples of the mix, and a summary of what was drawn."""
    from training.data.records import DataFileError
    from training.data.sources import build_mix, fingerprints

    try:
        conversations, counts = build_mix(config.mix, config.seed)
    except DataFileError as exc:  # a record of the user's own file (named by file, line and field)
        raise ConfigError(f"SFT data: {exc}") from None
    if len(conversations) <= config.eval_examples:
        raise ConfigError(
            f"the mix gives {len(conversations)} examples, not more than eval_examples={config.eval_examples}; "
            "raise the mix counts or lower eval_examples"
        )

    def encode(items):
        encoded = [encode_conversation(tokenizer, c.messages, config.max_seq_len) for c in items]
        return [e for e in encoded if e is not None]

    eval_set, train_set = encode(conversations[: config.eval_examples]), encode(conversations[config.eval_examples :])
    if not train_set or not eval_set:
        raise ConfigError(f"no example keeps an assistant token within max_seq_len={config.max_seq_len}; raise it")
    summary = {
        "drawn": counts,
        "train_examples": len(train_set),
        "eval_examples": len(eval_set),
        "dropped_truncated": len(conversations) - len(train_set) - len(eval_set),
        "train_label_tokens": sum(e.n_label_tokens for e in train_set),
        "train_tokens": sum(len(e.input_ids) for e in train_set),
        "data_sha256": fingerprints(conversations),
    }
    return train_set, eval_set, summary


def run_sft(config: SFTConfig, stop_after: int | None = None) -> dict[str, Any]:
    """Train ICE-Instruct as configured; returns a summary (step, eval metrics, checkpoint path)."""
    from training.models import load_tokenizer

    # 1. everything that can be wrong, before any work
    base = _check_before_work(config)
    dist, device = distributed.setup(pick_device(config), {"batch_size": config.batch_size}, config.fsdp)

    # 2. data: mix, held-out slice, assistant-only labels
    tokenizer = load_tokenizer(base)
    train_set, eval_set, summary = prepare_data(config, tokenizer)
    log.info("SFT data: %s", summary)

    # 3. the run directory: new, or resumed from its last checkpoint
    run, start_step, already_complete = open_run(config, summary, dist)
    if already_complete:
        return already_complete

    # 4. model: base (+LoRA) for a new run, last checkpoint for a resumed one
    model = prepare_model(config, run, start_step, base, "causal_lm", device, dist)

    # 5. train
    stage = SFTStage(config, train_set, eval_set, tokenizer, device, base, dist)
    evaluation = train(config, run, model, stage, start_step, stop_after=stop_after, dist=dist)
    return {"step": run.saved_step(), "checkpoint": str(run.checkpoint_dir), "resumed": start_step > 0,
            "eval": evaluation.metrics if evaluation else None, "data": summary}
