"""Loading and saving the models that training stages start from and produce.

Kinds of checkpoint, told apart by ``config.json``'s ``architectures``:
    causal_lm  ``*ForCausalLM``: a chat model (the base model, ICE-Instruct, ICE-GRT)
    reward     ``*ForSequenceClassification`` with one label: ICE-Reward (plus reward_stats.json)

Every checkpoint a stage writes also carries ``icegrt-checkpoint.json`` (stage, step, base
model, run) so a served or reused model can be traced back to its run. LoRA training wraps the
model with ``peft``; what is saved is always a plain merged Hugging Face model, and for LoRA also
the unmerged adapter in ``adapter/`` (PEFT format).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Literal

from common.task_formats import CHECKPOINT_MARKER
from training.config import ConfigError, TrainConfig

MARKER = CHECKPOINT_MARKER
REWARD_STATS = "reward_stats.json"
ADAPTER_DIR = "adapter"
"""Where a LoRA run's checkpoint keeps its unmerged adapter (PEFT format) beside the merged model."""
Kind = Literal["causal_lm", "reward"]


def checkpoint_kind(path: Path) -> Kind:
    """The kind of checkpoint in `path` (raises ConfigError for anything else)."""
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ConfigError(f"{path} has no config.json: not a Hugging Face checkpoint directory")
    config = json.loads(config_file.read_text())
    architectures = config.get("architectures") or []
    if any(a.endswith("ForCausalLM") for a in architectures):
        return "causal_lm"
    n_labels = len(config.get("id2label") or {"0": "LABEL_0"})
    if any(a.endswith("ForSequenceClassification") for a in architectures) and n_labels == 1:
        return "reward"
    raise ConfigError(f"{path} holds a {architectures or 'model of unknown architecture'}, neither a causal LM nor a reward model")


def resolve_start_model(spec: str, allowed: tuple[Kind, ...], stage: str) -> Path:
    """The checkpoint directory of `spec` (a known name or a directory), checked to be of an allowed kind.

    Raises:
        ConfigError: no such model, or a checkpoint of the wrong kind for `stage`.
    """
    from common.models import ModelNotFoundError, resolve_model

    try:
        path = resolve_model(spec)
    except ModelNotFoundError as exc:
        raise ConfigError(str(exc)) from None
    kind = checkpoint_kind(path)
    if kind not in allowed:
        raise ConfigError(
            f"{stage} cannot start from {path}: it is a {kind} checkpoint, and {stage} needs "
            f"{' or '.join(allowed)} (a causal LM is a base or SFT/PPO checkpoint; a reward model comes "
            "from `icegrt train reward`)"
        )
    return path


def pick_device(config: TrainConfig) -> str:
    """The device the stage trains on; also applies ``config.threads`` to torch's CPU thread pool."""
    import torch

    if config.threads:
        torch.set_num_threads(config.threads)
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device is cuda but no CUDA GPU is visible; use --device cpu or auto")
    if config.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return config.device


def load_model(path: Path, kind: Kind, config: TrainConfig) -> Any:
    """A model of `kind` from `path` in the configured dtype (a reward head is created if absent)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    dtype = getattr(torch, config.dtype)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # a new reward head is expected, not worth a warning
    hf_logging.disable_progress_bar()
    try:
        if kind == "causal_lm":
            model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        else:
            model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=dtype)
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()
    if model.config.pad_token_id is None:
        model.config.pad_token_id = model.config.eos_token_id
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    return model


def load_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


# -- LoRA --------------------------------------------------------------------------------
def apply_lora(model: Any, config: TrainConfig, kind: Kind) -> Any:
    """Wrap `model` with LoRA adapters (the reward head stays fully trainable)."""
    try:
        from peft import LoraConfig, TaskType, get_peft_model
    except ImportError:
        raise ConfigError("lora: true needs the peft package (pip install peft==0.21.2)") from None
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.lora_target_modules),
        task_type=TaskType.CAUSAL_LM if kind == "causal_lm" else TaskType.SEQ_CLS,
        modules_to_save=None if kind == "causal_lm" else ["score"],
    )
    return get_peft_model(model, lora)


def is_peft(model: Any) -> bool:
    return hasattr(model, "peft_config")


def trainable_state(model: Any) -> dict[str, Any]:
    """The trainable tensors by name (all a LoRA run needs to resume on top of its base)."""
    return {name: p.detach().cpu().contiguous() for name, p in model.named_parameters() if p.requires_grad}


def load_trainable_state(model: Any, state: dict[str, Any]) -> None:
    import torch

    params = dict(model.named_parameters())
    missing = sorted(set(n for n, p in params.items() if p.requires_grad) - set(state))
    if missing:
        raise ConfigError(f"the saved trainer state lacks {len(missing)} trainable tensors (e.g. {missing[0]}); start over with --overwrite")
    with torch.no_grad():
        for name, tensor in state.items():
            params[name].copy_(tensor)


def servable(model: Any) -> Any:
    """A plain Hugging Face model to save: LoRA merged into a copy, anything else as is."""
    if not is_peft(model):
        return model
    return copy.deepcopy(model).merge_and_unload()


def save_checkpoint(model: Any, tokenizer: Any, dest: Path, marker: dict[str, Any],
                    state_dict: dict[str, Any] | None = None) -> None:
    """``save_pretrained`` of the model and tokenizer (with chat template), plus the marker file.

    `state_dict`: the full weights to write in place of the model's own (an FSDP-sharded model's,
    gathered on rank 0).
    """
    plain = servable(model)
    plain.config.use_cache = True
    plain.save_pretrained(dest, state_dict=state_dict)
    tokenizer.save_pretrained(dest)
    (dest / MARKER).write_text(json.dumps(marker, indent=2))
    if is_peft(model):  # the unmerged adapter too: small enough to ship, servable on the base model
        model.save_pretrained(dest / ADAPTER_DIR)
