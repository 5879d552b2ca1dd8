"""Typed configurations of the training stages, loaded from YAML with command-line overrides.

Every setting is declared once, as a pydantic field with a description: it is a YAML key of
``--config FILE`` and a ``--kebab-case`` flag (through :mod:`common.config`), and flags given on
the command line win over the file. Unknown keys and out-of-range values are rejected by the
schema (``extra="forbid"``, ``Field(ge=..., le=...)``) before any work starts, with a
:class:`ConfigError` that names the file and the offending key.

Classes:
    TrainConfig   what every stage shares: run directory, model, optimizer, schedule,
                  batching, evaluation, checkpointing (how many are kept, the best one),
                  TensorBoard, divergence guard, LoRA (docs/training.md)
    SFTConfig     ICE-Instruct: the SFT data mix and the held-out slice
    RewardConfig  ICE-Reward: preference pair sources and reference statistics
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from common.errors import UserError


class ConfigError(UserError):
    """A configuration the user must fix (unknown key, bad value, missing file, wrong checkpoint)."""


class TrainConfig(BaseModel):
    """Settings shared by every training stage."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # fields that may differ between a run and its resumption: they change what is shown and kept, not the
    # weights; max_steps may be raised to extend a finished run (its schedule is then recomputed, docs/training.md)
    RESUME_IGNORED: ClassVar[frozenset[str]] = frozenset({
        "overwrite", "progress", "threads", "max_steps",
        "report_to", "save_total_limit", "metric_for_best", "greater_is_better",
    })
    # evaluation metrics metric_for_best may name (None: the stage checks its own names)
    EVAL_METRICS: ClassVar[tuple[str, ...] | None] = None

    name: str = Field(
        "run", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100,
        description="Run name: everything is written to <runs_dir>/<name>/",
    )
    runs_dir: Path = Field(Path("runs"), description="Directory that holds the run directories")
    model: str = Field(
        "SmolLM2-135M-Instruct",
        description="Starting model: a known name (tiny, SmolLM2-135M-Instruct) or a checkpoint directory",
    )
    seed: int = Field(0, ge=0, description="Seed for data sampling, shuffling and initialization")
    max_seq_len: int = Field(384, ge=16, le=32768, description="Tokens per example; longer ones are truncated")
    batch_size: int = Field(4, ge=1, le=1024, description="Examples per micro-batch (one forward/backward)")
    grad_accum_steps: int = Field(2, ge=1, le=1024, description="Micro-batches accumulated per optimizer step")
    max_steps: int = Field(
        100, ge=1, le=10_000_000,
        description="Optimizer steps of the run (data repeats as needed); raise it to extend a finished run, which "
                    "continues from its last step with the learning-rate schedule recomputed for the new total",
    )
    learning_rate: float = Field(2e-5, gt=0, le=1.0, description="Peak learning rate (AdamW)")
    weight_decay: float = Field(0.0, ge=0, le=1.0, description="AdamW weight decay")
    lr_schedule: Literal["cosine", "linear", "constant"] = Field(
        "cosine", description="Learning-rate decay after warmup"
    )
    warmup_ratio: float = Field(0.05, ge=0, le=0.5, description="Fraction of max_steps spent warming up linearly")
    min_lr_ratio: float = Field(0.0, ge=0, le=1.0, description="Final learning rate as a fraction of the peak")
    max_grad_norm: float = Field(1.0, ge=0, description="Gradient clipping norm (0 turns clipping off)")
    max_loss: float = Field(
        50.0, gt=0, description="A training loss above this (or NaN/inf) stops the run, keeping the last good checkpoint"
    )
    log_every: int = Field(1, ge=1, description="Optimizer steps between metrics.jsonl lines")
    eval_every: int = Field(50, ge=0, description="Optimizer steps between evaluations (0: only at the end)")
    save_every: int = Field(50, ge=1, description="Optimizer steps between checkpoints (one is always written at the end)")
    save_total_limit: int | None = Field(
        1, ge=1,
        description="Checkpoints kept, the latest (checkpoint/ + trainer_state/) included: each save moves the one it "
                    "replaces to checkpoints/step-<N>/ and deletes the oldest there beyond this number, never the "
                    "best one (metric_for_best). 1: only the latest, as before; none: keep every save",
    )
    metric_for_best: str | None = Field(
        None,
        description="Evaluation metric that picks the best checkpoint, named as in metrics.jsonl (e.g. eval_loss; "
                    "eval_ is added when left out): every evaluation that improves it writes best/ (Hugging Face "
                    "format, as checkpoint/) with best/best.json (step, value). none: no best/",
    )
    greater_is_better: bool | None = Field(
        None,
        description="metric_for_best improves upwards (none: false for a metric ending in loss, true otherwise, "
                    "as in Hugging Face's Trainer)",
    )
    report_to: Literal["none", "tensorboard"] = Field(
        "none",
        description="Where metrics go besides metrics.jsonl and the plots, which are always written: tensorboard "
                    "also writes every scalar of metrics.jsonl (same names, same steps) as TensorBoard events in "
                    "<run>/tensorboard/ (needs the tensorboard package). Default none, as in Hugging Face's "
                    "Trainer since transformers 5: a run needs no extra package and writes nothing unasked",
    )
    dtype: Literal["float32", "bfloat16"] = Field("float32", description="Training dtype (float32 is faster on CPU)")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where to train (auto: cuda when available)")
    threads: int | None = Field(None, ge=1, le=512, description="torch CPU threads (default: torch's choice)")
    gradient_checkpointing: bool = Field(False, description="Recompute activations in backward to save memory")
    fsdp: bool = Field(
        False,
        description="Under torchrun, shard the model across the processes with FSDP (for models that do not fit one "
                    "card; NCCL on GPU, gloo on CPU) instead of replicating it; checkpoints stay full Hugging Face "
                    "checkpoints. SFT and reward training; not with lora",
    )
    lora: bool = Field(False, description="Train LoRA adapters (peft) instead of all weights; merged when saved")
    lora_r: int = Field(16, ge=1, le=1024, description="LoRA rank")
    lora_alpha: float = Field(32.0, gt=0, description="LoRA scaling numerator (scale = alpha / r)")
    lora_dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the LoRA input")
    lora_target_modules: list[str] = Field(
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        min_length=1, description="Module names that get LoRA adapters",
    )
    progress: bool = Field(True, description="Show progress bars")
    overwrite: bool = Field(False, description="Delete an existing run directory of this name instead of resuming it")

    @field_validator("save_total_limit", "metric_for_best", mode="before")
    @classmethod
    def _none_from_text(cls, value: Any) -> Any:
        """Let a flag say ``--save-total-limit none`` (YAML can write null)."""
        return None if isinstance(value, str) and value.strip().lower() in {"", "none", "null"} else value

    @field_validator("metric_for_best")
    @classmethod
    def _eval_prefix(cls, value: str | None) -> str | None:
        return value if value is None or value.startswith("eval_") else f"eval_{value}"

    @field_validator("report_to")
    @classmethod
    def _tensorboard_installed(cls, value: str) -> str:
        from training.observe import check_tensorboard

        if value == "tensorboard":
            check_tensorboard()
        return value

    @model_validator(mode="after")
    def _known_eval_metric(self) -> TrainConfig:
        known = self.EVAL_METRICS
        if self.metric_for_best is not None and known is not None and self.metric_for_best not in known:
            raise ValueError(f"metric_for_best {self.metric_for_best!r} is not an evaluation metric of this stage; "
                             f"choose one of: {', '.join(known)}")
        return self

    def best_is_greater(self) -> bool:
        """Whether metric_for_best improves upwards (greater_is_better, or guessed from its name)."""
        if self.greater_is_better is not None:
            return self.greater_is_better
        return not (self.metric_for_best or "").endswith("loss")

    @model_validator(mode="after")
    def _fsdp_without_lora(self) -> TrainConfig:
        if self.fsdp and self.lora:
            raise ValueError("fsdp and lora together are not supported: LoRA already makes the trainable state small; "
                             "set one of them to false")
        return self

    def run_dir(self) -> Path:
        return self.runs_dir / self.name

    def resume_view(self) -> dict[str, Any]:
        """The settings a resumed run must share with the run it continues."""
        data = self.model_dump(mode="json")
        return {k: v for k, v in data.items() if k not in self.RESUME_IGNORED}


def parse_mix(value: Any) -> Any:
    """Accept ``{source: count}`` (YAML) or ``"a=10,b=20"`` / ``["a=10", "b=20"]`` (command line)."""
    if isinstance(value, str):
        value = [part for part in value.replace(",", " ").split() if part]
    if isinstance(value, list):
        mix = {}
        for item in value:
            if not isinstance(item, str) or "=" not in item:
                raise ValueError(f"mix entry {item!r} must look like source=count, e.g. gsm8k=200")
            key, count = item.rsplit("=", 1)  # a path may hold "="; a count never does
            mix[key.strip()] = count.strip()
        return mix
    return value



def check_mix(value: dict[str, int]) -> dict[str, int]:
    """A mix names known SFT data sources or paths of the user's data files, each with a count of at
    least 1 (a path's file is checked before work, as the bundle's files are)."""
    from training.data.sources import is_source, unknown_source_message

    if not value:
        raise ValueError("the mix is empty: name at least one data source")
    for source, count in value.items():
        if not is_source(source):
            raise ValueError(unknown_source_message(source))
        if count < 1:
            raise ValueError(f"mix count for {source!r} must be at least 1, got {count}")
    return value


SourceMix = Annotated[dict[str, int], BeforeValidator(parse_mix), AfterValidator(check_mix)]
"""Counts per SFT data source, from YAML or the command line (``a=10,b=20``), checked."""


class SFTConfig(TrainConfig):
    """ICE-Instruct: supervised fine-tuning on a data mix, loss on assistant tokens only."""

    name: str = Field(
        "sft", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100,
        description="Run name: everything is written to <runs_dir>/<name>/",
    )
    mix: SourceMix = Field(
        {"gsm8k": 100, "self_instruct": 100, "preference_chosen": 100, "multiturn_chat": 50, "e2e_text_to_table": 100},
        description="Examples drawn from each data source (source=count,...): built-in sources (see "
                    "training.data.sources) and paths of your own files (docs/own-data.md)",
    )
    eval_examples: int = Field(32, ge=1, le=100_000, description="Held-out examples (taken from the mix) for eval loss")
    eval_batch_size: int = Field(8, ge=1, le=1024, description="Examples per evaluation batch")

    EVAL_METRICS: ClassVar[tuple[str, ...] | None] = ("eval_loss",)


class RewardConfig(TrainConfig):
    """ICE-Reward: a scalar-head transformer trained on preference pairs (Bradley-Terry loss)."""

    name: str = Field(
        "reward", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100,
        description="Run name: everything is written to <runs_dir>/<name>/",
    )
    pairs: list[str] = Field(
        ["dpo_en_demo"], min_length=1,
        description="Preference pair sources: 'dpo_en_demo' or paths of your own files of pairs: {prompt, chosen, "
                    "rejected} records, TRL's standard or conversational format (docs/own-data.md)",
    )
    max_train_pairs: int | None = Field(None, ge=1, description="Use at most this many training pairs")
    max_eval_pairs: int | None = Field(
        None, ge=1, description="Use at most this many held-out pairs (their replies also give reward_stats.json)"
    )
    eval_batch_size: int = Field(8, ge=1, le=1024, description="Pairs per evaluation batch")
    EVAL_METRICS: ClassVar[tuple[str, ...] | None] = ("eval_loss", "eval_accuracy", "eval_margin")
    learning_rate: float = Field(1e-5, gt=0, le=1.0, description="Peak learning rate (AdamW)")
    max_loss: float = Field(
        20.0, gt=0, description="A training loss above this (or NaN/inf) stops the run, keeping the last good checkpoint"
    )

    @field_validator("pairs")
    @classmethod
    def _pairs_known(cls, value: list[str]) -> list[str]:
        from training.data.preference import is_pair_source, unknown_pair_source_message

        for item in value:
            if not is_pair_source(item):
                raise ValueError(unknown_pair_source_message(item))
        return value


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(f"  {where}: unknown setting (check its spelling; see --help)")
        else:
            lines.append(f"  {where}: {item['msg']} (got {item.get('input')!r})")
    return "\n".join(lines)


def load_config(cls: type[TrainConfig], config_file: Path | str | None, overrides: dict[str, Any]) -> Any:
    """`cls` from the YAML file (if any) with `overrides` (the flags given) on top.

    Raises:
        ConfigError: unreadable file, not a mapping, unknown key or invalid value.
    """
    data: dict[str, Any] = {}
    source = "command line"
    if config_file is not None:
        path = Path(config_file)
        source = str(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must be a mapping of setting: value, not {type(loaded).__name__}")
        data = dict(loaded or {})
    data.update(overrides)
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid {cls.__name__} ({source}):\n{_describe(exc)}") from None


def dump_config(config: TrainConfig) -> str:
    """YAML text of `config` (every field, defaults included), as written to config.yaml."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
