"""One measurement of TRL's RewardTrainer on the same pairs as ours; runs in .venv-trl (no project imports).

    .venv-trl/bin/python benchmarks/training/rm_trl_worker.py --plan plan.json --out result.json

The trainer gets the plan's token ids as a processed dataset (``chosen_ids``, ``rejected_ids``): TRL drops a
pair longer than max_length where ours cuts the prompt from the left, so feeding TRL its own tokenization
would train it on other pairs. Its tokenization is still checked: each pair rendered and tokenized as TRL's
RewardTrainer does (``trl.data_utils._tokenize`` of prompt + reply), cut as ours is, must equal our ids.
The model is ``AutoModelForSequenceClassification`` (num_labels=1) built as ours is (the same seed before the
new head), LoRA with the head fully trained (``modules_to_save=["score"]``, as training.models.apply_lora).
TRL's loss: the mean of ``-logsigmoid(r_chosen - r_rejected)`` over the batch, no centering term
(center_rewards_coefficient None, its default), no margin: ours exactly. Checked besides: the rows fed per
step (real and padded tokens, and the pairs themselves), and where the model reads each row's score (at the
last token that is not the pad id, which must be the last real token, as ours reads it). The loss of every
step is taken from compute_loss.
"""

from __future__ import annotations

import json
import sys
import tempfile

from benchmarks.training.worker_common import (
    counting_collator, fed_tokens, load_tokenizer_and_model, lora_config, pairs_match_plan, start, step_timer,
    timing_result, training_arguments,
)


def main(argv: list[str] | None = None) -> int:
    args, plan, started = start(argv)
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification
    from trl import RewardConfig, RewardTrainer
    from trl.data_utils import _tokenize

    s, n = plan["settings"], plan["settings"]["max_seq_len"]
    pairs = [pair for step in plan["steps"] for pair in step]
    tokenizer, model = load_tokenizer_and_model(plan, AutoModelForSequenceClassification, num_labels=1)
    trl_ids = [[_tokenize(tokenizer, [*p["prompt"], {"role": "assistant", "content": p[reply]}])["input_ids"]
                for reply in ("chosen", "rejected")] for p in pairs]
    differing = [i for i, (p, ids) in enumerate(zip(pairs, trl_ids, strict=True))
                 if [ids[0][-n:], ids[1][-n:]] != [p["chosen_ids"], p["rejected_ids"]]]
    times, fed, batches, losses = step_timer(), [], [], []
    with tempfile.TemporaryDirectory(prefix="trl-rm-bench-") as scratch:
        config = RewardConfig(**training_arguments(plan, scratch), max_length=n, center_rewards_coefficient=None,
                              disable_dropout=True)
        trainer = RewardTrainer(model=model, args=config, processing_class=tokenizer,
                                peft_config=lora_config(s, "SEQ_CLS", ["score"]), callbacks=[times],
                                train_dataset=Dataset.from_list([{"chosen_ids": p["chosen_ids"],
                                                                  "rejected_ids": p["rejected_ids"]} for p in pairs]))

        def count(batch: dict) -> dict:
            batches.append((batch["input_ids"], batch["attention_mask"]))  # compared after training
            return fed_tokens(batch["input_ids"], batch["attention_mask"])

        trainer.data_collator = counting_collator(trainer.data_collator, fed, count)
        compute_loss = trainer.compute_loss

        def recording_loss(*a, **k):
            loss = compute_loss(*a, **k)
            losses.append(round((loss[0] if isinstance(loss, tuple) else loss).item(), 4))
            return loss

        trainer.compute_loss = recording_loss
        output = trainer.train()
    steps = plan["warmup_steps"] + plan["timed_steps"]
    pad = tokenizer.pad_token_id
    result = {
        **timing_result(plan, times.ends, started, config),
        "fed_tokens_per_step": fed[:steps],
        "pairs_match_plan": pairs_match_plan(batches, plan),
        "pairs_tokenized_differently": differing,
        "pairs_trl_would_drop": sum(max(len(c), len(r)) > n for c, r in trl_ids),
        "rows_scored_elsewhere": sum(scored_elsewhere(ids, mask, pad) for ids, mask in batches[:steps]),
        "loss_per_step": losses[:steps],
        "train_loss": round(output.training_loss, 4),
    }
    args.out.write_text(json.dumps(result, indent=2))
    return 0


def scored_elsewhere(input_ids, attention_mask, pad_id: int) -> int:
    """Rows whose score transformers' sequence classifier reads (at the last token that is not `pad_id`)
    elsewhere than at the last real token: a reply ending in the pad id (SmolLM2's pad is its <|im_end|>)."""
    import torch

    positions = torch.arange(input_ids.shape[1])
    read = ((input_ids != pad_id) * positions).argmax(-1)
    return int((read != attention_mask.sum(-1) - 1).sum())


if __name__ == "__main__":
    sys.exit(main())
