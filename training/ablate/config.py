"""AblationConfig: which PPO config the variants start from, what they share, how they are judged.

Each field is a YAML key of ``icegrt ablate --config FILE`` and a ``--kebab-case`` flag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from training.ablate.variants import VARIANTS

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class AblationConfig(BaseModel):
    """The paper's PPO ablations at the scale this machine allows."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("ablate", pattern=_NAME, max_length=100,
                      description="Ablation name: variant runs go to <runs_dir>/<name>/<variant>/, results to <results_dir>/<name>/")
    base_config: Path = Field(..., description="PPO config (YAML) the variants start from")
    ppo: dict[str, Any] = Field(
        {}, description="PPO settings applied to every variant on top of base_config (YAML mapping; sizes the runs)"
    )
    variants: list[str] = Field(list(VARIANTS), min_length=1, description=f"Variants to run, from {', '.join(VARIANTS)}")
    runs_dir: Path = Field(Path("runs"), description="Directory that holds the ablation's run directories")
    results_dir: Path = Field(Path("results"), description="Directory that holds the ablation's results directory")
    last_k: int = Field(4, ge=1, description="Final figures are means (and the variance) over the last k PPO steps")
    domain_metric: Literal["table", "none"] = Field(
        "table", description="Domain metric of each final checkpoint: table = cell F1 on the first domain_limit E2E test examples"
    )
    domain_limit: int = Field(30, ge=1, description="Examples the domain metric is computed on")
    evaluate_start: bool = Field(True, description="Also compute the domain metric of the start model (the SFT checkpoint), as a reference row")
    enforce_eager: bool = Field(True, description="Evaluation engines skip torch.compile (faster start)")
    concurrency: int = Field(8, ge=1, description="Evaluation requests in flight")

    @field_validator("ppo", mode="before")
    @classmethod
    def _mapping_from_text(cls, value: Any) -> Any:
        """A flag gives the mapping as YAML text: ``--ppo '{max_steps: 2}'``."""
        return yaml.safe_load(value) if isinstance(value, str) else value

    @field_validator("ppo")
    @classmethod
    def _no_identity(cls, value: dict[str, Any]) -> dict[str, Any]:
        fixed = {"name", "runs_dir"} & set(value)
        if fixed:
            raise ValueError(f"ppo may not set {sorted(fixed)}: each variant is named after itself under runs_dir/name")
        return value

    @field_validator("variants")
    @classmethod
    def _known_variants(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in VARIANTS]
        if unknown:
            raise ValueError(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
        if len(set(value)) != len(value):
            raise ValueError("each variant may be listed once")
        return value

    def variant_runs_dir(self) -> Path:
        return self.runs_dir / self.name

    def results_path(self) -> Path:
        return self.results_dir / self.name
