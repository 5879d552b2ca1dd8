"""ICE-GRT: PPO on ICE-Instruct with a reward model and/or task scorer (arXiv 2401.02072).

``icegrt train ppo --config configs/ppo_tiny.yaml`` runs :func:`run_ppo`: everything that can be
wrong is checked before work (config, start model kind, reward model kind and statistics,
prompt sources), then the run directory is opened (a run of the same name resumes from its last
checkpoint), the four models are built (:mod:`training.ppo.policy`), and :class:`PPOTrainer`
runs PPO steps. Each step reads top to bottom (:meth:`PPOTrainer.step`):

    1. sample prompts        the step's rollout batch, a pure function of seed and step; each
                             prompt ``replies_per_prompt`` times in a row
    2. rollout               one reply per place in the batch (:class:`training.ppo.rollout.Rollout`)
    3. score                 reward model and/or task scorer, weighted (raw scores)
    4. forward               actor and reference log-probabilities, critic values, entropy,
                             recomputed by the training models in micro-batches
    5. reward scaling        missing-EOS penalty, scaling and clip of the scores; with several
                             replies per prompt, each centred on its prompt's mean
    6. KL penalty            per-token KL(actor || reference), k1 or k3, into token rewards:
                             -beta * KL at every token plus the scaled score at the last one
    7. advantages            GAE (gamma, lambda), then whitening (on or off)
    8. PPO epochs            shuffled mini-batches: clipped policy loss + clipped value loss
                             (critic only during the warm-up steps), one optimizer step each
    9. KL control            the controller moves beta from the step's measured KL
    10. log and checkpoint   metrics.jsonl (and TensorBoard events), plots (one per metric, and
                             ppo_curves.png: reward components, KL per reply and per token, beta,
                             entropy), atomic checkpoint (actor servable as is; critic, optimizers,
                             schedules, KL controller, reward scaler, RNG in trainer_state/), and
                             best/ when an evaluation improves metric_for_best

The math lives in :mod:`training.ppo.math`; phase 5 is :func:`training.ppo.rewards.shape_scores`,
phases 6-7 the function :func:`shape_rollout`.

Data-parallel under ``torchrun`` (:mod:`training.distributed`; gloo on CPU, NCCL on GPU), N
processes take the step one process takes on the same global batch (``rollout_batch_size`` and
``mini_batch_size`` stay global and must be multiples of N):

- phases 1-4, the costly ones, are split: each rank samples, scores and runs the forward passes
  for its contiguous share of the step's prompts. Prompt i of the global batch is sampled with
  its own seed :func:`prompt_seed` (seed, step, i), whichever rank holds it, so the ranks sample
  different replies (different prompts, different seeds) and N processes draw exactly the
  replies one process would;
- the rollout samples (reply ids and per-token log-probabilities and values: a few floats per
  token) are then gathered on every rank, and phases 5-7 and 9 run on the global batch on every
  rank: reward scaling statistics, advantage whitening, the measured KL that drives the adaptive
  controller and the logged means are those of the global batch, and every rank keeps the same
  scaler and controller state;
- in phase 8 each global mini-batch is split across the ranks; losses are weighted by the
  mini-batch's global token count and gradients are summed across ranks before clipping, so the
  replicas take identical optimizer steps;
- rank 0 alone shows progress, writes metrics.jsonl, plots and checkpoints (the others wait at a
  barrier); every rank restores the same checkpoint when a run resumes.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from common.task_formats import read_task_formats
from training import distributed
from training.config import ConfigError
from training.distributed import SINGLE, Distributed
from training.evaluate.report_plots import plot_ppo
from training.loop import TRAINABLE_FILE, StepSampler, build_optimizer, divergence_error, finite_metrics, restore_state
from training.models import is_peft, load_tokenizer, pick_device, resolve_start_model, save_checkpoint, trainable_state
from training.ppo.config import PPOConfig
from training.ppo.kl import AdaptiveKLController, FixedKLController
from training.ppo.math import (
    center_by_prompt,
    compute_gae,
    compute_token_rewards,
    explained_variance,
    kl_penalty,
    policy_loss,
    value_loss,
    whiten_advantages,
)
from training.ppo.policy import PPOModels, build_models, policy_forward, rollout_forward, save_critic, token_values
from training.ppo.prompts import Prompt, check_prompt_sources, load_prompts
from training.ppo.rewards import (build_scalers, component_means, part_means, reward_model_scores, shape_scores,
                                  source_weights, task_scores)
from training.ppo.rollout import Rollout, RolloutSample, collate, stack_responses, unstack_responses
from training.ppo.rollout_engine import build_rollout
from training.ppo.task_rewards import configured_task_rewards
from training.runs import RunDir, capture_rng, open_run, plot_metrics, restore_rng

log = logging.getLogger(__name__)

PPO_STATE = "ppo_state.json"


# --- phases 6-7 as one pure function -------------------------------------------------------


def shape_rollout(scores: Tensor, logprobs: Tensor, ref_logprobs: Tensor, values: Tensor, mask: Tensor, *,
                  kl_estimator: str, kl_coef: float, gamma: float, lam: float, whiten: bool) -> dict[str, Tensor]:
    """KL penalty, token rewards, GAE and (optional) whitening for a rollout batch.

    Args:
        scores: [N] scaled sequence scores (phase 5's scaling already applied).
        logprobs, ref_logprobs, values: [N, R] reply-aligned actor/reference log-probs and values.
        mask: [N, R] True at reply tokens.

    Returns:
        kl [N, R] per-token KL estimate; kl_sum [N] its sum per reply; rewards [N, R];
        advantages [N, R] (whitened if `whiten`); returns [N, R]. All 0 outside the mask.
    """
    kl = torch.where(mask, kl_penalty(logprobs, ref_logprobs, kl_estimator), 0.0)
    rewards = compute_token_rewards(scores, kl, kl_coef, mask)
    advantages, returns = compute_gae(values, rewards, mask, gamma, lam)
    advantages = whiten_advantages(advantages, mask, whiten)
    return {"kl": kl, "kl_sum": kl.sum(dim=1), "rewards": rewards, "advantages": advantages, "returns": returns}


def build_kl_controller(config: PPOConfig) -> FixedKLController | AdaptiveKLController:
    if config.kl_control == "fixed":
        return FixedKLController(config.init_kl_coef)
    return AdaptiveKLController(config.init_kl_coef, config.kl_target, config.kl_horizon_steps)


def prompt_seed(seed: int, step: int, index: int) -> int:
    """The sampling seed of the `index`-th prompt of `step`'s global rollout batch.

    A reply depends on (seed, step, its place in the batch) and the weights only: a resume repeats
    it, and under torchrun it is the same whichever rank samples it.
    """
    return random.Random(f"{seed}:rollout:{step}:{index}").getrandbits(63)


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class PPOTrainer:
    """PPO steps on a set of prompts (see the module docstring for the phases)."""

    def __init__(self, config: PPOConfig, run: RunDir, models: PPOModels, tokenizer: Any, rollout: Rollout,
                 prompts: list[Prompt], eval_prompts: list[Prompt], device: str, base: Path,
                 rm_stats: dict[str, float] | None = None, dist: Distributed = SINGLE):
        self.config, self.run, self.models, self.tokenizer, self.rollout = config, run, models, tokenizer, rollout
        self.prompts, self.eval_prompts, self.device, self.base = prompts, eval_prompts, device, base
        self.dist = dist
        self.sampler = StepSampler(len(prompts), config.rollout_batch_size // config.replies_per_prompt, 1, config.seed)
        self.kl_ctl = build_kl_controller(config)
        self.task_rewards = configured_task_rewards(config.ad_verdict_floor, config.ad_reward)
        self.scaler, self.rm_normalizer = build_scalers(config.reward_scaling, config.reward_clip, rm_stats)
        self.actor_opt, self.actor_sched = build_optimizer(models.actor, config)
        self.critic_opt, self.critic_sched = build_optimizer(models.critic, config, config.critic_learning_rate)
        self.metrics = run.metrics

    # -- phases 1-3 -------------------------------------------------------------------------
    def sample_prompts(self, step: int) -> list[tuple[int, Prompt]]:
        """Phase 1: this rank's share of the step's global rollout batch (seeded permutations, epoch after
        epoch; each prompt ``replies_per_prompt`` times in a row), each prompt with its place in the global batch."""
        k = self.config.replies_per_prompt
        batch = [self.prompts[i] for i in self.sampler.micro_batches(step - 1)[0] for _ in range(k)]
        return self.dist.shard(list(enumerate(batch)))

    def generate(self, prompts: Sequence[Prompt], seeds: Sequence[int], greedy: bool = False) -> list[RolloutSample]:
        """Phase 2: one reply per prompt from the current actor (prompt i sampled with seeds[i]), decoded to text."""
        c = self.config
        self.rollout.load_weights(self.models.actor)
        generations = self.rollout.generate([p.input_ids for p in prompts], max_new_tokens=c.max_new_tokens,
                                            temperature=c.temperature, top_p=c.top_p, seeds=seeds, greedy=greedy)
        samples = [RolloutSample(p, g.response_ids, g.finished, logprobs=g.logprobs, entropy=g.entropy)
                   for p, g in zip(prompts, generations, strict=True)]
        for sample in samples:
            sample.text = self.tokenizer.decode(sample.response_ids, skip_special_tokens=True)
        return samples

    def raw_scores(self, samples: Sequence[RolloutSample]) -> tuple[Tensor | None, Tensor | None]:
        """Phase 3: reward-model and task scores [N] (None for a term not in use; task NaN where none applies)."""
        c, m = self.config, self.models
        prompts, texts = [s.prompt for s in samples], [s.text for s in samples]
        rm = task = None
        if m.reward_model is not None:
            rm = reward_model_scores(m.reward_model, m.reward_tokenizer, prompts, texts, c.max_seq_len,
                                     c.batch_size, self.device)
        sources = {source for source, weight in c.task_rewards.items() if weight > 0}
        if sources:
            task = task_scores(prompts, texts, [s.finished for s in samples], sources, self.task_rewards)
        return rm, task

    def reward_parts(self, samples: Sequence[RolloutSample]) -> dict[str, float]:
        """Each part's mean, for task rewards made of parts (logged beside their source's score)."""
        sources = {source for source, weight in self.config.task_rewards.items() if weight > 0}
        return part_means([s.prompt for s in samples], [s.text for s in samples], [s.finished for s in samples], sources)

    def weights(self, samples: Sequence[RolloutSample]) -> tuple[Tensor, Tensor]:
        """[N] reward-model and [N] task weights of the samples, by their prompts' sources."""
        c = self.config
        return source_weights([s.prompt.source for s in samples], c.reward_weight, c.reward_weights, c.task_rewards)

    # -- phase 4 ------------------------------------------------------------------------------
    def forward_rollout(self, samples: Sequence[RolloutSample]) -> float:
        """Phase 4: fill each sample's ref_logprobs, values and (where the sampler gave none) logprobs;
        returns the mean entropy (all ranks)."""
        entropy_sum, tokens = 0.0, 0
        for chunk in _chunks(samples, self.config.batch_size):
            batch = collate(chunk, self.tokenizer.pad_token_id, self.device)
            sampled = all(s.logprobs is not None and s.entropy is not None for s in chunk)
            out = rollout_forward(self.models, batch, self.config.temperature, actor=not sampled)
            for key in ("ref_logprobs", "values") if sampled else ("logprobs", "ref_logprobs", "values"):
                for sample, row in zip(chunk, batch.gather(out[key]), strict=True):
                    setattr(sample, key, row)
            entropy_sum += sum(float(s.entropy.sum()) for s in chunk) if sampled else out["entropy_sum"].item()
            tokens += int(batch.mask.sum())
        totals = self.dist.sum_dict({"entropy_sum": entropy_sum, "tokens": tokens})
        return totals["entropy_sum"] / totals["tokens"]

    def gather_rollout(self, samples: list[RolloutSample], rm: Tensor | None,
                       task: Tensor | None) -> tuple[list[RolloutSample], Tensor | None, Tensor | None]:
        """The global rollout batch on every rank, in prompt order: samples and their raw scores [N]."""
        if not self.dist.enabled:
            return samples, rm, task
        for row, sample in enumerate(samples):
            sample.scores = {k: v[row].item() for k, v in (("reward_model", rm), ("task", task)) if v is not None}
        samples = self.dist.gather(samples)

        def column(key: str, present: bool) -> Tensor | None:
            return torch.tensor([s.scores[key] for s in samples], dtype=torch.float32) if present else None

        return samples, column("reward_model", rm is not None), column("task", task is not None)

    # -- phase 8 ------------------------------------------------------------------------------
    def train_mini_batch(self, samples: Sequence[RolloutSample], train_actor: bool, step: int) -> dict[str, float]:
        """One optimizer step on a global mini-batch: this rank's share of it in token-weighted micro-batch
        losses (weights over the whole mini-batch's tokens), gradients summed across ranks, clip, step."""
        c, m = self.config, self.models
        total_tokens = sum(len(s.response_ids) for s in samples)
        sums: dict[str, float] = defaultdict(float)
        for chunk in _chunks(self.dist.shard(samples), c.batch_size):
            batch = collate(chunk, self.tokenizer.pad_token_id, self.device)
            weight = float(batch.mask.sum()) / total_tokens
            grid = {k: batch.scatter([getattr(s, k) for s in chunk]) for k in ("logprobs", "values", "advantages", "returns")}
            values = token_values(m.critic, batch)
            v_loss, v_stats = value_loss(values, grid["values"], grid["returns"], batch.mask, c.clip_range_value)
            loss = c.vf_coef * v_loss
            if train_actor:
                logprobs, _ = policy_forward(m.actor, batch, c.temperature)
                pg_loss, pg_stats = policy_loss(logprobs, grid["logprobs"], grid["advantages"], batch.mask, c.clip_range)
                loss = loss + pg_loss
                sums["policy_loss"] += weight * pg_loss.item()
                for key, stat in pg_stats.items():  # clip_fraction, approx_kl
                    sums[key] += weight * stat.item()
            (loss * weight).backward()
            sums["value_loss"] += weight * v_loss.item()
            sums["value_clip_fraction"] += weight * v_stats["value_clip_fraction"].item()
            sums["loss"] += weight * loss.item()
        sums = self.dist.sum_dict(dict(sums))
        self._guard(step, "loss", sums["loss"], c.max_loss)
        sums["grad_norm_critic"] = self._clip_and_step(m.critic, self.critic_opt, step, "grad_norm_critic")
        if train_actor:
            sums["grad_norm_actor"] = self._clip_and_step(m.actor, self.actor_opt, step, "grad_norm_actor")
        return dict(sums)

    def _clip_and_step(self, model: Any, optimizer: Any, step: int, what: str) -> float:
        params = [p for p in model.parameters() if p.requires_grad]
        self.dist.sum_grads(params)
        limit = self.config.max_grad_norm if self.config.max_grad_norm > 0 else math.inf
        norm = torch.nn.utils.clip_grad_norm_(params, limit).item()
        self._guard(step, what, norm, math.inf)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return norm

    def _guard(self, step: int, what: str, value: float, limit: float) -> None:
        """Stop before an update that would spoil the weights (the last checkpoint is kept)."""
        if not math.isfinite(value) or value > limit:
            for optimizer in (self.actor_opt, self.critic_opt):
                optimizer.zero_grad(set_to_none=True)
            raise divergence_error(self.run, "ppo", step, what, value,
                                   "not finite" if math.isinf(limit) else f"max_loss {limit}", self.dist)

    def ppo_epochs(self, samples: list[RolloutSample], step: int) -> dict[str, float]:
        """Phase 8: ppo_epochs passes of shuffled mini-batches; the mean of their statistics."""
        c = self.config
        train_actor = step > c.critic_warmup_steps
        self.models.critic.train()
        self.models.actor.train(train_actor)
        sums: dict[str, float] = defaultdict(float)
        updates = 0
        for epoch in range(c.ppo_epochs):
            order = list(range(len(samples)))
            random.Random(f"{c.seed}:ppo:{step}:{epoch}").shuffle(order)
            for indices in _chunks(order, c.mini_batch_size):
                for key, value in self.train_mini_batch([samples[i] for i in indices], train_actor, step).items():
                    sums[key] += value
                updates += 1
        return {k: v / updates for k, v in sums.items()}

    # -- one step -----------------------------------------------------------------------------
    def step(self, step: int) -> dict[str, Any]:
        """One PPO step (phases 1-9; the caller logs and checkpoints, phase 10); returns its metrics."""
        c, started = self.config, time.monotonic()
        # 1. sample prompts (this rank's share of the global batch)
        places, prompts = zip(*self.sample_prompts(step), strict=True)
        # 2. rollout: each prompt with its own seed, the same on any rank
        samples = self.generate(prompts, [prompt_seed(c.seed, step, i) for i in places])
        rollout_s = time.monotonic() - started
        # 3. score
        rm, task = self.raw_scores(samples)
        # 4. actor and reference log-probabilities, critic values, recomputed by the training models
        entropy = self.forward_rollout(samples)
        # from here on, the global batch on every rank
        samples, rm, task = self.gather_rollout(samples, rm, task)
        has_eos = torch.tensor([s.finished for s in samples])
        # 5. reward scaling: missing-EOS penalty, scaling, clip
        rm_weight, task_weight = self.weights(samples)
        raw, scaled = shape_scores(rm, task, has_eos, reward_weight=rm_weight, task_weight=task_weight,
                                   eos_penalty=c.missing_eos_penalty, scaler=self.scaler, rm_normalizer=self.rm_normalizer)
        if c.replies_per_prompt > 1:
            # a reply no term scores (a task reward's None, no reward model) abstains from its group
            scored = None if rm is not None or task is None else ~torch.isnan(task)
            scaled = center_by_prompt(scaled, c.replies_per_prompt, scored)
        self._guard(step, "reward", raw.sum().item() + scaled.sum().item(), math.inf)
        logprobs, mask = stack_responses([s.logprobs for s in samples])
        ref_logprobs, _ = stack_responses([s.ref_logprobs for s in samples])
        values, _ = stack_responses([s.values for s in samples])
        # 6. KL penalty -> token rewards (-beta * KL per token, the scaled score at the last one);
        # 7. GAE and advantage whitening
        kl_coef = self.kl_ctl.value
        shaped = shape_rollout(scaled, logprobs, ref_logprobs, values, mask, kl_estimator=c.kl_estimator,
                               kl_coef=kl_coef, gamma=c.gamma, lam=c.lam, whiten=c.whiten_advantages)
        lengths = [len(s.response_ids) for s in samples]
        for sample, adv, ret in zip(samples, unstack_responses(shaped["advantages"], lengths),
                                    unstack_responses(shaped["returns"], lengths), strict=True):
            sample.advantages, sample.returns = adv, ret
        # 8. PPO epochs over mini-batches (critic only during the warm-up steps)
        losses = self.ppo_epochs(samples, step)
        lr = self.actor_sched.get_last_lr()[0]
        with warnings.catch_warnings():  # in warm-up steps the actor's schedule advances without an update
            warnings.filterwarnings("ignore", re.escape("Detected call of `lr_scheduler.step()` before"), UserWarning)
            self.actor_sched.step()
        self.critic_sched.step()
        # 9. KL control from the rollout's KL (nats per reply)
        mean_kl = shaped["kl_sum"].mean().item()
        self.kl_ctl.update(mean_kl, 1)  # the horizon counts PPO steps
        record = {
            "reward": raw.mean().item(), "reward_scaled": scaled.mean().item(),
            **component_means(rm, task, [s.prompt.source for s in samples]), **self.reward_parts(samples),
            "kl": mean_kl, "kl_token": shaped["kl"].sum().item() / max(sum(lengths), 1), "kl_coef": kl_coef,
            "entropy": entropy, **losses,
            "explained_variance": explained_variance(values, shaped["returns"], mask).item(),
            "response_length": sum(lengths) / len(lengths), "eos_rate": has_eos.float().mean().item(),
            "actor_trained": step > c.critic_warmup_steps, "lr": lr,
            "rollout_s": round(rollout_s, 3), "step_s": round(time.monotonic() - started, 3),
        }
        return record

    # -- evaluation -----------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Greedy replies to the held-out prompts, scored raw (reward model and task terms, weighted
        per source as in training), with every component's mean."""
        c = self.config
        rows: list[tuple[RolloutSample, float, float]] = []  # (sample, rm or NaN, task or NaN) per prompt
        for chunk in _chunks(self.dist.shard(self.eval_prompts), c.rollout_batch_size):
            samples = self.generate(chunk, [0] * len(chunk), greedy=True)
            rm, task = self.raw_scores(samples)
            for row, sample in enumerate(samples):
                rows.append((sample, math.nan if rm is None else rm[row].item(), math.nan if task is None else task[row].item()))
        rows = self.dist.gather(rows)
        samples = [sample for sample, _, _ in rows]
        rm = torch.tensor([r for _, r, _ in rows]) if self.models.reward_model is not None else None
        task = torch.tensor([t for _, _, t in rows]) if any(w > 0 for w in c.task_rewards.values()) else None
        rm_weight, task_weight = self.weights(samples)
        raw = torch.zeros(len(samples))
        if rm is not None:
            raw += rm_weight * rm
        if task is not None:
            raw += task_weight * task.nan_to_num(0.0)
        n = len(samples)
        return {"reward": raw.mean().item(), "response_length": sum(len(s.response_ids) for s in samples) / n,
                "eos_rate": sum(s.finished for s in samples) / n,
                **component_means(rm, task, [s.prompt.source for s in samples]), **self.reward_parts(samples)}

    def _log_eval(self, step: int) -> dict[str, float]:
        metrics = self.evaluate()
        if self.dist.is_main:
            self.metrics.append(finite_metrics({"step": step, **{f"eval_{k}": v for k, v in metrics.items()}}))
        return metrics

    # -- checkpoints ----------------------------------------------------------------------------
    def save(self, step: int, last: dict[str, Any]) -> None:
        """Step 10: actor (servable) in checkpoint/, everything else a resume needs in trainer_state/.

        Rank 0 writes (every replica holds the same state); the others wait until it is written.
        """
        if not self.dist.is_main:
            self.dist.barrier()
            return
        m = self.models

        def write_model(dest: Path) -> None:
            self.write_actor(dest, step, last)

        def write_state(dest: Path) -> None:
            from safetensors.torch import save_file

            torch.save(self.actor_opt.state_dict(), dest / "optimizer.pt")
            torch.save(self.actor_sched.state_dict(), dest / "scheduler.pt")
            torch.save(self.critic_opt.state_dict(), dest / "critic_optimizer.pt")
            torch.save(self.critic_sched.state_dict(), dest / "critic_scheduler.pt")
            torch.save(capture_rng(), dest / "rng.pt")
            if is_peft(m.actor):
                save_file(trainable_state(m.actor), dest / TRAINABLE_FILE)
            save_critic(m.critic, dest)
            state = {"kl_controller": self.kl_ctl.state_dict(), "reward_scaler": self.scaler.state_dict()}
            (dest / PPO_STATE).write_text(json.dumps(state, indent=2))

        self.run.save(step, write_model, write_state)
        plot_metrics(self.run.metrics_file, self.run.plots_dir)
        plot_ppo(self.metrics.read(), self.run.plots_dir / "ppo_curves.png")
        self.dist.barrier()

    def write_actor(self, dest: Path, step: int, last: dict[str, Any]) -> None:
        """The actor as a servable checkpoint in `dest`, its marker carrying the step's metrics."""
        marker = {"kind": "causal_lm", "stage": "ppo", "step": step, "base_model": str(self.base),
                  "reward_model": self.config.reward_model, "task_rewards": self.config.task_rewards,
                  "run": self.config.name, "last_metrics": finite_metrics(last),
                  "task_formats": read_task_formats(self.base)}
        save_checkpoint(self.models.actor, self.tokenizer, dest, marker)

    def save_best(self, step: int, last: dict[str, Any], evaluation: dict[str, float], saved: bool) -> None:
        """best/ when this step's evaluation improves metric_for_best (rank 0; linked from the checkpoint
        just `saved`, else written)."""
        value = self.run.improves_best({f"eval_{k}": v for k, v in evaluation.items()}) if self.dist.is_main else None
        if value is not None:
            write = None if saved else (lambda dest: self.write_actor(dest, step, last))
            self.run.save_best(step, value, write)

    def restore(self) -> None:
        """Optimizers, schedules, KL controller, reward scaler and RNG of the last checkpoint."""
        state_dir = self.run.state_dir
        restore_state(self.run, self.actor_opt, self.actor_sched)
        restore_state(self.run, self.critic_opt, self.critic_sched, prefix="critic_")
        state = json.loads((state_dir / PPO_STATE).read_text())
        self.kl_ctl.load_state_dict(state["kl_controller"])
        self.scaler.load_state_dict(state["reward_scaler"])
        restore_rng(torch.load(state_dir / "rng.pt", weights_only=False))

    # -- the loop -------------------------------------------------------------------------------
    def train(self, start_step: int, stop_after: int | None = None,
              on_step: Callable[[int], None] | None = None) -> dict[str, Any]:
        """PPO steps from `start_step` + 1 to max_steps; returns the last step's metrics.

        `stop_after` ends the loop after that step as a kill would (no extra checkpoint).
        """
        from tqdm.auto import tqdm

        c = self.config
        if start_step:
            self.restore()
        elif self.eval_prompts:
            self._log_eval(0)  # the start model's baseline
        started, record = time.monotonic(), {}
        bar = tqdm(total=c.max_steps, initial=start_step, desc="ppo", unit="step",
                   disable=not (c.progress and self.dist.is_main))
        try:
            for step in range(start_step + 1, c.max_steps + 1):
                record = self.step(step)
                # 10. log, evaluate, checkpoint, plot
                final = step == c.max_steps
                if self.dist.is_main and (step % c.log_every == 0 or final):
                    self.metrics.append(finite_metrics({"step": step, **record, "elapsed_s": round(time.monotonic() - started, 3)}))
                bar.update(1)
                bar.set_postfix(reward=f"{record['reward']:.3f}", kl=f"{record['kl']:.3f}", beta=f"{self.kl_ctl.value:.4f}")
                if self.eval_prompts and (final or (c.eval_every and step % c.eval_every == 0)):
                    record["eval"] = self._log_eval(step)
                last, saving = {k: v for k, v in record.items() if k != "eval"}, final or step % c.save_every == 0
                if saving:
                    self.save(step, last)
                if "eval" in record and c.metric_for_best is not None:
                    self.save_best(step, last, record["eval"], saving)
                if on_step is not None:
                    on_step(step)
                if final or (stop_after is not None and step >= stop_after):
                    break
        finally:
            bar.close()
            self.run.close()
        return record


# --- the command ---------------------------------------------------------------------------------


def check_before_work(config: PPOConfig) -> tuple[Path, Path | None, dict[str, float] | None]:
    """Start model, reward model (kind and statistics) and prompt sources, or a ConfigError."""
    from training.reward import read_reward_stats

    check_prompt_sources(config)
    base = resolve_start_model(config.model, ("causal_lm",), "ppo")
    reward_path, rm_stats = None, None
    if config.reward_model is not None:
        path = Path(config.reward_model)
        if not path.is_dir():
            raise ConfigError(f"reward_model {path} does not exist: train one with `icegrt train reward`, "
                              "or set reward_model: none for a task reward only")
        reward_path = resolve_start_model(str(path), ("reward",), "ppo's reward_model")
        if config.reward_scaling == "rm_norm":
            rm_stats = read_reward_stats(reward_path)
            if not (isinstance(rm_stats.get("std"), (int, float)) and rm_stats["std"] > 0):
                raise ConfigError(f"{reward_path} reward_stats.json has std {rm_stats.get('std')!r}; rm_norm needs std > 0")
    return base, reward_path, rm_stats


def run_ppo(config: PPOConfig, stop_after: int | None = None, rollout: Rollout | None = None) -> dict[str, Any]:
    """Train ICE-GRT as configured; returns a summary (step, last metrics, checkpoint path).

    Raises:
        ConfigError: anything wrong with the settings, models or prompts (before any work).
        TrainingDiverged: a NaN/inf or too large loss, gradient or reward (last checkpoint kept).
    """
    # everything that can be wrong, before any work
    base, reward_path, rm_stats = check_before_work(config)
    dist, device = distributed.setup(pick_device(config), {"rollout_batch_size": config.rollout_batch_size,
                                                           "mini_batch_size": config.mini_batch_size})
    tokenizer = load_tokenizer(base)
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(f"{base} has no chat template; PPO renders prompts with it")
    train_prompts, eval_prompts, summary = load_prompts(config, tokenizer)
    log.info("PPO prompts: %s", summary)

    # the run directory: new, or resumed from its last checkpoint
    run, start_step, already_complete = open_run(config, summary, dist)
    if already_complete:
        return already_complete

    # actor, reference, critic, reward model; the sampler
    models = build_models(config, run, start_step, base, reward_path, device, dist)
    rollout = rollout or build_rollout(config, models.actor, tokenizer, device, base)
    trainer = PPOTrainer(config, run, models, tokenizer, rollout, train_prompts, eval_prompts, device, base, rm_stats, dist)
    last = trainer.train(start_step, stop_after=stop_after)
    return {"step": run.saved_step(), "checkpoint": str(run.checkpoint_dir), "resumed": start_step > 0,
            "last": finite_metrics({k: v for k, v in last.items() if k != "eval"}), "eval": last.get("eval"),
            "data": summary}

