"""compare.py's options and server commands, and report.py's ratio table and plot (no servers started)."""

from __future__ import annotations

import json
from pathlib import Path

from loadtests import report
from loadtests.compare import QUICK, parse_args, target
from loadtests.scenarios import SCENARIOS


def test_quick_fills_only_what_was_not_given():
    quick = parse_args(["--quick", "--num-prompts", "3"])
    assert quick.num_prompts == 3
    assert (quick.concurrency, quick.max_tokens, quick.scenarios) == (QUICK["concurrency"], 16, QUICK["scenarios"])
    assert quick.enforce_eager is True and quick.dtype == "float32"  # no GPU here
    full = parse_args(["--no-enforce-eager"])
    assert full.concurrency == [1, 4, 16, 64] and full.num_prompts == 64 and full.scenarios == list(SCENARIOS)
    assert full.enforce_eager is False


def test_all_servers_get_the_same_model_and_settings(tmp_path):
    args = parse_args(["--quick", "--max-num-seqs", "8", "--kv-cache-space", "1.5"])
    commands = {name: target(name, Path("/m/dir"), "dir", 9000, args, tmp_path).command
                for name in ("icegrt", "vllm", "hf")}
    for command in commands.values():
        assert command[command.index("--model") + 1] == "/m/dir"
        assert command[command.index("--served-model-name") + 1] == "dir"
        assert command[command.index("--dtype") + 1] == "float32"
    for name in ("icegrt", "vllm"):
        assert {"--enforce-eager", "--max-num-seqs", "--max-model-len"} <= set(commands[name])
    assert commands["icegrt"][commands["icegrt"].index("--kv-cache-space") + 1] == "1.5"
    assert commands["vllm"][commands["vllm"].index("--kv-cache-memory-bytes") + 1] == str(int(1.5 * 2**30))
    assert commands["vllm"][2] == "vllm.entrypoints.openai.api_server"
    assert commands["hf"][2] == "loadtests.hf_baseline_server" and "--max-model-len" not in commands["hf"]


def summary(tok_s: float, ttft_p50: float | None, e2e_p50: float) -> dict:
    dist = (lambda p50: {"mean": p50, "p50": p50, "p90": p50, "p99": p50} if p50 is not None else None)
    return {"planned": 4, "completed": 4, "errors_by_status": {}, "output_throughput": tok_s,
            "request_throughput": tok_s / 10, "ttft_ms": dist(ttft_p50), "tpot_ms": dist(10.0),
            "itl_ms": dist(10.0), "e2e_ms": dist(e2e_p50)}


def test_report_ratios_and_plot(tmp_path):
    def run(server: str, scenario: str, s: dict) -> dict:
        return {"server": server, "scenario": scenario, "label": "c=1", "mode": "concurrency", "summary": s}

    runs = [run("icegrt", "streaming", summary(100, 50, 1000)), run("vllm", "streaming", summary(125, 40, 800)),
            run("hf", "streaming", summary(20, 100, 4000)),
            run("icegrt", "mix", {**summary(80, None, 2000), "prefix_cache": {"queries": 100, "hits": 94,
                                                                                "hit_rate": 0.94}})]
    results = {"name": "t", "command": "python -m loadtests.compare --quick", "machine": {"nproc": 2},
               "settings": {"model": "m", "dtype": "float32", "max_tokens": 16, "num_prompts": 4,
                            "max_duration_s": 60}, "servers": {"hf": {"error": "exited with 1"}}, "runs": runs}
    (tmp_path / "results.json").write_text(json.dumps(results))
    written = report.render(tmp_path)
    text = (tmp_path / "results.md").read_text()
    # out tok/s ours/vllm 0.80, ours/hf 5.00; TTFT p50 1.25, 0.50; TPOT 1.00, 1.00; E2E 1.25, 0.25 (twice: p50, p99)
    assert "| c=1 | 0.80 | 5.00 | 1.25 | 0.50 | 1.00 | 1.00 | 1.25 | 0.25 | 1.25 | 0.25 |" in text
    assert "## mix" in text and "| c=1 | n/a" not in text  # mix runs on ours only: no ratios
    assert "| 94% | 4/4 |" in text and "| - | 4/4 |" in text  # prefix-cache hits where the server reports them
    assert "**hf** did not run: exited with 1" in text
    assert (tmp_path / "latency_vs_throughput.png") in written
    assert (tmp_path / "latency_vs_throughput.png").read_bytes()[:4] == b"\x89PNG"


def test_reserved_cpus_reach_both_vllm_servers_only_when_given(tmp_path):
    given = parse_args(["--cpu-reserved-cpus", "0"])
    icegrt, vllm = (target(name, Path("/m/dir"), "dir", 9000, given, tmp_path) for name in ("icegrt", "vllm"))
    assert icegrt.command[icegrt.command.index("--cpu-reserved-cpus") + 1] == "0"
    assert vllm.env == {"VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}
    default = parse_args([])
    icegrt, vllm = (target(name, Path("/m/dir"), "dir", 9000, default, tmp_path) for name in ("icegrt", "vllm"))
    assert "--cpu-reserved-cpus" not in icegrt.command and vllm.env == {}


def test_gpu_compare_script_asks_compare_for_what_it_means(tmp_path, monkeypatch):
    """loadtests/gpu_compare.sh needs a GPU to run; here its compare.py command is parsed by compare.py's own
    options as on a GPU machine, so a renamed or dropped option fails on CPU before a GPU session is spent."""
    import re
    import shlex

    from loadtests import compare

    script = (Path(__file__).resolve().parents[2] / "loadtests" / "gpu_compare.sh").read_text()
    call = re.search(r"-m loadtests\.compare (.*?)\"\$@\"", script, re.S).group(1)
    argv = shlex.split(call.replace("\\\n", " ").replace('"$name"', "gpu-test"))
    monkeypatch.setattr(compare, "has_gpu", lambda: True)
    args = parse_args(argv)
    assert (args.name, args.servers, args.dtype, args.gpu) == ("gpu-test", ["icegrt", "vllm", "hf"], "bfloat16", True)
    assert args.scenarios == ["streaming", "long_prompt"] and args.concurrency == [1, 16, 64]
    for name in ("icegrt", "vllm"):
        command = target(name, Path("/m/SmolLM2"), "SmolLM2", 9000, args, tmp_path).command
        assert command[command.index("--gpu-memory-utilization") + 1] == "0.3" and "--enforce-eager" in command
