"""`icegrt sample` input checks (before any engine starts) and prompt ids; sampling itself runs in
tests/training/test_pipeline.py on a real vLLM engine."""

from __future__ import annotations

import json

import pytest

from cli.main import main
from training.config import ConfigError
from training.sample import SampleConfig, gather_prompts, prompt_seed, read_prompt_file

from tests.training.conftest import needs_bundle


@pytest.mark.parametrize("flags, message", [
    (["--k", "1"], "k: Input should be greater than or equal to 2"),
    (["--temperature", "0"], "temperature: Input should be greater than 0"),
    (["--top-p", "1.5"], "top_p: Input should be less than or equal to 1"),
    (["--prompt-mix", "nope=3"], "unknown data source 'nope'"),
    (["--prompts", "missing.jsonl"], "prompts file missing.jsonl does not exist"),
])
def test_bad_settings_fail_before_work(tmp_path, flags, message, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["sample", "--model", "tiny", "--output", "out.jsonl", *flags]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "out.jsonl").exists()


def test_missing_output_directory_and_output_are_refused(tmp_path, capsys):
    assert main(["sample", "--output", str(tmp_path / "no" / "out.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["sample"]) == 2
    assert "output: Field required" in capsys.readouterr().err


def test_prompt_file_records_and_errors(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"id": "a", "messages": [{"role": "user", "content": "Hi"}], "task": "gsm8k",
                                "reference": "#### 4"}) + "\n\n" + json.dumps({"prompt": "Just text"}) + "\n")
    first, second = read_prompt_file(path)
    assert (first.id, first.source, first.reference) == ("a", "gsm8k", "#### 4")
    assert second.id == "line-3" and second.messages == ({"role": "user", "content": "Just text"},)
    for bad, message in [({"messages": []}, "non-empty list"), ({"messages": [{"role": "bot", "content": "x"}]}, "role in"),
                         ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}, "last message"),
                         ({"prompt": "x", "reference": 3}, "reference must be a string")]:
        path.write_text(json.dumps(bad) + "\n")
        with pytest.raises(ConfigError, match=message):
            read_prompt_file(path)
    path.write_text(json.dumps({"id": "a", "prompt": "x"}) + "\n" + json.dumps({"id": "a", "prompt": "y"}) + "\n")
    with pytest.raises(ConfigError, match="appears twice"):
        gather_prompts(SampleConfig(output=tmp_path / "o.jsonl", prompts=path))


@needs_bundle
def test_prompts_from_the_sft_sources_carry_their_references(tmp_path):
    prompts = gather_prompts(SampleConfig(output=tmp_path / "o.jsonl", prompt_mix={"gsm8k": 3, "e2e_text_to_table": 2}))
    assert len(prompts) == 5 and all(p.reference for p in prompts)
    assert all("####" in p.reference for p in prompts if p.source == "gsm8k")
    assert prompt_seed(0, "gsm8k-1") == prompt_seed(0, "gsm8k-1") != prompt_seed(1, "gsm8k-1")
