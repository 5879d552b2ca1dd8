"""Typed settings as CLI flags and environment variables; model resolution."""

from __future__ import annotations

import argparse
import json
import shutil

import pytest

from common.config import add_settings_arguments, settings_from_args
from common.models import MARKER, ModelNotFoundError, build_model, resolve_model, verify_checkpoint
from server.settings import ServerSettings


def parse(*argv: str) -> ServerSettings:
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser, ServerSettings)
    return settings_from_args(ServerSettings, parser.parse_args(list(argv)))


def test_flags_follow_vllm_names_and_fall_back_to_env(monkeypatch):
    monkeypatch.setenv("ICEGRT_PORT", "9100")
    monkeypatch.setenv("ICEGRT_API_KEY", "a, b")
    s = parse("--served-model-name", "m", "--max-model-len", "512", "--enforce-eager", "--dtype", "bfloat16")
    assert (s.served_model_name, s.max_model_len, s.enforce_eager, s.dtype) == (["m"], 512, True, "bfloat16")
    assert s.port == 9100 and s.api_key == ["a", "b"]
    assert parse("--port", "9200", "--api-key", "x", "y").port == 9200
    assert parse("--api-key", "x", "y").api_key == ["x", "y"]


def test_bad_values_are_rejected():
    with pytest.raises(Exception, match="port"):
        parse("--port", "70000")
    with pytest.raises(SystemExit):
        parse("--dtype", "int3")


def test_help_documents_every_field():
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser, ServerSettings)
    text = parser.format_help()
    for name in ServerSettings.model_fields:
        assert "--" + name.replace("_", "-") in text
    assert "ICEGRT_MAX_MODEL_LEN" in text


def test_tiny_model_builds_and_is_reused(tiny_model_path):
    marker = json.loads((tiny_model_path / MARKER).read_text())
    assert marker["name"] == "tiny"
    verify_checkpoint(tiny_model_path)
    assert build_model("tiny") == tiny_model_path  # idempotent
    assert resolve_model("tiny") == tiny_model_path
    assert resolve_model(str(tiny_model_path)) == tiny_model_path


def test_resolve_rejects_unknown_names_and_bad_directories(tmp_path):
    with pytest.raises(ModelNotFoundError, match="known name"):
        resolve_model("no-such-model")
    with pytest.raises(ModelNotFoundError, match="config.json"):
        resolve_model(str(tmp_path))


def test_a_hub_id_is_served_from_the_local_hugging_face_cache(tiny_model_path, tmp_path, monkeypatch):
    """``vllm serve org/name`` works offline from the cache; a hub id not in it gets a clear error."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    repo = tmp_path / "models--acme--tiny-chat"
    snapshot = repo / "snapshots" / ("ab" * 20)
    snapshot.parent.mkdir(parents=True)
    shutil.copytree(tiny_model_path, snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("ab" * 20)
    assert resolve_model("acme/tiny-chat") == snapshot
    with pytest.raises(ModelNotFoundError, match="not in the local Hugging Face cache"):
        resolve_model("acme/absent-model")
