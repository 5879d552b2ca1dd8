"""icegrt eval report from real-shaped evaluation JSONs and run directories written here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from training.evaluate.report import difference, general_values

TASKS = ("arc_easy", "boolq", "piqa")


def general_json(path: Path, scores: dict[str, float], stderr: float = 0.02) -> Path:
    tasks = {name: {"acc": score - 0.01, "acc_stderr": stderr, "acc_norm": score, "acc_norm_stderr": stderr,
                    "n": 500, "metric": "acc_norm"} for name, score in scores.items()}
    data = {"model": str(path.stem), "backend": "vllm", "limit": 500, "tasks": tasks,
            "average": sum(scores.values()) / len(scores), "command": "icegrt eval general"}
    path.write_text(json.dumps(data))
    return path


def domain_json(path: Path, f1: float, cell_f1: float, chat: float, versus: str | None = None) -> Path:
    def ads(value: float) -> dict:
        return {"n": 50, "detection": {"micro": {"tp": 1, "fp": 1, "fn": 1, "precision": value, "recall": value, "f1": value},
                                       "macro_f1": value - 0.05, "per_policy": {}},
                "detection_stderr": {"micro_f1": 0.03, "macro_f1": 0.04},
                "revisions": {"n": 40, "pass_rate": 0.1, "keeps_product_rate": 0.9, "pass_rate_stderr": 0.047}}

    data = {"task": "domain", "model": path.stem, "ads": {"test": ads(f1), "handwritten": ads(f1 - 0.1)},
            "table": {"test": {"n": 100, "cell_f1": cell_f1, "cell_f1_stderr": 0.01}},
            "chat": {"reward": {"mean": chat, "stderr": 0.1, "n": 94}, "transcripts": []}}
    if versus:
        data["chat"]["versus"] = {"model": versus, "win_rate": {"win_rate": 0.62, "stderr": 0.05, "n": 94, "wins": 55,
                                                                "ties": 7, "losses": 32}}
    path.write_text(json.dumps(data))
    return path


def run_dir(root: Path, name: str, records: list[dict]) -> Path:
    path = root / name
    path.mkdir(parents=True)
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture
def inputs(tmp_path) -> dict[str, Path]:
    runs = tmp_path / "runs"
    return {
        "general_base": general_json(tmp_path / "g_base.json", {"arc_easy": 0.60, "boolq": 0.55, "piqa": 0.65}),
        "general_sft": general_json(tmp_path / "g_sft.json", {"arc_easy": 0.59, "boolq": 0.56, "piqa": 0.64}),
        "general_ppo": general_json(tmp_path / "g_ppo.json", {"arc_easy": 0.58, "boolq": 0.45, "piqa": 0.65}),
        "domain_base": domain_json(tmp_path / "d_base.json", 0.45, 0.01, -0.5),
        "domain_sft": domain_json(tmp_path / "d_sft.json", 0.50, 0.30, 0.0),
        "domain_ppo": domain_json(tmp_path / "d_ppo.json", 0.52, 0.40, 0.1, versus="runs/sft_cpu/checkpoint"),
        "sft": run_dir(runs, "sft_cpu", [{"step": 1, "loss": 1.8}, {"step": 2, "loss": 1.6}, {"step": 2, "eval_loss": 1.7}]),
        "reward": run_dir(runs, "reward_cpu", [{"step": 1, "loss": 0.7, "accuracy": 0.5},
                                               {"step": 2, "eval_loss": 0.6, "eval_accuracy": 0.7}]),
        "ppo": run_dir(runs, "ppo_cpu", [{"step": s, "reward": 0.1 * s, "reward_scaled": 0.2 * s, "kl": 0.5 * s,
                                          "kl_coef": 0.05} for s in (1, 2, 3)]),
    }


def _checkpoints() -> list[str]:
    return ["--checkpoint", "base=SmolLM2-135M-Instruct", "--checkpoint", "sft=runs/sft_cpu/checkpoint",
            "--checkpoint", "ppo=runs/ppo_cpu/checkpoint"]


def test_report_renders_every_section_from_the_inputs(tmp_path, inputs):
    argv = ["eval", "report", "--name", "full", "--results-dir", str(tmp_path / "results"), *_checkpoints(),
            *[x for label in ("base", "sft", "ppo") for x in ("--general-json", f"{label}={inputs['general_' + label]}",
                                                               "--domain-json", f"{label}={inputs['domain_' + label]}")],
            *[x for stage in ("sft", "reward", "ppo") for x in ("--run", str(inputs[stage]))]]
    assert main(argv) == 0
    out = tmp_path / "results" / "full"
    assert sorted(p.name for p in out.iterdir()) == ["command.txt", "domain.png", "general.png", "report.json",
                                                       "report.md", "training.png"]
    assert (out / "command.txt").read_text().strip().startswith("icegrt eval report --name full")
    text = (out / "report.md").read_text()
    for heading in ("## General benchmarks", "## Domain metrics", "## ppo against sft", "## ppo against base",
                    "## sft against base", "## Training curves"):
        assert heading in text
    # table cell F1: 0.40 vs 0.30, stderr sqrt(2) * 0.01 -> higher; boolq 0.45 vs 0.56 (se 0.028) -> lower
    assert "| Text to table, E2E test: cell F1 | 0.300 ± 0.010 | 0.400 ± 0.010 | +0.100 ± 0.014 | **higher** |" in text
    assert "| boolq | 0.560 ± 0.020 | 0.450 ± 0.020 | -0.110 ± 0.028 | **lower** |" in text
    assert "general benchmarks, ppo lower than sft: boolq; General average." in text  # 0.560 vs 0.597 ± 0.016
    assert ("ppo wins 0.620 ± 0.050 of 94 conversations against sft (55 wins, 7 ties, 32 losses; "
            "beyond 2 stderr of 0.5)") in text
    tables = text.split("Missing parts say *not run*.")[1].split("## ppo against sft")[0]
    assert "not run" not in tables  # every checkpoint has every part
    report = json.loads((out / "report.json").read_text())
    assert report["inputs"]["general"]["ppo"]["tasks"]["boolq"]["acc_norm"] == 0.45
    assert {run["stage"] for run in report["inputs"]["runs"]} == {"sft", "reward", "ppo"}


def test_missing_parts_are_declared(tmp_path, inputs):
    argv = ["eval", "report", "--name", "partial", "--results-dir", str(tmp_path / "results"), *_checkpoints(),
            "--domain-json", f"sft={inputs['domain_sft']}", "--domain-json", f"ppo={inputs['domain_sft']}",
            "--run", str(inputs["ppo"])]
    assert main(argv) == 0
    out = tmp_path / "results" / "partial"
    assert not (out / "general.png").exists() and (out / "domain.png").is_file()
    text = (out / "report.md").read_text()
    assert "General benchmarks were not run for any checkpoint" in text
    assert "Not run for: base." in text
    assert "- sft: no run given." in text and "- reward: no run given." in text
    assert "Multi-turn chat win rate of ppo over sft: not run" in text
    assert "- general benchmarks: not measured for both." in text


@pytest.mark.parametrize("extra, message", [
    (["--domain-json", "rlhf=x.json"], "unknown checkpoint label"),
    (["--domain-json", "sft=/nonexistent.json"], "cannot read it as JSON"),
    (["--compare", "ppo:dpo"], "both must be checkpoint labels"),
    (["--run", "/nonexistent-run"], "no metrics.jsonl"),
])
def test_bad_inputs_are_refused_before_anything_is_written(tmp_path, capsys, extra, message):
    argv = ["eval", "report", "--name", "bad", "--results-dir", str(tmp_path / "results"), *_checkpoints(), *extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


def test_difference_reading_and_general_average_by_hand():
    assert difference((0.5, 0.01), (0.4, 0.01))["reading"] == "higher"
    assert difference((0.41, 0.01), (0.4, 0.01))["reading"] == "within 2 stderr"
    assert difference((0.3, None), (0.4, 0.01))["reading"] == "no stderr"
    values = general_values({"tasks": {"a": {"acc": 0.5, "acc_stderr": 0.03, "metric": "acc"},
                                       "b": {"acc_norm": 0.7, "acc_norm_stderr": 0.04, "metric": "acc_norm"}},
                             "average": 0.6})
    assert values["b"] == (0.7, 0.04)
    assert values["average"][0] == 0.6 and values["average"][1] == pytest.approx(0.025)  # sqrt(.03^2+.04^2)/2


def test_run_domain_plans_judge_ppo_against_sft_and_skip_given_jsons(tmp_path, inputs, tiny_reward_checkpoint):
    from cli.main import build_parser
    from training.evaluate.report_command import check_inputs, domain_plans

    args = build_parser().parse_args([
        "eval", "report", "--name", "plan", "--checkpoint", "base=tiny", "--checkpoint", "sft=tiny",
        "--checkpoint", "ppo=tiny", "--domain-json", f"base={inputs['domain_base']}", "--run-domain",
        "--reward-model", str(tiny_reward_checkpoint), "--limit", "3", "--chat-limit", "1"])
    plans = {label: plan for label, plan, _ in domain_plans(args, check_inputs(args))}
    assert list(plans) == ["sft", "ppo"]  # base came as a JSON
    assert plans["ppo"].versus == "tiny" and plans["sft"].versus is None
    assert plans["ppo"].tasks == ("ads", "table", "chat")
    assert (plans["ppo"].ads_limit, plans["ppo"].table_limit, plans["ppo"].chat_limit) == (3, 3, 1)
    args.reward_model = "tiny"  # a causal LM is no judge: refused before any engine starts
    with pytest.raises(ValueError, match="must be a reward one"):
        domain_plans(args, check_inputs(args))


def test_a_domain_plan_is_recorded_as_the_command_that_repeats_it(tmp_path):
    from cli.main import build_parser
    from training.evaluate.domain_command import plan_command, plan_from_args

    argv = ["eval", "domain", "--model", "m", "--reward-model", "rm", "--versus", "v", "--tasks", "ads,chat",
            "--ads-limit", "3", "--chat-limit", "2", "--enforce-eager", "--output", str(tmp_path / "d.json")]
    plan = plan_from_args(build_parser().parse_args(argv))
    again = build_parser().parse_args(plan_command(plan, tmp_path / "d.json").split()[1:])
    assert plan_from_args(again) == plan
