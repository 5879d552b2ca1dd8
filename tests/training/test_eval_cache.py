"""Evaluation cache: the same model files, examples and settings reuse one result; any change misses."""

from __future__ import annotations

import json
from pathlib import Path

from training.evaluate.cache import cache_key, cached_evaluation, model_fingerprint


def _model(root: Path, weights: bytes) -> Path:
    root.mkdir(parents=True)
    (root / "model.safetensors").write_bytes(weights)
    (root / "config.json").write_text("{}")
    return root


def test_cache_hits_on_the_same_files_and_settings_and_misses_on_any_change(tmp_path):
    model = _model(tmp_path / "base", b"weights")
    copy = _model(tmp_path / "elsewhere" / "base", b"weights")
    calls = []

    def evaluate() -> dict:
        calls.append(1)
        return {"rows": [{"id": 0, "acc": 1.0}], "n": len(calls)}

    cache = tmp_path / "cache"
    first, hit = cached_evaluation("general", {"model": model}, {"limit": 5}, evaluate, cache)
    assert not hit and first["n"] == 1
    again, hit = cached_evaluation("general", {"model": copy}, {"limit": 5}, evaluate, cache)
    assert hit and again == first and len(calls) == 1  # same content under another path: reused
    assert not cached_evaluation("general", {"model": model}, {"limit": 6}, evaluate, cache)[1]
    assert not cached_evaluation("domain", {"model": model}, {"limit": 5}, evaluate, cache)[1]
    (model / "model.safetensors").write_bytes(b"trained")
    assert not cached_evaluation("general", {"model": model}, {"limit": 5}, evaluate, cache)[1]
    assert len(calls) == 4 and not list(cache.glob("*.tmp"))
    assert json.loads(next(cache.glob("general-*.json")).read_text())["rows"] == [{"id": 0, "acc": 1.0}]


def test_fingerprint_covers_names_and_contents(tmp_path):
    a = _model(tmp_path / "a", b"x")
    b = _model(tmp_path / "b", b"x")
    assert model_fingerprint(a) == model_fingerprint(b)
    (b / "extra.txt").write_text("")
    assert model_fingerprint(a) != model_fingerprint(b)
    assert cache_key("domain", {"model": a}, {"k": 1}) != cache_key("domain", {"model": a, "versus": b}, {"k": 1})


def test_report_evaluates_a_model_once_across_reports(tmp_path, monkeypatch):
    from training.evaluate import report_command, suite
    from training.evaluate.suite import DomainPlan

    calls = []

    async def fake_domain(plan, paths):
        calls.append(plan.model)
        return {"task": "domain", "model": plan.model, "table": {"test": {"cell_f1": 0.5, "rows": []}}}

    monkeypatch.setattr(suite, "evaluate_domain", fake_domain)
    model = _model(tmp_path / "base", b"w")
    cache = tmp_path / "cache"
    for name, spec in (("r1", "SmolLM2-135M-Instruct"), ("r2", str(model))):
        plan = DomainPlan(model=spec, tasks=("table",), table_limit=3)
        inputs = {"domain": {}}
        (tmp_path / name).mkdir()
        report_command._run_domain([("base", plan, {"model": model})], inputs, tmp_path / name, cache)
        assert inputs["domain"]["base"]["model"] == spec  # named as in this report
        assert json.loads((tmp_path / name / "domain_base.json").read_text())["table"]["test"]["cell_f1"] == 0.5
    assert calls == ["SmolLM2-135M-Instruct"]
    report_command._run_domain([("base", DomainPlan(model="m", tasks=("table",), table_limit=4), {"model": model})],
                               {"domain": {}}, tmp_path / "r1", cache)
    assert calls == ["SmolLM2-135M-Instruct", "m"]  # another limit: other examples, evaluated again
