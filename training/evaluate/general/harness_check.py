"""Compare ``icegrt eval general`` with lm-evaluation-harness run on the same files and examples.

Inputs: our report and ``--samples`` file, and one or more lm-eval ``--output_path`` folders
written with ``--log_samples`` for the tasks in ``results/general-harness-check/lm_eval_tasks``
(named ``ref_<task>``). Per task it puts side by side the two accuracies, the share of
examples where both pick the same answer, and the largest difference between the two
harnesses' log-likelihoods of the same choice. Writes ``comparison.json``, ``comparison.md``
and ``comparison.png``.

    python -m training.evaluate.general.harness_check --ours ours.json --ours-samples ours.jsonl \\
        --lm-eval DIR [DIR ...] --out results/general-harness-check
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

METRICS = {"choice": ("acc", "acc_norm"), "word": ("acc",), "generation": ("exact_match",)}


def load_lm_eval(dirs: list[Path]) -> tuple[dict, dict]:
    """(results by task, samples by task: doc_id -> record) from lm-eval output folders."""
    results, samples = {}, {}
    for folder in dirs:
        for path in folder.rglob("results_*.json"):
            for name, value in json.loads(path.read_text())["results"].items():
                results[name.removeprefix("ref_")] = value
        for path in folder.rglob("samples_ref_*.jsonl"):
            name = path.name.removeprefix("samples_ref_").rsplit("_", 1)[0]
            records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            kept = [r for r in records if r.get("filter") in (None, "none", "strict-match")]  # GSM8K: strict
            samples.setdefault(name, {}).update({r["doc_id"]: r for r in kept})
    return results, samples


def _lm_eval_metric(result: dict, metric: str) -> tuple[float, float] | None:
    """lm-eval's value and stderr of `metric` (GSM8K: the strict-match filter); None if not computed."""
    key = next((k for k in result if k.startswith(f"{metric},") and "stderr" not in k
                and (metric != "exact_match" or "strict-match" in k)), None)
    return None if key is None else (result[key], result[key.replace(f"{metric},", f"{metric}_stderr,")])


def compare_task(name: str, kind: str, ours: dict, ours_samples: list[dict], theirs: dict, their_samples: dict) -> dict:
    row: dict = {"task": name, "n": ours["n"], "metric": ours["metric"], "backend": ours["backend"]}
    for metric in METRICS[kind]:
        if (their := _lm_eval_metric(theirs, metric)) is None:
            continue  # lm-eval's config for the task does not compute it (WinoGrande: acc only)
        their_value, their_stderr = their
        row[metric] = {"icegrt": ours[metric], "icegrt_stderr": ours[f"{metric}_stderr"],
                       "lm_eval": their_value, "lm_eval_stderr": their_stderr, "diff": ours[metric] - their_value}
    same, diffs = 0, []
    for record in ours_samples:
        other = their_samples[record["index"]]
        if kind == "generation":
            same += record["strict"] == other["filtered_resps"][0]
            continue
        their_lls = [float(resp[0]) for resp in other["filtered_resps"]]
        diffs.extend(abs(a - b) for a, b in zip(record["loglikelihoods"], their_lls))
        if kind == "choice":
            same += max(range(len(their_lls)), key=their_lls.__getitem__) == max(
                range(len(their_lls)), key=record["loglikelihoods"].__getitem__)
        else:
            same += record["greedy"][0] == (str(other["filtered_resps"][0][1]) == "True")  # lm-eval logs strings
    row["same_prediction"] = same / len(ours_samples)
    row["max_abs_loglikelihood_diff"] = max(diffs) if diffs else None
    return row


def markdown(rows: list[dict], header: str, their_backend: str = "HF") -> str:
    lines = [header, "", f"| task | n | metric | icegrt | icegrt backend | lm-eval ({their_backend}) | diff | same answer "
             "| max abs Δ log-lik |",
             "|---|---:|---|---:|---|---:|---:|---:|---:|"]
    for row in rows:
        metric = row["metric"]
        m = row[metric]
        delta = "—" if row["max_abs_loglikelihood_diff"] is None else f"{row['max_abs_loglikelihood_diff']:.1e}"
        lines.append(f"| {row['task']} | {row['n']} | {metric} | {m['icegrt']:.3f} ± {m['icegrt_stderr']:.3f} | {row['backend']} | "
                     f"{m['lm_eval']:.3f} ± {m['lm_eval_stderr']:.3f} | {m['diff']:+.3f} | "
                     f"{row['same_prediction']:.1%} | {delta} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path, their_backend: str = "HF") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["task"] for r in rows]
    ours = [r[r["metric"]]["icegrt"] for r in rows]
    theirs = [r[r["metric"]]["lm_eval"] for r in rows]
    errs_ours = [r[r["metric"]]["icegrt_stderr"] for r in rows]
    errs_theirs = [r[r["metric"]]["lm_eval_stderr"] for r in rows]
    x = range(len(rows))
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.bar([i - 0.2 for i in x], ours, 0.4, yerr=errs_ours, label="icegrt eval general", capsize=2)
    ax.bar([i + 0.2 for i in x], theirs, 0.4, yerr=errs_theirs, label=f"lm-eval 0.4.13 ({their_backend})", capsize=2)
    ax.set_xticks(list(x), [f"{n}\n({r['metric']}, n={r['n']})" for n, r in zip(names, rows)], fontsize=7)
    ax.set_ylabel("score")
    ax.set_title("SmolLM2-135M-Instruct: icegrt vs lm-evaluation-harness on the same examples")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    from training.evaluate.general.tasks import TASKS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ours", type=Path, nargs="+", required=True, help="icegrt eval general --output files")
    parser.add_argument("--ours-samples", type=Path, nargs="+", required=True, help="their --samples files")
    parser.add_argument("--lm-eval", type=Path, nargs="+", required=True, help="lm-eval --output_path folders")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--lm-eval-backend", default="HF",
                        help="what lm-eval ran, for the labels (HF: its transformers model; or e.g. local-completions)")
    args = parser.parse_args(argv)

    ours = {}
    for path in args.ours:
        report = json.loads(path.read_text())
        ours.update({name: {**scores, "backend": report["backend"]} for name, scores in report["tasks"].items()})
    ours_samples: dict[str, list[dict]] = {}
    for path in args.ours_samples:
        for line in path.read_text().splitlines():
            record = json.loads(line)
            ours_samples.setdefault(record["task"], []).append(record)
    theirs, their_samples = load_lm_eval(args.lm_eval)
    rows = [compare_task(name, TASKS[name].kind, ours[name], ours_samples[name], theirs[name], their_samples[name])
            for name in TASKS if name in ours and name in theirs]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "comparison.json").write_text(json.dumps({"tasks": rows}, indent=2) + "\n")
    backend = args.lm_eval_backend
    (args.out / "comparison.md").write_text(markdown(rows, "# icegrt eval general vs lm-evaluation-harness", backend))
    plot(rows, args.out / "comparison.png", backend)
    print(markdown(rows, "", backend))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
