"""One measurement of TRL's PPO trainer (trl.experimental.ppo.PPOTrainer, TRL 1.12.0, the last release with
PPO) on the same prompts as ours; runs in .venv-trl-ppo (made by setup_trl_ppo.sh).

    .venv-trl-ppo/bin/python benchmarks/training/ppo_trl_worker.py --plan plan.json --out result.json

The plan lists each step's prompts (our token ids, as our PPO samples them); TRL's dataloader is replaced by
a sequential one over them, so each TRL update takes the rollout batch our step takes. Models: the policy and
a reference copy (AutoModelForCausalLM) and the critic (AutoModelForSequenceClassification, one label, from
the same start model: our critic_init sft), all fp32, full fine-tune. The reward: TRL calls get_reward on a
reward model; here get_reward is replaced, for the reward model only, by the project's cell-F1 scorer
(tasks.text_to_table.reward.table_reward, what our task reward calls) on the decoded reply, so both sides
score the same way; the critic's get_reward is TRL's own. No stop token (TRL's default): every reply is
response_length tokens, as ours with its EOS disabled.

Phase times: wrappers around ppo_trainer's module functions and the optimizer, in this process only:
batch_generation (rollout), get_reward on the reward model (scoring), the no-grad ``forward`` of the reference
and get_reward on the critic (forward), from the first grad-enabled ``forward`` to the last optimizer step
(epochs); each step's total between TrainerCallback.on_step_end calls (the first from on_train_begin).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plan", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    plan = json.loads(args.plan.read_text())
    started = time.perf_counter()

    import torch

    torch.set_num_threads(plan["threads"])
    import transformers
    import trl
    import trl.experimental.ppo.ppo_trainer as P
    from datasets import Dataset
    from torch.utils.data import DataLoader
    from transformers import (AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer,
                              DataCollatorWithPadding, TrainerCallback)
    from trl.experimental.ppo import PPOConfig, PPOTrainer

    from benchmarks.training.accounting import phase_split
    from tasks.text_to_table.reward import table_reward
    from tasks.text_to_table.table import Table

    s = plan["settings"]
    warmup, steps = plan["warmup_steps"], plan["timed_steps"]
    tokenizer = AutoTokenizer.from_pretrained(plan["model_dir"], padding_side="left")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token

    def load(cls, **kw):
        model = cls.from_pretrained(plan["model_dir"], dtype=torch.float32, **kw)
        model.config.pad_token_id = tokenizer.pad_token_id
        return model

    policy, ref = load(AutoModelForCausalLM), load(AutoModelForCausalLM)
    critic = load(AutoModelForSequenceClassification, num_labels=1)

    class CellF1Scorer(torch.nn.Module):
        """Stands in for TRL's reward model: get_reward on it is the cell-F1 scorer below."""

        base_model_prefix = "none"

    reward_model = CellF1Scorer()
    golds = [Table.model_validate(p["gold"]) for step in plan["steps"] for p in step]
    timers: list[dict[str, float]] = [defaultdict(float)]
    marks: dict[str, float] = {}
    generated: list[list[int]] = []
    fed: list[list[list[int]]] = []
    eos_in_replies: list[int] = []
    scored = [0]

    def add(name: str, t0: float) -> None:
        timers[-1][name] += time.perf_counter() - t0

    original_batch_generation, original_get_reward, original_forward = P.batch_generation, P.get_reward, P.forward

    @functools.wraps(original_batch_generation)
    def batch_generation(model, queries, *a, **k):
        t0 = time.perf_counter()
        query_responses, logits = original_batch_generation(model, queries, *a, **k)
        add("rollout", t0)
        responses = query_responses[:, queries.shape[1]:]
        generated.append([responses.shape[1]] * responses.shape[0])  # tokens generated (and computed) per reply
        eos_in_replies.append(int((responses == tokenizer.eos_token_id).sum()))
        fed.append([row[next((i for i, t in enumerate(row) if t != tokenizer.pad_token_id), len(row)):]
                    for row in queries.tolist()])  # left padding off
        return query_responses, logits

    @functools.wraps(original_get_reward)
    def get_reward(model, query_responses, pad_token_id, context_length):
        t0 = time.perf_counter()
        if model is not reward_model:
            out = original_get_reward(model, query_responses, pad_token_id, context_length)
            add("forward", t0)
            return out
        texts = tokenizer.batch_decode(query_responses[:, context_length:], skip_special_tokens=True)
        batch = golds[scored[0]: scored[0] + len(texts)]
        scored[0] += len(texts)
        scores = torch.tensor([table_reward(t, g) for t, g in zip(texts, batch, strict=True)], dtype=torch.float32)
        add("scoring", t0)
        return None, scores, None

    @functools.wraps(original_forward)
    def forward(model, query_responses, pad_token_id):
        t0 = time.perf_counter()
        if torch.is_grad_enabled():
            marks.setdefault("epochs_start", t0)
            return original_forward(model, query_responses, pad_token_id)
        out = original_forward(model, query_responses, pad_token_id)
        add("forward", t0)
        return out

    P.batch_generation, P.get_reward, P.forward = batch_generation, get_reward, forward

    class StepTimes(TrainerCallback):
        def __init__(self):
            self.ends: list[float] = []

        def on_train_begin(self, args, state, control, **kwargs):
            self.ends.append(time.perf_counter())

        def on_step_end(self, args, state, control, **kwargs):
            self.ends.append(time.perf_counter())
            timers[-1]["epochs"] = marks.pop("last_optimizer_step") - marks.pop("epochs_start")
            timers.append(defaultdict(float))

    times = StepTimes()
    prompts = [{"input_ids": p["input_ids"]} for step in plan["steps"] for p in step]
    batch = s["rollout_batch_size"]
    with tempfile.TemporaryDirectory(prefix="trl-ppo-bench-") as scratch:
        config = PPOConfig(
            output_dir=scratch, use_cpu=True, bf16=False, fp16=False, seed=s["seed"],
            per_device_train_batch_size=batch, gradient_accumulation_steps=1,
            num_mini_batches=batch // s["mini_batch_size"], num_ppo_epochs=s["ppo_epochs"],
            local_rollout_forward_batch_size=s["batch_size"], total_episodes=len(prompts),
            response_length=s["max_new_tokens"], temperature=s["temperature"], stop_token=None,
            missing_eos_penalty=None, kl_coef=s["init_kl_coef"], kl_estimator=s["kl_estimator"],
            learning_rate=s["learning_rate"], lr_scheduler_type="constant", warmup_steps=0,
            max_grad_norm=s["max_grad_norm"], cliprange=s["clip_range"], cliprange_value=s["clip_range_value"],
            vf_coef=s["vf_coef"], gamma=s["gamma"], lam=s["lam"], whiten_rewards=False,
            num_sample_generations=0, optim=plan["trl_optim"], gradient_checkpointing=False,
            dataloader_num_workers=0, report_to="none", save_strategy="no", eval_strategy="no",
            disable_tqdm=True, logging_steps=plan["trl_logging_steps"],
        )
        dataset = Dataset.from_list(prompts)
        trainer = PPOTrainer(args=config, processing_class=tokenizer, model=policy, ref_model=ref,
                             reward_model=reward_model, value_model=critic, train_dataset=dataset,
                             eval_dataset=dataset, callbacks=[times])
        # the plan's prompts in the plan's order (TRL's own dataloader shuffles)
        trainer.dataloader = DataLoader(dataset, batch_size=batch, shuffle=False, drop_last=True,
                                        collate_fn=DataCollatorWithPadding(tokenizer))
        optimizer_step = trainer.optimizer.step

        @functools.wraps(optimizer_step)
        def timed_optimizer_step(*a, **k):
            out = optimizer_step(*a, **k)
            marks["last_optimizer_step"] = time.perf_counter()
            return out

        trainer.optimizer.step = timed_optimizer_step
        train_started = time.perf_counter()
        trainer.train()
        optimizer_name = type(trainer.optimizer.optimizer if hasattr(trainer.optimizer, "optimizer")
                              else trainer.optimizer).__name__
        history = [h for h in trainer.state.log_history if "objective/scores" in h]
    ends = times.ends
    assert len(ends) == warmup + steps + 1, len(ends)
    totals = [b - a for a, b in zip(ends, ends[1:], strict=False)]
    result = {
        "side": "trl", "threads": torch.get_num_threads(), "torch": torch.__version__, "trl": trl.__version__,
        "transformers": transformers.__version__, "optim": str(config.optim), "optimizer": optimizer_name,
        "steps": [phase_split(total, dict(t)) for total, t in zip(totals, timers, strict=False)],
        "response_tokens_per_step": [sum(g) for g in generated[: warmup + steps]],
        "response_lengths": generated[: warmup + steps],
        "eos_tokens_in_replies": eos_in_replies[: warmup + steps],
        "prompts_match_plan": fed[: warmup + steps] == [[p["input_ids"] for p in step] for step in plan["steps"]],
        "scores_logged": [round(h["objective/scores"], 4) for h in history],
        "setup_seconds": round(train_started - started, 1),
        "process_seconds": round(time.perf_counter() - started, 1),
    }
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
