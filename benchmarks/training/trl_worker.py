"""One measurement of TRL's SFTTrainer on the same batches as ours; runs in .venv-trl (no project imports).

    .venv-trl/bin/python benchmarks/training/trl_worker.py --plan plan.json --out result.json

The plan lists the conversations of every step in order; a sequential sampler gives each step the batch our
StepSampler gives it. Assistant-only loss comes from TRL's own tokenization with a training chat template
(SmolLM2's template with ``{% generation %}`` around each reply and its ``<|im_end|>\\n``, which is what our
labels cover); the token ids and labels TRL prepares are checked against ours. Step times come from a
TrainerCallback; real/padded tokens from a wrapper around TRL's collator (what the model was fed).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from benchmarks.training.worker_common import (
    counting_collator, fed_tokens, load_tokenizer_and_model, lora_config, start, step_timer, timing_result,
    training_arguments,
)

TRAINING_TEMPLATE = Path(__file__).with_name("smollm2_training.jinja")


def main(argv: list[str] | None = None) -> int:
    args, plan, started = start(argv)
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    s = plan["settings"]
    examples = [ex for step in plan["steps"] for ex in step]
    tokenizer, model = load_tokenizer_and_model(plan, AutoModelForCausalLM)
    times = step_timer()
    with tempfile.TemporaryDirectory(prefix="trl-sft-bench-") as scratch:
        config = SFTConfig(**training_arguments(plan, scratch), max_length=s["max_seq_len"], packing=False,
                           padding_free=False, assistant_only_loss=True, chat_template_path=str(TRAINING_TEMPLATE))
        trainer = SFTTrainer(model=model, args=config, processing_class=tokenizer,
                             peft_config=lora_config(s, "CAUSAL_LM"),
                             train_dataset=Dataset.from_list([{"messages": ex["messages"]} for ex in examples]),
                             callbacks=[times])
        prepared = trainer.train_dataset
        mismatches = [i for i, ex in enumerate(examples)
                      if prepared[i]["input_ids"] != ex["input_ids"] or prepared[i]["labels"] != ex["labels"]]
        fed = []
        trainer.data_collator = counting_collator(trainer.data_collator, fed, lambda batch: {
            **fed_tokens(batch["input_ids"], batch["attention_mask"]),
            "labels": int((batch["labels"][:, 1:] != -100).sum())})
        output = trainer.train()
    fed = fed[: plan["warmup_steps"] + plan["timed_steps"]]
    result = {
        **timing_result(plan, times.ends, started, config),
        "fed_tokens_per_step": fed,
        "label_tokens_per_step": [f["labels"] for f in fed],
        "examples_differing_from_ours": mismatches,
        "train_loss": round(output.training_loss, 4),
    }
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
