"""Helpers for the reference lm-eval tasks: written apart from icegrt's loaders, so the check
compares two independent readings of the same files."""

import json
import re

SHOTS_FILE = "../shared/data/sft/gsm8k_train.jsonl"
SIQA = re.compile(r"Context: (.*)\nQuestion: (.*)\nChoices:\n((?:[A-Z]\. .*\n)+)Answer:")


def process_siqa(dataset):
    def split(doc):
        context, question, answers = SIQA.fullmatch(doc["query"]).groups()
        return {"context": context, "question": question, "answers": [a[3:] for a in answers.splitlines()]}

    return dataset.map(split)


def process_gsm8k(dataset):
    return dataset.map(lambda doc: {"question": doc["context"],
                                    "target": f"{doc['chain_of_thought']}\n#### {doc['answer']}"})


def gsm8k_shots():
    with open(SHOTS_FILE, encoding="utf-8") as f:
        rows = [json.loads(line) for _, line in zip(range(5), f)]
    return [{"question": r["question"], "target": r["answer"]} for r in rows]
