"""`icegrt serve`'s tensor, pipeline and data parallel settings reach vLLM's engine arguments."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from cli.main import main
from inference.vllm_engine import engine_args
from server.app import engine_config
from server.settings import ServerSettings


def test_parallel_flags_reach_the_engine_args(tmp_path):
    settings = ServerSettings(tensor_parallel_size=4, pipeline_parallel_size=2, data_parallel_size=3,
                              distributed_executor_backend="ray", data_parallel_backend="ray", data_dir=tmp_path)
    args = engine_args(engine_config(settings, Path("/models/m"), ("m",)))
    assert (args.tensor_parallel_size, args.pipeline_parallel_size, args.data_parallel_size) == (4, 2, 3)
    assert args.distributed_executor_backend == "ray"
    assert args.data_parallel_backend == "ray"


def test_defaults_are_one_replica_on_one_device(tmp_path):
    args = engine_args(engine_config(ServerSettings(data_dir=tmp_path), Path("/models/m"), ("m",)))
    assert (args.tensor_parallel_size, args.pipeline_parallel_size, args.data_parallel_size) == (1, 1, 1)
    assert args.distributed_executor_backend is None


def test_environment_sets_the_parallel_sizes(monkeypatch, tmp_path):
    monkeypatch.setenv("ICEGRT_TENSOR_PARALLEL_SIZE", "2")
    monkeypatch.setenv("ICEGRT_DISTRIBUTED_EXECUTOR_BACKEND", "mp")
    settings = ServerSettings(data_dir=tmp_path)
    assert settings.tensor_parallel_size == 2 and settings.distributed_executor_backend == "mp"


@pytest.mark.parametrize("field", ["tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size"])
@pytest.mark.parametrize("value", [0, -1, "two"])
def test_sizes_must_be_positive_integers(field, value):
    with pytest.raises(ValidationError) as caught:
        ServerSettings(**{field: value})
    assert caught.value.errors()[0]["loc"] == (field,)


def test_serve_refuses_a_bad_size_with_the_flag_named_and_starts_nothing(capsys):
    assert main(["serve", "--model", "tiny", "--tensor-parallel-size", "0"]) == 2
    err = capsys.readouterr().err
    assert "--tensor-parallel-size / ICEGRT_TENSOR_PARALLEL_SIZE" in err
    assert "greater than or equal to 1" in err


def test_serve_refuses_an_unknown_backend(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["serve", "--distributed-executor-backend", "slurm"])
    assert caught.value.code == 2
    assert "invalid choice: 'slurm'" in capsys.readouterr().err
