"""PPOConfig: every setting of ICE-GRT's PPO stage, each paper factor a switch.

Declared once here: each field is a YAML key of ``icegrt train ppo --config FILE`` and a
``--kebab-case`` flag whose help is its description (``icegrt train ppo --help`` lists them all
with their defaults). The fields shared with SFT and the reward model (run directory, start
model, optimizer, schedule, LoRA, checkpointing) come from :class:`training.config.TrainConfig`;
in PPO they mean:

    model            the actor's start: ICE-Instruct (an SFT checkpoint) or a known model name;
                     the frozen reference is a copy of it
    max_steps        PPO steps (one rollout batch each); the learning-rate schedule runs over them
    learning_rate    the actor's peak learning rate (critic_learning_rate is the critic's)
    batch_size       sequences per forward/backward pass (micro-batch); a mini-batch of
                     mini_batch_size sequences is accumulated from them
    max_seq_len      prompt + response tokens: prompts longer than max_seq_len - max_new_tokens
                     are skipped, and the reward model sees at most max_seq_len tokens
    lora             LoRA on the actor and the critic; the reference is then the actor with its
                     adapters switched off (no second copy of the weights)
    metric_for_best  an eval_ metric of PPO's evaluation (eval_reward, ...; needs eval_prompts);
                     best/ is the actor of the best evaluation (docs/training.md)

The paper's factors (arXiv 2401.02072): appropriate data (``prompt_source``: prompts from
ICE-Instruct's own data, or the external preference set for the ablation), reward size scaling
(``reward_scaling``, ``reward_clip``), KL control (``kl_control``, ``kl_estimator``,
``init_kl_coef``, ``kl_target``, ``kl_horizon_steps``), advantage normalization
(``whiten_advantages``) and the PPO clip range (``clip_range``, 0.2).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from training.config import SourceMix, TrainConfig, parse_mix

SourceWeights = Annotated[dict[str, float], BeforeValidator(parse_mix)]
"""Weights per prompt source, from YAML or the command line (``a=1,b=0.5``)."""

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
_NONE_WORDS = {"", "none", "null"}


def _none_word(value: Any) -> Any:
    """Let a flag say ``--reward-model none`` (YAML can write null)."""
    return None if isinstance(value, str) and value.strip().lower() in _NONE_WORDS else value


class PPOConfig(TrainConfig):
    """ICE-GRT: PPO with actor, critic, frozen reference and reward (model and/or task scorer)."""

    name: str = Field("ppo", pattern=_NAME, max_length=100,
                      description="Run name: everything is written to <runs_dir>/<name>/")
    max_steps: int = Field(20, ge=1, le=10_000_000, description="PPO steps: each samples, scores and trains on one rollout batch")
    learning_rate: float = Field(1e-6, gt=0, le=1.0, description="Actor peak learning rate (AdamW)")
    lr_schedule: Literal["cosine", "linear", "constant"] = Field(
        "linear", description="Learning-rate decay over the PPO steps after warmup (actor and critic)"
    )
    warmup_ratio: float = Field(0.0, ge=0, le=0.5, description="Fraction of max_steps spent warming the learning rates up linearly")
    batch_size: int = Field(4, ge=1, le=1024, description="Sequences per forward/backward pass (micro-batch) in scoring and training")
    grad_accum_steps: int = Field(
        1, ge=1, le=1,
        description="Not used by PPO: a mini-batch of mini_batch_size sequences is accumulated in micro-batches of batch_size",
    )
    max_seq_len: int = Field(
        512, ge=16, le=32768,
        description="Prompt + response tokens: prompts longer than max_seq_len - max_new_tokens are skipped; "
                    "the reward model sees at most this many (the response end is kept)",
    )
    save_every: int = Field(10, ge=1, description="PPO steps between checkpoints (one is always written at the end)")
    eval_every: int = Field(
        0, ge=0, description="PPO steps between greedy evaluations on the eval_prompts held-out prompts (0: only at the start and end)"
    )
    max_loss: float = Field(
        20.0, gt=0,
        description="A PPO loss (policy + vf_coef * value) above this, or NaN/inf anywhere, stops the run, keeping the last good checkpoint",
    )

    # -- the four models --------------------------------------------------------------------
    reward_model: str | None = Field(
        None, description="ICE-Reward checkpoint directory (from `icegrt train reward`), or none for a task reward only"
    )
    reward_weight: float = Field(1.0, ge=0, description="Weight of the reward model's score in the combined score")
    reward_weights: SourceWeights = Field(
        {}, description="Per prompt source, a reward-model weight in place of reward_weight (source=weight,...; "
                        "e.g. 0 for sources scored by their task reward alone)",
    )
    task_rewards: SourceWeights = Field(
        {},
        description="Verifiable task rewards added to the score, prompt source=weight,...: ad_compliance (F1 of the "
                    "judgement's grounded policy ids against the ad's labels), ad_compliance_compact (0 for a wrong "
                    "ad-level verdict, for a right one ad_verdict_floor plus the rest times the mean of that F1 and "
                    "the score of the revision the reply's fixes make), e2e_text_to_table (cell F1 against the E2E "
                    "meaning representation's table), gsm8k (final answer right: 1, else 0); each applies to its "
                    "source's prompts only",
    )
    ad_verdict_floor: float = Field(
        0.75, ge=0, le=1,
        description="ad_compliance_compact: what a right verdict earns at the least (tasks.ad_compliance.reward."
                    "VERDICT_FLOOR); 1 scores the verdict alone, so a miss and a false flag cost the same",
    )
    ad_reward: Literal["verdict", "findings"] = Field(
        "verdict",
        description="ad_compliance_compact: verdict = the verdict-gated reward above; findings = the quality of a "
                    "flagging reply's findings and fixes, and no score (abstain) for a reply that flags nothing, so "
                    "PPO leaves the verdict as it is (tasks.ad_compliance.reward.findings_reward; needs "
                    "replies_per_prompt >= 2, whose centring then skips the abstaining replies)",
    )
    critic_init: Literal["reward", "sft"] = Field(
        "reward", description="Critic (value head on a transformer) starts from the reward model, or from the actor's start model with a new head"
    )
    critic_learning_rate: float = Field(1e-5, gt=0, le=1.0, description="Critic peak learning rate (AdamW)")

    # -- 1. prompts: the paper's "appropriate data" -----------------------------------------
    prompt_source: Literal["sft", "preference"] = Field(
        "sft",
        description="Where prompts come from: sft = ICE-Instruct's own data sources (prompt_mix), preference = the "
                    "prompts of external preference pairs (preference_prompts; the paper's data ablation)",
    )
    prompt_mix: SourceMix = Field(
        {"gsm8k": 100, "self_instruct": 100, "preference_chosen": 100, "e2e_text_to_table": 100},
        description="Prompts drawn from each SFT data source or your own file (source=count,...) when "
                    "prompt_source is sft; ad_compliance and ad_compliance_compact prompts carry gold labels for "
                    "the task reward",
    )
    preference_prompts: list[str] = Field(
        ["dpo_en_demo"], min_length=1,
        description="Preference pair sources (a known name or a data path, docs/own-data.md) whose train-split "
                    "prompts are used when prompt_source is preference",
    )
    eval_prompts: int = Field(0, ge=0, le=10_000, description="Held-out prompts scored with greedy replies at each evaluation (0: no evaluation)")

    # -- 2. rollout ---------------------------------------------------------------------------
    rollout_batch_size: int = Field(8, ge=1, le=100_000, description="Replies sampled per PPO step (rollout_batch_size / replies_per_prompt prompts)")
    replies_per_prompt: int = Field(
        1, ge=1, le=64,
        description="Replies sampled to each prompt of a step, each with its own seed. With more than one, each reply's "
                    "scaled score is centred on its prompt's mean (a per-prompt baseline, training.ppo.math.center_by_prompt)",
    )
    max_new_tokens: int = Field(64, ge=1, le=16384, description="Reply budget in tokens; a reply cut here has no EOS")
    temperature: float = Field(1.0, gt=0, le=10.0, description="Sampling temperature (log-probabilities are recomputed at the same temperature)")
    top_p: float = Field(1.0, gt=0, le=1.0, description="Nucleus sampling threshold (1.0: the full distribution)")
    rollout_engine: Literal["hf", "vllm"] = Field(
        "hf",
        description="Sampler: hf = Hugging Face generate on the actor (the CPU default); vllm = an in-process vLLM engine "
                    "whose weights are reloaded from the actor before each rollout. Log-probabilities are recomputed by "
                    "the training model either way",
    )
    vllm_gpu_memory_utilization: float = Field(
        0.3, gt=0, le=1, description="rollout_engine vllm on a GPU: share of GPU memory the engine may take (training needs the rest)"
    )
    vllm_enforce_eager: bool = Field(True, description="rollout_engine vllm: skip torch.compile and CUDA graphs (faster start)")

    # -- 3. + 6. score, reward scaling ----------------------------------------------------------
    missing_eos_penalty: float = Field(1.0, ge=0, description="Subtracted from the score of a reply cut off by max_new_tokens (no EOS)")
    reward_scaling: Literal["none", "running_std", "batch_whiten", "rm_norm"] = Field(
        "rm_norm",
        description="Reward size scaling: none, running_std (divide by the running std), batch_whiten (zero mean, unit "
                    "variance per batch), rm_norm (reward-model score normalized by its reward_stats.json)",
    )
    reward_clip: float | None = Field(10.0, gt=0, description="Clamp scaled scores to [-reward_clip, reward_clip] (none: no clipping)")

    # -- 5. + 9. KL penalty and control ---------------------------------------------------------
    kl_estimator: Literal["k1", "k3"] = Field(
        "k1", description="Per-token KL(policy || reference) estimator in the reward: k1 = log p - log p_ref, k3 = (r - 1) - log r"
    )
    kl_control: Literal["fixed", "adaptive"] = Field(
        "adaptive", description="KL coefficient: fixed at init_kl_coef, or adaptive towards kl_target (Ziegler et al. 2019)"
    )
    init_kl_coef: float = Field(0.1, ge=0, description="Starting KL coefficient beta (must be > 0 for adaptive control)")
    kl_target: float = Field(6.0, gt=0, description="Adaptive control's target KL, in nats per reply (sum over its tokens)")
    kl_horizon_steps: float = Field(
        10, gt=0,
        description="Adaptive control's horizon in PPO steps (rollout batches): each step beta moves by a factor "
                    "1 + clip(kl / kl_target - 1, -0.2, 0.2) / kl_horizon_steps, so off target it changes 2x in "
                    "about 3.5 horizons",
    )

    # -- 7. advantages ------------------------------------------------------------------------
    gamma: float = Field(1.0, ge=0, le=1, description="GAE discount factor")
    lam: float = Field(0.95, ge=0, le=1, description="GAE lambda")
    whiten_advantages: bool = Field(True, description="Advantage normalization: whiten advantages over the rollout batch's reply tokens")

    # -- 8. PPO epochs ------------------------------------------------------------------------
    ppo_epochs: int = Field(4, ge=1, le=100, description="Passes over each rollout batch")
    mini_batch_size: int = Field(4, ge=1, le=100_000, description="Sequences per optimizer step within a PPO epoch (divides rollout_batch_size)")
    clip_range: float = Field(0.2, gt=0, le=10.0, description="PPO policy clip range epsilon (the paper: 0.2)")
    clip_range_value: float | None = Field(0.2, gt=0, description="Value clip range around the rollout's values (none: plain squared error)")
    vf_coef: float = Field(
        0.1, gt=0,
        description="Value-loss weight in the total loss; with a separate critic and AdamW it acts mainly through the critic's gradient clipping",
    )
    critic_warmup_steps: int = Field(0, ge=0, description="First PPO steps that train only the critic (the actor is left as is)")

    @field_validator("reward_model", "reward_clip", "clip_range_value", mode="before")
    @classmethod
    def _none_from_text(cls, value: Any) -> Any:
        return _none_word(value)

    @field_validator("preference_prompts")
    @classmethod
    def _pairs_known(cls, value: list[str]) -> list[str]:
        from training.data.preference import is_pair_source, unknown_pair_source_message

        for item in value:
            if not is_pair_source(item):
                raise ValueError(unknown_pair_source_message(item))
        return value

    @field_validator("reward_weights", "task_rewards")
    @classmethod
    def _weights(cls, value: dict[str, float], info: Any) -> dict[str, float]:
        from training.ppo.task_rewards import TASK_REWARDS

        for source, weight in value.items():
            if weight < 0:
                raise ValueError(f"{source}: a weight must be >= 0, got {weight}")
            if info.field_name == "task_rewards" and source not in TASK_REWARDS:
                raise ValueError(f"no task reward for prompt source {source!r}; there are: {', '.join(TASK_REWARDS)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PPOConfig:
        """Combinations that cannot work, refused before any model is loaded."""
        uses_rm = self.reward_model is not None and (self.reward_weight > 0 or any(w > 0 for w in self.reward_weights.values()))
        tasks = {source for source, weight in self.task_rewards.items() if weight > 0}
        uses_task = self.prompt_source == "sft" and bool(tasks & set(self.prompt_mix))
        if not uses_rm and not uses_task:
            raise ValueError("no reward: set reward_model (with reward_weight > 0) and/or task_rewards (weight > 0) for sources "
                             "in prompt_mix with prompt_source sft")
        if self.reward_model is None and self.critic_init == "reward":
            raise ValueError("critic_init is reward but reward_model is none: set reward_model, or critic_init: sft")
        if self.reward_scaling == "rm_norm" and not uses_rm:
            raise ValueError("reward_scaling rm_norm normalizes the reward model's score, and no reward model is used: "
                             "pick none, running_std or batch_whiten")
        if self.prompt_source == "sft" and tasks - set(self.prompt_mix):
            raise ValueError(f"task_rewards for {sorted(tasks - set(self.prompt_mix))} would never apply: "
                             "add those sources to prompt_mix, or drop them from task_rewards")
        if self.fsdp:
            raise ValueError("fsdp is not implemented for PPO (SFT and reward training have it): PPO runs data-parallel "
                             "under torchrun with each rank holding the four models; set fsdp: false")
        if self.kl_control == "adaptive" and self.init_kl_coef <= 0:
            raise ValueError("kl_control adaptive needs init_kl_coef > 0 (a zero coefficient can never grow)")
        if self.rollout_batch_size % self.mini_batch_size:
            raise ValueError(f"mini_batch_size {self.mini_batch_size} must divide rollout_batch_size {self.rollout_batch_size}")
        if self.rollout_batch_size % self.replies_per_prompt:
            raise ValueError(f"replies_per_prompt {self.replies_per_prompt} must divide rollout_batch_size {self.rollout_batch_size}")
        if self.ad_reward == "findings" and self.replies_per_prompt < 2:
            raise ValueError("ad_reward findings needs replies_per_prompt >= 2: without siblings to centre on, a "
                             "flagging reply's score against an abstaining one's 0 would push every ad to be flagged")
        if self.reward_scaling == "batch_whiten" and self.rollout_batch_size < 2:
            raise ValueError("reward_scaling batch_whiten needs rollout_batch_size >= 2")
        if self.max_new_tokens >= self.max_seq_len:
            raise ValueError(f"max_new_tokens {self.max_new_tokens} leaves no room for a prompt within max_seq_len {self.max_seq_len}")
        self._check_metric_for_best(uses_rm, tasks)
        return self

    def _check_metric_for_best(self, uses_rm: bool, tasks: set[str]) -> None:
        """metric_for_best names a metric PPO's evaluation logs (eval_reward, its components, ...)."""
        if self.metric_for_best is None:
            return
        if not self.eval_prompts:
            raise ValueError(f"metric_for_best {self.metric_for_best} needs evaluations: set eval_prompts > 0")
        known = ["eval_reward", "eval_response_length", "eval_eos_rate"]
        known += ["eval_reward_model_score"] if uses_rm else []
        known += ["eval_task_score", *(f"eval_task_score_{source}" for source in sorted(tasks))] if tasks else []
        if self.metric_for_best not in known and not self.metric_for_best.startswith("eval_task_part_"):
            raise ValueError(f"metric_for_best {self.metric_for_best!r} is not logged by PPO's evaluation with these "
                             f"settings; choose one of: {', '.join(known)} (or an eval_task_part_<source>_<part>)")
