"""The admission and CPU-settings benchmarks: refusal checks, ratios and reports (no server)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from loadtests import admission, cpu_tuning
from loadtests.stats import RequestResult, summarize

ENVELOPE = json.dumps({"error": {"message": "full", "type": "service_unavailable", "param": None,
                                 "code": "server_overloaded"}})
MACHINE = {"cpu_model": "cpu", "nproc": 1, "loadavg_start": [1.0, 1.0, 1.0]}


def test_refusals_without_retry_after_or_envelope_and_other_errors_are_counted():
    results = [
        RequestResult("chat", "200", latency=1.0),
        RequestResult("chat", "503", latency=0.01, error=ENVELOPE, retry_after="5"),
        RequestResult("chat", "429", latency=0.01, error=ENVELOPE, retry_after=None),
        RequestResult("chat", "503", latency=0.01, error="<html>busy</html>", retry_after="5"),
        RequestResult("chat", "500", latency=0.01, error=ENVELOPE),
        RequestResult("chat", "ReadTimeout"),
    ]
    assert admission.check_refusals(results) == {
        "refused": 3, "without_retry_after": 1, "bad_envelope": 1, "other_errors": {"500": 1, "ReadTimeout": 1}}


def test_admission_report_states_ratios_and_targets():
    at = summarize([RequestResult("chat", "200", latency=x) for x in (1.0, 2.0)], 3.0, 2)
    over_results = [RequestResult("chat", "200", latency=2.5),
                    RequestResult("chat", "503", latency=0.02, error=ENVELOPE, retry_after="5")]
    over = summarize(over_results, 3.0, 2)
    results = {"name": "n", "command": "python -m loadtests.admission", "machine": MACHINE, "note": "1-core slice",
               "overload": {"capacity": 2, "offered_rate": 2.7, "at_capacity": at, "overloaded": over,
                            "checks": admission.check_refusals(over_results), "rejected_counted_in_metrics": 1,
                            "admitted_p99_ratio": admission.ratio(2500.0, 1990.0), "refusal_max_ms": 20.0}}
    text = admission.render(results)
    assert "**1.256** (target <= 1.5)" in text and "1-core slice" in text
    assert "| 4x capacity | 2 | 1 | 1 |" in text and "counted in icegrt_rejected_requests_total: 1" in text
    assert admission.ratio(None, 3.0) is None and admission.ratio(1.0, 0.0) is None


def test_neighbour_report_judges_the_flood_against_a_at_its_limit():
    def b(*latencies):
        return summarize([RequestResult("chat", "200", latency=x) for x in latencies], 10.0, len(latencies))

    a_results = [RequestResult("chat", "429", latency=0.003, error=ENVELOPE, retry_after="1")]
    side = {"a_during_b": {"429": 1}, "a_refusal_ms_during_b": summarize(a_results, 1.0, 1)["refusal_ms"],
            "a_checks": admission.check_refusals(a_results),
            "server_side_refusals": {"unrouted": 1, "unrouted_within_50ms": 1}}
    results = {"name": "n", "command": "c", "machine": MACHINE, "neighbour": {
        "rate_limit_rpm": 60, "b_rate": 0.5, "a_rate": 20.0, "b_alone": b(1.0, 1.0),
        "a_at_limit": {**side, "a_rate": 1.0, "b": b(1.5, 2.0)},
        "a_flooding": {**side, "a_rate": 20.0, "b": b(1.5, 2.1)},
        "b_p99_ratio": admission.ratio(2100.0, 2000.0), "b_p99_ratio_to_alone": admission.ratio(2100.0, 1000.0)}}
    text = admission.render(results)
    assert "| A at its limit (1 req/s) | 2 | 2 |" in text and "| A flooding (20 req/s) | 2 | 2 |" in text
    assert "with A at its limit: **1.05** (target <= 1.10)" in text and "against B alone: 2.1" in text
    assert "by the server's own clock 1 of 1 refusals answered within 50 ms" in text


def run(config: str, round_: int, tok_s: float) -> dict:
    return {"config": config, "round": round_, "summary": {"output_throughput": tok_s, "ttft_ms": {"p50": 100.0}}}


def test_tuning_means_and_ratios_to_both_references(tmp_path: Path):
    runs = [run("vllm-defaults", 1, 100.0), run("icegrt-untuned", 1, 98.0), run("+iomp", 1, 120.0),
            run("vllm-defaults", 2, 110.0), run("icegrt-untuned", 2, 102.0), run("+iomp", 2, 130.0)]
    table = cpu_tuning.summarize_rounds(runs)
    assert table["vllm-defaults"]["mean"] == 105.0 and table["+iomp"]["rounds"] == [120.0, 130.0]
    assert table["+iomp"]["vs_vllm-defaults"] == round(125 / 105, 3)
    assert table["+iomp"]["vs_icegrt-untuned"] == 1.25
    results = {"name": "t", "command": "c", "machine": MACHINE, "runs": runs,
               "settings": {"scenario": "streaming", "concurrency": 16, "num_prompts": 32, "max_tokens": 64}}
    assert "| +iomp | 120.0, 130.0 | 125.0 | 1.19 | 1.25 | 100 |" in cpu_tuning.render(results)
    cpu_tuning.plot(results, tmp_path / "tuning.png")
    assert (tmp_path / "tuning.png").stat().st_size > 1000


def test_thread_config_only_with_more_than_one_cpu():
    assert "+threads" not in cpu_tuning.configs(1)
    assert cpu_tuning.configs(2)[0] == "vllm-defaults" and "+threads" in cpu_tuning.configs(2)


def test_paired_ratios_per_pair_with_median_and_range():
    from loadtests import paired

    def s(tok: float, ttft: float | None) -> dict:
        return {"output_throughput": tok, "ttft_ms": {"p50": ttft} if ttft else None, "e2e_ms": {"p99": 100.0}}

    pairs = [{"icegrt": s(90, 10), "vllm": s(100, 10)}, {"icegrt": s(110, 12), "vllm": s(100, 10)},
             {"icegrt": s(100, None), "vllm": s(100, 10)}]
    ratios = paired.pair_ratios(pairs)
    assert ratios["out tok/s"] == {"pairs": [0.9, 1.1, 1.0], "median": 1.0, "min": 0.9, "max": 1.1}
    assert ratios["TTFT p50"]["pairs"] == [1.0, 1.2]  # the pair without a TTFT is skipped
    results = {"name": "p", "command": "c", "note": "", "machine": MACHINE,
               "settings": {"scenario": "streaming", "max_tokens": 32, "repeats": 3},
               "points": {"c=1": {"pairs": pairs, "ratios": ratios}}}
    assert "| c=1 | 1.00 [0.90, 1.10] | 1.10 [1.00, 1.20] | 1.00 [1.00, 1.00] | 100.0 | 100.0 | 11.0 | 10.0 |" \
        in paired.render(results)


def test_paired_against_another_checkout_runs_its_own_server_from_there(tmp_path):
    from loadtests import paired

    checkout = tmp_path / "before"
    args = paired.parse_args(["--baseline-checkout", str(checkout)])
    with pytest.raises(SystemExit, match="scripts/setup.sh"):
        paired.before_target(checkout, tmp_path / "model", 8001, args, tmp_path / "data")
    (checkout / ".venv" / "bin").mkdir(parents=True)
    (checkout / ".venv" / "bin" / "python").touch()
    t = paired.before_target(checkout, tmp_path / "model", 8001, args, tmp_path / "data")
    assert t.name == "before" and t.cwd == checkout.resolve() and t.env == {"PYTHONPATH": str(checkout.resolve())}
    assert t.command[:4] == [str(checkout.resolve() / ".venv/bin/python"), "-m", "cli.main", "serve"]

    pairs = [{"icegrt": {"output_throughput": 95.0}, "before": {"output_throughput": 100.0}}]
    ratios = paired.pair_ratios(pairs, ("icegrt", "before"))
    assert ratios["out tok/s"]["median"] == 0.95
    results = {"name": "p", "command": "c", "note": "", "machine": {**MACHINE, "git_commit": "new"},
               "settings": {"scenario": "streaming", "max_tokens": 32, "repeats": 1}, "servers": ("icegrt", "before"),
               "baseline": {"checkout": str(checkout), "commit": "old"},
               "points": {"c=16": {"pairs": pairs, "ratios": ratios}}}
    text = paired.render(results)
    assert "icegrt serve at commit old; ours at new" in text and "out tok/s icegrt/before" in text
    assert "| c=16 | 0.95 [0.95, 0.95] |" in text


def test_cpu_seconds_of_a_process_grow_while_it_computes():
    import os
    import time

    from loadtests.refusal_cost import cpu_seconds, own_cpu_seconds

    before, own_before = cpu_seconds(os.getpid()), own_cpu_seconds()
    end = time.process_time() + 0.15
    while time.process_time() < end:
        pass
    assert cpu_seconds(os.getpid()) - before >= 0.1 and own_cpu_seconds() - own_before >= 0.1


def test_server_pinned_to_its_cpus_only_when_asked(tmp_path):
    args = admission.parse_args(["--server-cpus", "1", "--enforce-eager"])
    pinned = admission.server(tmp_path / "model", "m", args, tmp_path).command
    assert pinned[:3] == ["taskset", "-c", "1"] and "--enforce-eager" in pinned
    assert admission.server(tmp_path / "model", "m", admission.parse_args([]), tmp_path).command[0] == sys.executable


def test_api_cpu_per_request_and_token_and_the_process_found_by_port():
    from loadtests import api_cpu

    report = {"summary": {"completed": 4, "total_output_tokens": 200, "output_throughput": 50.0}}
    assert api_cpu.per_request(0.5, report) == {"api_cpu_s": 0.5, "completed": 4, "api_cpu_ms_per_request": 125.0,
                                                "api_cpu_ms_per_output_token": 2.5, "output_throughput": 50.0}
    empty = {"summary": {"completed": 0, "total_output_tokens": 0, "output_throughput": 0.0}}
    assert api_cpu.per_request(0.1, empty)["api_cpu_ms_per_request"] is None
    assert api_cpu._port_argument([b"python", b"--port", b"8123", b""]) == b"8123"
    assert api_cpu._port_argument([b"python", b"--port"]) is None
    results = {"name": "n", "command": "c", "machine": {"cpu_model": "EPYC", "nproc": 2}, "note": "",
               "settings": {"concurrency": 16, "num_prompts": 64, "max_tokens": 64},
               "servers": {"icegrt": {"short_chat": api_cpu.per_request(0.5, report)}}}
    assert "| icegrt | short_chat | 125.0 | 2.5 | 50.0 | 4 |" in api_cpu.render(results)
