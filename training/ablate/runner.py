"""Run an ablation: every variant's PPO run, its domain metric, and results/<name>/.

    1. check before work: the base config with the shared settings and each variant's changes
       is a valid PPOConfig, and its models, reward statistics and prompt sources exist
    2. train each variant in turn (``run_ppo``): a finished run is skipped, an interrupted one
       resumes from its checkpoint, a diverged one is recorded in ``diverged.json`` in its run
       directory (and skipped on the next call)
    3. evaluate each variant's final checkpoint (and the start model) on the domain metric;
       results are cached per checkpoint step in ``domain_metric.json``
    4. write ablation.json, ablation.md, ablation.png and command.txt
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from pathlib import Path
from typing import Any

from training.ablate.config import AblationConfig
from training.ablate.summary import domain_difference, plot_curves, render_markdown, summarize_variant
from training.ablate.variants import variant_settings
from training.config import ConfigError, load_config
from training.ppo.config import PPOConfig

log = logging.getLogger(__name__)

DIVERGED = "diverged.json"
DOMAIN_CACHE = "domain_metric.json"
DOMAIN_LABELS = {"table": "table cell F1 (E2E test, first {limit})", "none": "domain metric"}


def variant_configs(config: AblationConfig) -> dict[str, PPOConfig]:
    """Step 1: each variant's PPOConfig, checked with its models and data (ConfigError otherwise)."""
    from training.ppo.trainer import check_before_work

    base = load_config(PPOConfig, config.base_config, config.ppo).model_dump()
    configs = {}
    for variant in config.variants:
        try:
            configs[variant] = PPOConfig.model_validate(variant_settings(base, variant, str(config.variant_runs_dir())))
        except ValueError as exc:
            raise ConfigError(f"variant {variant}: its PPO settings are invalid:\n{exc}") from None
        check_before_work(configs[variant])
    return configs


def train_variant(config: PPOConfig) -> dict[str, Any] | None:
    """Step 2 for one variant: the divergence record, or None when the run reached max_steps."""
    from training.loop import TrainingDiverged
    from training.ppo.trainer import run_ppo

    marker = config.run_dir() / DIVERGED
    if marker.is_file():
        log.info("%s diverged before; not rerun (delete %s to try again)", config.name, marker)
        return json.loads(marker.read_text())
    try:
        run_ppo(config)
        return None
    except TrainingDiverged as exc:
        record = {"message": str(exc)}
        marker.write_text(json.dumps(record, indent=2))
        return record
    finally:
        gc.collect()


def _checkpoint_step(run_dir: Path) -> int | None:
    from training.runs import RunDir

    return RunDir(run_dir).saved_step()


def domain_metric(config: AblationConfig, checkpoint: Path, cache: Path, step: int | None) -> dict[str, Any] | None:
    """Step 3: ``{"value", "stderr", ...}`` of a checkpoint, cached in `cache` for its step."""
    from training.evaluate.domain import evaluate_tables
    from training.evaluate.suite import with_engine

    if config.domain_metric == "none" or not checkpoint.is_dir():
        return None
    key = {"metric": config.domain_metric, "limit": config.domain_limit, "step": step, "checkpoint": str(checkpoint),
           "per_example_rows": True}  # caches written before rows existed are evaluated again
    if cache.is_file():
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            return cached
    report = asyncio.run(with_engine(checkpoint, config.enforce_eager,
                                     lambda engine: evaluate_tables(engine, "test", config.domain_limit, config.concurrency)))
    result = {"key": key, "value": report["cell_f1"], "stderr": report["cell_f1_stderr"], "report": report}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(result, indent=2))
    return result


def run_ablation(config: AblationConfig, command: str) -> dict[str, Any]:
    """Steps 1-4; returns what ablation.json holds."""
    configs = variant_configs(config)
    diverged = {}
    for index, (variant, ppo_config) in enumerate(configs.items(), start=1):
        log.info("== ablation %s: variant %d/%d %s", config.name, index, len(configs), variant)
        diverged[variant] = train_variant(ppo_config)
    start = None
    if config.evaluate_start:
        from common.models import resolve_model

        start_model = resolve_model(next(iter(configs.values())).model)
        start = domain_metric(config, start_model, config.variant_runs_dir() / f"start_{DOMAIN_CACHE}", None)
    rows = {}
    for variant, ppo_config in configs.items():
        run_dir = ppo_config.run_dir()
        rows[variant] = {
            "run_dir": str(run_dir),
            "settings": ppo_config.model_dump(mode="json"),
            "summary": summarize_variant(run_dir / "metrics.jsonl", config.last_k, diverged[variant]),
            "domain": domain_metric(config, run_dir / "checkpoint", run_dir / DOMAIN_CACHE, _checkpoint_step(run_dir)),
        }
    full = rows.get("full", {}).get("domain")
    for variant, row in rows.items():
        row["domain_vs_full"] = None if variant == "full" else domain_difference(row["domain"], full)
    result = {"name": config.name, "command": command, "config": config.model_dump(mode="json"),
              "seed": next(iter(configs.values())).seed, "runs_dir": str(config.variant_runs_dir()),
              "domain_metric_label": DOMAIN_LABELS[config.domain_metric].format(limit=config.domain_limit),
              "start": start, "start_vs_full": domain_difference(start, full), "variants": rows}
    write_results(config, result, {v: c.run_dir() / "metrics.jsonl" for v, c in configs.items()})
    return result


def write_results(config: AblationConfig, result: dict[str, Any], metrics_files: dict[str, Path]) -> Path:
    """Step 4: ablation.json, ablation.md, ablation.png and command.txt in results/<name>/."""
    out = config.results_path()
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "ablation.md").write_text(render_markdown(result))
    plot_curves(metrics_files, out / "ablation.png")
    (out / "command.txt").write_text(result["command"] + "\n")
    return out
