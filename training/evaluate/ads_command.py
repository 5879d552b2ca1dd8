"""``icegrt eval ads`` (the ad expert's evaluation, :mod:`training.evaluate.ads`),
``icegrt eval ads-report`` (several such evaluations side by side, :mod:`training.evaluate.ads_report`)
and ``icegrt eval ads-probe`` (a checkpoint's verdict probability, :mod:`training.evaluate.ads_probe`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from pathlib import Path

from common.errors import UserError


PROBE_SPLITS = ("dev", "test", "handwritten")


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_ads_parsers(sub, add_engine_arguments) -> None:
    from training.evaluate.ads import SUBSETS

    ads = sub.add_parser("ads", help="Ad compliance as the endpoint checks ads: ad-level and policy F1, revisions, "
                                     "per set (generated test, hand-written plain, hand-written subtle)")
    ads.add_argument("--model", default="SmolLM2-135M-Instruct", help="Prepared model name or checkpoint dir")
    ads.add_argument("--mode", choices=("auto", "rules", "hybrid"), default="auto",
                     help="As the endpoint's mode (default auto: the model's judgement only for a checkpoint trained on the task)")
    ads.add_argument("--sets", type=_names, default=SUBSETS, help=f"Comma-separated subset of {','.join(SUBSETS)}")
    ads.add_argument("--limit", type=int, default=None, help="First N ads of each set")
    ads.add_argument("--no-suggest", dest="suggest", action="store_false", help="Skip suggested revisions")
    add_engine_arguments(ads)
    ads.add_argument("--output", type=Path, required=True, help="Where to write the JSON (summary and one row per ad)")
    ads.set_defaults(handler=run_ads_command)
    report = sub.add_parser("ads-report", help="Evaluations of `icegrt eval ads` side by side: markdown and a figure")
    report.add_argument("--eval", dest="evals", action="append", required=True, metavar="LABEL=FILE",
                        help="An evaluation JSON and its label; the first is the system under test; repeat")
    report.add_argument("--output-dir", type=Path, required=True, help="Where report.md and ads.png go")
    report.set_defaults(handler=run_ads_report_command)
    probe = sub.add_parser("ads-probe", help="A compact-format checkpoint's P(violation) per ad from one forward pass: "
                                             "AUC and flagged shares (a quick check of a training checkpoint)")
    probe.add_argument("--model", required=True, help="Prepared model name or checkpoint dir")
    probe.add_argument("--split", choices=PROBE_SPLITS, default="dev",
                       help="Generated dev or test ads, or the hand-written ones (default dev: ads no training saw)")
    probe.add_argument("--limit", type=int, default=None, help="First N ads")
    probe.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    probe.add_argument("--output", type=Path, required=True, help="Where to write the JSON (summary and one row per ad)")
    probe.add_argument("--against", type=Path, default=None, metavar="FILE",
                       help="Another checkpoint's ads-probe JSON of the same split: adds a paired comparison, the "
                            "change of bias (mean log-odds of flagging) and of discrimination (AUC)")
    probe.set_defaults(handler=run_ads_probe_command)


def run_ads_command(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from common.models import resolve_model
    from common.task_formats import ad_compliance_format
    from inference.generation import StructuredGenerator
    from tasks.ad_compliance.checker import check_ad
    from training.evaluate.ads import SUBSETS, ad_sets, check_sets, summarize
    from training.evaluate.domain_command import command_line, plan_from_args
    from training.evaluate.suite import with_engine

    unknown = set(args.sets) - set(SUBSETS)
    if unknown or not args.sets:
        raise UserError(f"--sets: unknown or no set(s) {sorted(unknown)}; choose from {', '.join(SUBSETS)}")
    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be at least 1, got {args.limit}")
    plan = plan_from_args(args)  # the engine flags given, else the evaluation defaults
    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    path = resolve_model(args.model)
    task_format = ad_compliance_format(path)
    sets = {name: ads[: args.limit] if args.limit else ads for name, ads in ad_sets().items() if name in args.sets}

    async def run(engine):
        async def check(ad, request_id):
            generate = StructuredGenerator(engine, request_id, input_param="ad")
            return await check_ad(ad, generate, suggest=args.suggest, mode=args.mode, task_format=task_format)

        bar = tqdm(total=sum(map(len, sets.values())), desc="ads", unit="ad")
        checking = time.monotonic()
        rows = await check_sets(sets, check, plan.concurrency, bar.update)
        bar.close()
        return rows, time.monotonic() - checking

    rows, checking_s = asyncio.run(with_engine(path, plan.enforce_eager, run))
    report = {"task": "ads", "model": args.model, "model_path": str(path), "mode": args.mode,
              "task_format": task_format, "concurrency": plan.concurrency, "command": command_line(args),
              "wall_s": round(time.monotonic() - started, 1), "checking_s": round(checking_s, 1),
              "checks_per_s": round(len(rows) / checking_s, 3), "summary": summarize(rows), "rows": rows}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["summary"], indent=2))
    return 0


def run_ads_report_command(args: argparse.Namespace) -> int:
    from training.evaluate.ads_report import plot, render

    evals = {}
    for item in args.evals:
        label, sep, file = item.partition("=")
        if not sep or not label or not Path(file).is_file():
            raise UserError(f"--eval {item!r}: give LABEL=FILE with an existing `icegrt eval ads` JSON")
        evals[label] = json.loads(Path(file).read_text(encoding="utf-8"))
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "report.md").write_text(render(evals), encoding="utf-8")
    plot(evals, args.output_dir / "ads.png")
    print(args.output_dir / "report.md")
    return 0


def probe_records(split: str) -> list:
    from tasks.ad_compliance.data import generate_dataset, load_handwritten
    from training.data.ad_compliance import AD_SEED

    if split == "handwritten":
        return load_handwritten()
    return [r for r in generate_dataset(seed=AD_SEED) if r.split == split]


def _probe_rows(path: Path) -> list[dict]:
    """The per-ad rows of an ``icegrt eval ads-probe`` JSON (UserError when it is not one)."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))["rows"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UserError(f"--against {path}: not an `icegrt eval ads-probe` JSON ({error})") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and {"id", "violating", "p_violation"} <= r.keys()
                                             for r in rows):
        raise UserError(f"--against {path}: its rows are not ads-probe rows (id, violating, p_violation)")
    if not all("ad_digest" in r for r in rows):
        raise UserError(f"--against {path}: its rows carry no ad_digest (a probe made before probes recorded "
                        "which ad text they read): probe that checkpoint again")
    return rows


def run_ads_probe_command(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from common.models import resolve_model
    from training.evaluate.ads_probe import ad_digest, compare, probe, summarize
    from training.evaluate.domain_command import command_line

    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be at least 1, got {args.limit}")
    against = None if args.against is None else _probe_rows(args.against)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    path = resolve_model(args.model)
    records = probe_records(args.split)[: args.limit]
    if against is not None:
        digests = {r.id: ad_digest(r.ad) for r in records}
        shared = [row for row in against if row["id"] in digests]
        if not shared:
            raise UserError(f"--against {args.against}: it shares no ad with this probe's split {args.split}")
        if any(row["ad_digest"] != digests[row["id"]] for row in shared):
            raise UserError(f"--against {args.against}: it read other ads under the same ids (the ad generator "
                            "changed since it was made): probe that checkpoint again")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    bar = tqdm(total=len(records), desc="ads-probe", unit="ad")
    rows = probe(model, tokenizer, records, lambda: bar.update())
    bar.close()
    report = {"task": "ads-probe", "model": args.model, "model_path": str(path), "split": args.split,
              "command": command_line(args), "summary": summarize(rows)}
    if against is not None:
        report["against"] = {"file": str(args.against), **compare(rows, against)}
    report["rows"] = rows
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k in ("summary", "against")}, indent=2))
    return 0
