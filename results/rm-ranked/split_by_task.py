"""Split `icegrt rank` pairs into one file per task (pairs_<task>.jsonl), so that `icegrt train reward`
reports held-out accuracy per task. A pair's task is its prompt's, read from the `icegrt sample` file.

Usage: python split_by_task.py PAIRS.jsonl SAMPLES.jsonl OUT_DIR
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def main(pairs_path: str, samples_path: str, out_dir: str) -> None:
    task_of = {}
    for line in Path(samples_path).read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        task_of[record["prompt_id"]] = record["task"]
    by_task: dict[str, list[str]] = defaultdict(list)
    for line in Path(pairs_path).read_text(encoding="utf-8").splitlines():
        by_task[task_of[json.loads(line)["prompt_id"]]].append(line)
    for task, lines in sorted(by_task.items()):
        target = Path(out_dir) / f"pairs_{task}.jsonl"
        partial = target.with_suffix(".jsonl.partial")
        partial.write_text("\n".join(lines) + "\n", encoding="utf-8")
        partial.replace(target)
        print(f"{target}: {len(lines)} pairs")


if __name__ == "__main__":
    main(*sys.argv[1:4])
