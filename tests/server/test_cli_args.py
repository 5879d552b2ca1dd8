"""`icegrt serve` takes `vllm serve`'s command lines: real ones, parsed by vLLM's own parser."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from common.errors import UserError
from server.cli_args import IGNORED_FRONTEND_FLAGS, REFUSED_FRONTEND_FLAGS, check_engine_args, parse_serve_command
from server.settings import ServerSettings

SERVING_GUIDE = Path(__file__).resolve().parents[2] / "docs" / "serving.md"


def settings_for(command_line: str) -> tuple[ServerSettings, list[str]]:
    """The settings `icegrt serve` would run with for a ``vllm serve ...`` command line."""
    argv = shlex.split(command_line)
    assert argv[:2] == ["vllm", "serve"]
    given, warnings = parse_serve_command(argv[2:])
    settings = ServerSettings(**given)
    check_engine_args(settings.engine_args)
    return settings, warnings


VLLM_SERVE_COMMAND_LINES = {
    "vllm serve /models/qwen": dict(model="/models/qwen"),
    "vllm serve HuggingFaceTB/SmolLM2-135M-Instruct --dtype half --max-model-len 2048":
        dict(model="HuggingFaceTB/SmolLM2-135M-Instruct", dtype="half", max_model_len=2048),
    "vllm serve --model /m --served-model-name chat ads-expert --port 8080 --host 0.0.0.0":
        dict(model="/m", served_model_name=["chat", "ads-expert"], port=8080, host="0.0.0.0"),
    "vllm serve /m --enable-prefix-caching --max-num-batched-tokens 4096 --max-num-seqs 64":
        dict(engine_args={"enable_prefix_caching": True, "max_num_batched_tokens": 4096}, max_num_seqs=64),
    "vllm serve /m --dtype float --quantization fp8 --trust-remote-code":
        dict(dtype="float", engine_args={"quantization": "fp8", "trust_remote_code": True}),
    "vllm serve /m --kv-cache-memory-bytes 2G --generation-config vllm":
        dict(engine_args={"kv_cache_memory_bytes": 2 * 1024**3, "generation_config": "vllm"}),
    "vllm serve /m --api-key k1 --allowed-origins '[\"*\"]' --uvicorn-log-level warning":
        dict(api_key=["k1"], allowed_origins=["*"], log_level="warning"),
    "vllm serve /m -tp 2 --distributed-executor-backend mp --gpu-memory-utilization 0.85":
        dict(tensor_parallel_size=2, distributed_executor_backend="mp", gpu_memory_utilization=0.85),
    "vllm serve /m --enable-lora --max-lora-rank 16 --max-loras 4":
        dict(engine_args={"enable_lora": True, "max_lora_rank": 16, "max_loras": 4}),
    "vllm serve /m --compilation-config '{\"cudagraph_mode\": \"NONE\"}' --enforce-eager --seed 7":
        dict(enforce_eager=True, seed=7),
    "vllm serve /m --chat-template /t/chat.jinja --no-enable-auto-tool-choice":
        dict(chat_template="/t/chat.jinja"),
    "vllm serve /m --max_model_len 1024 --block-size 32 --max-logprobs 50":
        dict(max_model_len=1024, engine_args={"block_size": 32, "max_logprobs": 50}),
    "vllm serve /m --enable-auto-tool-choice --tool-call-parser hermes --tool-strict-level parameter":
        dict(enable_auto_tool_choice=True, tool_call_parser="hermes", tool_strict_level="parameter"),
    "vllm serve /m --exclude-tools-when-tool-choice-none --tool-parser-plugin /p/parser.py":
        dict(exclude_tools_when_tool_choice_none=True, tool_parser_plugin="/p/parser.py", enable_auto_tool_choice=False),
}


@pytest.mark.parametrize("command_line", sorted(VLLM_SERVE_COMMAND_LINES))
def test_vllm_serve_command_lines_run_here(command_line):
    settings, _ = settings_for(command_line)
    for name, expected in VLLM_SERVE_COMMAND_LINES[command_line].items():
        actual = getattr(settings, name)
        if name == "engine_args":
            assert expected.items() <= actual.items(), actual
        else:
            assert actual == expected, name


def test_json_valued_engine_flags_are_parsed_as_vllm_parses_them():
    settings, _ = settings_for("vllm serve /m --compilation-config '{\"cudagraph_mode\": \"NONE\"}'")
    assert str(settings.engine_args["compilation_config"].cudagraph_mode.name) == "NONE"


def test_a_yaml_config_file_gives_flags(tmp_path):
    config = tmp_path / "serve.yaml"
    config.write_text("port: 9123\nmax-num-batched-tokens: 2048\nserved-model-name: ads\n")
    settings, _ = settings_for(f"vllm serve /m --config {config}")
    assert (settings.port, settings.served_model_name, settings.engine_args) == (9123, ["ads"],
                                                                                 {"max_num_batched_tokens": 2048})


def test_flags_without_effect_here_are_accepted_with_a_warning():
    _, warnings = settings_for("vllm serve /m --disable-uvicorn-access-log --enable-request-id-headers")
    assert len(warnings) == 2 and all("no effect" in w for w in warnings)


def test_auto_tool_choice_needs_a_parser_as_in_vllm():
    with pytest.raises(ValueError, match="requires --tool-call-parser"):
        settings_for("vllm serve /m --enable-auto-tool-choice")


@pytest.mark.parametrize("flags, reason", [
    ("--tool-server demo", "built-in tools"),
    ("--ssl-keyfile k.pem --ssl-certfile c.pem", "TLS"),
    ("--uds /tmp/s.sock", "TCP only"),
])
def test_flags_icegrt_lacks_are_refused_with_the_reason(flags, reason):
    with pytest.raises(UserError, match=reason):
        settings_for(f"vllm serve /m {flags}")


def test_the_model_given_twice_must_agree():
    assert settings_for("vllm serve /m --model /m")[0].model == "/m"
    with pytest.raises(UserError, match="contradicts"):
        settings_for("vllm serve /a --model /b")


def test_engine_args_from_the_environment_are_checked(monkeypatch):
    monkeypatch.setenv("ICEGRT_ENGINE_ARGS", '{"max_num_batched_tokens": 1024}')
    assert settings_for("vllm serve /m")[0].engine_args == {"max_num_batched_tokens": 1024}
    monkeypatch.setenv("ICEGRT_ENGINE_ARGS", '{"max_num_batched_tokenz": 1024}')
    with pytest.raises(UserError, match="max_num_batched_tokenz"):
        settings_for("vllm serve /m")
    monkeypatch.setenv("ICEGRT_ENGINE_ARGS", '{"dtype": "half"}')
    with pytest.raises(UserError, match="--dtype"):
        settings_for("vllm serve /m")


def test_the_serving_guide_lists_every_flag_that_differs():
    """docs/serving.md's list of `vllm serve` flags that behave differently is this module's table."""
    text = SERVING_GUIDE.read_text()
    section = text[text.index("### `vllm serve` flags that differ"):]
    section = section[:section.index("\n#", 1)]  # to the next heading
    listed = set(re.findall(r"^- `--([a-z0-9-]+)`", section, re.M) + re.findall(r", `--([a-z0-9-]+)`", section))
    for dest in (*IGNORED_FRONTEND_FLAGS, *REFUSED_FRONTEND_FLAGS):
        assert dest.replace("_", "-") in listed, dest
    assert listed == {dest.replace("_", "-") for dest in (*IGNORED_FRONTEND_FLAGS, *REFUSED_FRONTEND_FLAGS)}


def test_a_command_line_reaches_vllms_engine_arguments(tmp_path):
    from inference.vllm_engine import engine_args
    from server.app import engine_config

    settings, _ = settings_for(f"vllm serve /m --served-model-name a b --max-num-batched-tokens 4096 "
                               f"--no-enable-prefix-caching --dtype half --data-dir {tmp_path}")
    args = engine_args(engine_config(settings, Path("/m"), tuple(settings.served_model_name)))
    assert (args.max_num_batched_tokens, args.enable_prefix_caching, args.dtype) == (4096, False, "half")
    assert args.served_model_name == ["a", "b"]
