"""``icegrt eval domain``: every domain metric of one model in one JSON.

    ads     ad compliance on the generated test split and the hand-written set
            (:func:`training.evaluate.domain.evaluate_ads`: per-policy and overall F1, revision pass rate)
    table   text to table, cell F1 on E2E test (:func:`training.evaluate.domain.evaluate_tables`)
    chat    held-out multi-turn conversations (:mod:`training.evaluate.chat`), the final reply
            scored by the reward model; with a second model, the pairwise win rate

Everything that can be wrong (model paths and kinds, set names, limits) is checked before an
engine starts. The model's engine runs all its tasks; the second model's engine then writes its
chat replies; the reward model scores both last, so no two models share memory.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from common.errors import UserError
from common.task_formats import ad_compliance_format
from inference.config import CpuTuning, EngineConfig
from inference.engine import Engine
from tasks.ad_compliance.checker import Mode, TaskFormat
from training.evaluate.chat import CHAT_SETS

T = TypeVar("T")
DOMAIN_TASKS = ("ads", "table", "chat")
AD_SETS = ("test", "handwritten")


def _names(value: Any) -> Any:
    """A flag gives a list of names comma-separated: ``--tasks ads,table``."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


Names = Annotated[tuple[str, ...], BeforeValidator(_names)]


class DomainPlan(BaseModel):
    """What `icegrt eval domain` runs: each field is a ``--flag`` of it (`icegrt eval report
    --run-domain` takes some of them too), checked by :meth:`check` before any engine starts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(..., description="Prepared model name or checkpoint dir")
    reward_model: str | None = Field(None, description="ICE-Reward checkpoint that scores the chat replies")
    versus: str | None = Field(
        None, description="Second model: its chat replies to the same conversations, and the win rate of --model over it"
    )
    tasks: Names = Field(DOMAIN_TASKS, description=f"Comma-separated subset of {','.join(DOMAIN_TASKS)}")
    limit: int | None = Field(
        None, description="First N examples of every set (ads test, ads hand-written, E2E test, each chat set)"
    )
    ads_limit: int | None = Field(None, description="First N ads of each ad set (overrides --limit)")
    table_limit: int | None = Field(None, description="First N E2E test examples (overrides --limit)")
    chat_limit: int | None = Field(None, description="First N conversations of each chat set (overrides --limit)")
    chat_sets: Names = Field(CHAT_SETS, description=f"Comma-separated chat sets: {','.join(CHAT_SETS)}")
    chat_max_tokens: int = Field(192, description="Token budget of each chat reply")
    reward_max_seq_len: int = Field(
        1024, description="Tokens the reward model sees (conversation cut from the left, the reply kept)"
    )
    suggest: bool = Field(True, description="Suggest ad revisions (and score them)")
    ads_mode: Mode = Field("auto", description="Mode of the ad checks, as the endpoint's: auto (the model's judgement "
                           "only for a checkpoint trained on the task), rules or hybrid")
    concurrency: int = Field(8, description="Requests in flight (vLLM batches them)")
    enforce_eager: bool = Field(False, description="Skip torch.compile (faster start)")
    seed: int = Field(0, description="Sampling seed (decoding is greedy)")

    @model_validator(mode="before")
    @classmethod
    def _limit_fills_the_others(cls, data: Any) -> Any:
        """``limit`` is the default of each task's own limit."""
        if isinstance(data, dict) and data.get("limit") is not None:
            data = {**data, **{k: data["limit"] for k in ("ads_limit", "table_limit", "chat_limit")
                               if data.get(k) is None}}
        return data

    def check(self) -> dict[str, Path]:
        """Resolved model paths (``model``, ``versus``, ``reward_model``), or a UserError saying what to fix."""
        from common.models import ModelNotFoundError, resolve_model
        from training.config import ConfigError
        from training.models import checkpoint_kind

        unknown = [t for t in self.tasks if t not in DOMAIN_TASKS]
        if unknown or not self.tasks:
            raise UserError(f"unknown or no task(s) {unknown}; choose from {', '.join(DOMAIN_TASKS)}")
        bad_sets = [s for s in self.chat_sets if s not in CHAT_SETS]
        if bad_sets or not self.chat_sets:
            raise UserError(f"unknown or no chat set(s) {bad_sets}; choose from {', '.join(CHAT_SETS)}")
        for name in ("limit", "ads_limit", "table_limit", "chat_limit", "chat_max_tokens", "reward_max_seq_len", "concurrency"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        if self.versus is not None and "chat" not in self.tasks:
            raise UserError("--versus compares chat replies: include chat in --tasks")
        if self.versus is not None and self.reward_model is None:
            raise UserError("--versus needs --reward-model: the reward model judges the pairs")
        paths: dict[str, Path] = {}
        for role in ("model", "versus", "reward_model"):
            spec = getattr(self, role)
            if spec is None:
                continue
            try:
                paths[role] = resolve_model(spec)
                kind = checkpoint_kind(paths[role])
            except (ModelNotFoundError, ConfigError) as exc:
                raise UserError(f"--{role.replace('_', '-')}: {exc}") from None
            wanted = "reward" if role == "reward_model" else "causal_lm"
            if kind != wanted:
                raise UserError(f"--{role.replace('_', '-')} {spec} is a {kind} checkpoint; it must be a {wanted} one")
        return paths


def engine_config(path: Path, enforce_eager: bool) -> EngineConfig:
    """The evaluation engine: the server's defaults with the CPU tuning `icegrt serve` ships, set
    here and never read from the server's ``ICEGRT_*`` environment."""
    return EngineConfig(model=path, enforce_eager=enforce_eager, cpu_tuning=CpuTuning())


async def with_engine(path: Path, enforce_eager: bool, run: Callable[[Engine], Awaitable[T]]) -> T:
    """`run(engine)` on an in-process vLLM engine serving `path`, shut down afterwards."""
    from inference.vllm_engine import VllmEngine

    engine = await VllmEngine.start(engine_config(path, enforce_eager))
    try:
        return await run(engine)
    finally:
        await engine.shutdown()


async def _model_tasks(plan: DomainPlan, engine: Engine, ad_format: TaskFormat) -> dict[str, Any]:
    from training.evaluate.chat import generate_transcripts, load_chat_items
    from training.evaluate.domain import evaluate_ads, evaluate_tables, load_ads

    report: dict[str, Any] = {}
    if "ads" in plan.tasks:
        report["ads"] = {split: await evaluate_ads(engine, load_ads(split, plan.ads_limit), suggest=plan.suggest,
                                                   concurrency=plan.concurrency, mode=plan.ads_mode,
                                                   task_format=ad_format) for split in AD_SETS}
    if "table" in plan.tasks:
        report["table"] = {"test": await evaluate_tables(engine, "test", plan.table_limit, plan.concurrency)}
    if "chat" in plan.tasks:
        items = load_chat_items(plan.chat_sets, plan.chat_limit)
        report["chat_transcripts"] = await generate_transcripts(engine, items, max_tokens=plan.chat_max_tokens,
                                                                seed=plan.seed, concurrency=plan.concurrency)
    return report


async def _versus_transcripts(plan: DomainPlan, engine: Engine) -> list[dict[str, Any]]:
    from training.evaluate.chat import generate_transcripts, load_chat_items

    items = load_chat_items(plan.chat_sets, plan.chat_limit)
    return await generate_transcripts(engine, items, max_tokens=plan.chat_max_tokens, seed=plan.seed,
                                      concurrency=plan.concurrency)


def _chat_section(plan: DomainPlan, paths: dict[str, Path], transcripts: list[dict], versus: list[dict] | None) -> dict:
    """Scores, their summary and (with a second model) the win rate."""
    from training.evaluate.chat import load_reward_model, pairwise, score_transcripts, summarize_scores

    section: dict[str, Any] = {"sets": list(plan.chat_sets), "limit": plan.chat_limit,
                               "max_tokens": plan.chat_max_tokens, "decoding": "greedy",
                               "reward_model": plan.reward_model}
    if "reward_model" in paths:
        judge = load_reward_model(paths["reward_model"])
        for group in (transcripts, versus or []):
            for transcript, score in zip(group, score_transcripts(judge, group, plan.reward_max_seq_len), strict=True):
                transcript["score"] = score
        section["reward"] = summarize_scores(transcripts)
    if versus is not None:
        section["versus"] = {"model": plan.versus, "reward": summarize_scores(versus),
                             "win_rate": pairwise(transcripts, versus), "transcripts": versus}
    section["transcripts"] = transcripts
    return section


async def evaluate_domain(plan: DomainPlan, paths: dict[str, Path]) -> dict[str, Any]:
    """The domain report of ``plan.model`` (paths from :meth:`DomainPlan.check`)."""
    started = time.monotonic()
    ad_format = ad_compliance_format(paths["model"])
    report = await with_engine(paths["model"], plan.enforce_eager, lambda engine: _model_tasks(plan, engine, ad_format))
    transcripts = report.pop("chat_transcripts", None)
    if transcripts is not None:
        versus = None
        if "versus" in paths:
            versus = await with_engine(paths["versus"], plan.enforce_eager,
                                       lambda engine: _versus_transcripts(plan, engine))
        report["chat"] = _chat_section(plan, paths, transcripts, versus)
    return {"task": "domain", "model": plan.model, "model_path": str(paths["model"]), "versus": plan.versus,
            "reward_model": plan.reward_model, "tasks": list(plan.tasks),
            "limits": {"ads": plan.ads_limit, "table": plan.table_limit, "chat": plan.chat_limit},
            **report, "wall_s": round(time.monotonic() - started, 1)}
