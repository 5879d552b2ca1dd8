"""One measurement of TRL's SFTTrainer on the same batches as ours; runs in .venv-trl (no project imports).

    .venv-trl/bin/python benchmarks/training/trl_worker.py --plan plan.json --out result.json

The plan lists the conversations of every step in order; a sequential sampler gives each step the batch our
StepSampler gives it. Assistant-only loss comes from TRL's own tokenization with a training chat template
(SmolLM2's template with ``{% generation %}`` around each reply and its ``<|im_end|>\\n``, which is what our
labels cover); the token ids and labels TRL prepares are checked against ours. Step times come from a
TrainerCallback; real/padded tokens from a wrapper around TRL's collator (what the model was fed).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

TRAINING_TEMPLATE = Path(__file__).with_name("smollm2_training.jinja")


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
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    s = plan["settings"]
    warmup, steps = plan["warmup_steps"], plan["timed_steps"]
    examples = [ex for step in plan["steps"] for ex in step]
    tokenizer = AutoTokenizer.from_pretrained(plan["model_dir"])
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(plan["model_dir"], dtype=torch.float32)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = model.config.eos_token_id
    peft_config = None
    if s["lora"]:
        from peft import LoraConfig

        peft_config = LoraConfig(r=s["lora_r"], lora_alpha=s["lora_alpha"], lora_dropout=s["lora_dropout"],
                                 target_modules=s["lora_target_modules"], task_type="CAUSAL_LM")

    class StepTimes(TrainerCallback):
        def __init__(self):
            self.ends = []

        def on_step_end(self, args, state, control, **kwargs):
            self.ends.append(time.perf_counter())

    times = StepTimes()
    with tempfile.TemporaryDirectory(prefix="trl-sft-bench-") as scratch:
        config = SFTConfig(
            output_dir=scratch, use_cpu=True, bf16=False, fp16=False, seed=s["seed"],
            per_device_train_batch_size=s["batch_size"], gradient_accumulation_steps=1,
            max_steps=warmup + steps, learning_rate=s["learning_rate"], lr_scheduler_type="constant",
            warmup_steps=0, weight_decay=s["weight_decay"], max_grad_norm=s["max_grad_norm"],
            optim=plan["trl_optim"], gradient_checkpointing=False, max_length=s["max_seq_len"],
            packing=False, padding_free=False, assistant_only_loss=True, chat_template_path=str(TRAINING_TEMPLATE),
            train_sampling_strategy="sequential", dataloader_num_workers=0, report_to="none",
            save_strategy="no", eval_strategy="no", disable_tqdm=True, logging_steps=plan["trl_logging_steps"],
        )
        trainer = SFTTrainer(model=model, args=config, processing_class=tokenizer, peft_config=peft_config,
                             train_dataset=Dataset.from_list([{"messages": ex["messages"]} for ex in examples]),
                             callbacks=[times])
        prepared = trainer.train_dataset
        mismatches = [i for i, ex in enumerate(examples)
                      if prepared[i]["input_ids"] != ex["input_ids"] or prepared[i]["labels"] != ex["labels"]]
        fed = []
        collate = trainer.data_collator

        def counting(features):
            batch = collate(features)
            fed.append({"real": int(batch["attention_mask"].sum()), "padded": int(batch["input_ids"].numel()),
                        "labels": int((batch["labels"][:, 1:] != -100).sum())})
            return batch

        trainer.data_collator = counting
        output = trainer.train()
    ends = times.ends
    assert len(ends) == warmup + steps, len(ends)
    result = {
        "side": "trl", "threads": torch.get_num_threads(), "torch": torch.__version__, "trl": trl.__version__,
        "transformers": transformers.__version__, "optim": str(config.optim),
        "timed_seconds": ends[warmup + steps - 1] - ends[warmup - 1],
        "step_seconds": [round(b - a, 3) for a, b in zip(ends, ends[1:], strict=False)],
        "fed_tokens_per_step": fed[: warmup + steps],
        "label_tokens_per_step": [f["labels"] for f in fed[: warmup + steps]],
        "examples_differing_from_ours": mismatches,
        "train_loss": round(output.training_loss, 4),
        "process_seconds": round(time.perf_counter() - started, 1),
    }
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
