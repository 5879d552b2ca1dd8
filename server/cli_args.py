"""``icegrt serve``'s command line is ``vllm serve``'s: vLLM's own parser, with the project's settings.

The parser is vLLM's (`make_arg_parser`), so every flag ``vllm serve`` accepts is parsed as vLLM
parses it (JSON values, ``--config`` YAML files, ``--flag.key=value``, dashes or underscores)
without being copied here; the project's settings (`ServerSettings`) replace vLLM's flags of the
same name. A command line is then sorted three ways:

- a setting goes to `ServerSettings` (flags, else ``ICEGRT_*`` variables, else defaults);
- an engine argument (a field of vLLM's ``AsyncEngineArgs``) goes to the engine unchanged, through
  the ``engine_args`` setting;
- a frontend flag of ``vllm serve`` (its HTTP server's) is either accepted because it changes
  nothing here (`IGNORED_FRONTEND_FLAGS`, each with the reason), or refused with the reason
  (`REFUSED_FRONTEND_FLAGS`; a frontend flag newer than this table is refused too).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from common.config import add_settings_arguments
from common.errors import UserError
from server.settings import ServerSettings

PROG = "icegrt serve"

UVICORN_LOG_LEVELS = {"critical": "error", "error": "error", "warning": "warning", "info": "info",
                      "debug": "debug", "trace": "debug"}
"""``--uvicorn-log-level`` maps onto ``--log-level`` (which sets uvicorn's level too)."""

IGNORED_FRONTEND_FLAGS = {
    "config": "read by the parser itself: its YAML becomes flags",
    "disable_uvicorn_access_log": "uvicorn's access log is always off; the one access line per request is icegrt's",
    "disable_access_log_for_endpoints": "icegrt writes one structured access line for every request",
    "max_log_len": "icegrt logs no prompts",
    "enable_log_outputs": "icegrt logs no outputs",
    "enable_log_deltas": "icegrt logs no outputs",
    "enable_prompt_tokens_details": "usage reports prompt and completion tokens only",
    "enable_server_load_tracking": "load is on /metrics (icegrt_requests_in_flight) whatever the flag",
    "enable_per_request_metrics": "per-route latency and token histograms are always on /metrics",
    "enable_force_include_usage": "usage is in every non-streamed response; streams add it on request",
    "enable_request_id_headers": "every response carries X-Request-Id whatever the flag",
    "sse_keep_alive_interval": "streams send no keep-alive comments",
    "disable_fastapi_docs": "the OpenAPI docs stay at /docs",
    "enable_offline_docs": "the OpenAPI docs stay at /docs",
    "log_error_stack": "icegrt logs the stack of every 500",
    "allow_credentials": "CORS never allows credentials (API keys travel in a header)",
    "allowed_methods": "CORS allows every method on --allowed-origins",
    "allowed_headers": "CORS allows every header on --allowed-origins",
    "h11_max_incomplete_event_size": "icegrt bounds request heads and bodies itself (--max-request-body-bytes, "
    "--client-header-timeout)",
    "h11_max_header_count": "icegrt bounds request heads itself (--client-header-timeout)",
    "response_role": "the assistant's role is always 'assistant'",
    "chat_template_content_format": "message content is always rendered as a string",
    "trust_request_chat_template": "requests cannot carry a chat template",
    "trust_request_mm_kwargs": "text-only: requests carry no multimodal arguments",
    "enable_flash_late_interaction": "pooling models only; icegrt serves generative models",
    "cohere_is_reasoning_model": "the Cohere API is not served",
    "cohere_format": "the Cohere API is not served",
    "anthropic_disabled_thinking_effort": "the Anthropic API is not served",
    "fingerprint_mode": "responses carry no system_fingerprint",
    "fingerprint_value": "responses carry no system_fingerprint",
}
"""``vllm serve`` flags accepted and without effect here: what each would change is fixed in icegrt."""

REFUSED_FRONTEND_FLAGS = {
    "tool_server": "built-in tools (MCP, browsing) are not served",
    "default_chat_template_kwargs": "the chat template gets the messages only",
    "return_tokens_as_token_ids": "logprobs name tokens by text",
    "enable_tokenizer_info_endpoint": "there is no /tokenizer_info",
    "headless": "icegrt always runs its HTTP server with the engine",
    "api_server_count": "one API server process per engine (scale out with more servers behind a balancer)",
    "grpc": "HTTP only",
    "grpc_port": "HTTP only",
    "uds": "TCP only (--host, --port)",
    "ssl_keyfile": "no TLS in the server: terminate it in front (deploy/nginx)",
    "ssl_certfile": "no TLS in the server: terminate it in front (deploy/nginx)",
    "ssl_ca_certs": "no TLS in the server: terminate it in front (deploy/nginx)",
    "enable_ssl_refresh": "no TLS in the server: terminate it in front (deploy/nginx)",
    "ssl_cert_reqs": "no TLS in the server: terminate it in front (deploy/nginx)",
    "ssl_ciphers": "no TLS in the server: terminate it in front (deploy/nginx)",
    "root_path": "serve under a path prefix from the proxy in front",
    "middleware": "no user middleware: auth, admission and limits are icegrt's",
    "enable_scale_out": "one server per engine",
    "data_parallel_supervisor_port": "data-parallel replicas run inside one engine (--data-parallel-size)",
    "dp_supervisor_probe_interval_s": "data-parallel replicas run inside one engine (--data-parallel-size)",
    "dp_supervisor_probe_timeout_s": "data-parallel replicas run inside one engine (--data-parallel-size)",
    "dp_supervisor_probe_failure_threshold": "data-parallel replicas run inside one engine (--data-parallel-size)",
}
"""``vllm serve`` flags refused here, with the reason."""

MAPPED_FRONTEND_FLAGS = {"model_tag": "model", "uvicorn_log_level": "log_level"}
"""vLLM flags whose value becomes one of our settings under another name."""


def build_parser() -> argparse.ArgumentParser:
    """vLLM's ``vllm serve`` parser with our settings in place of its flags of the same name. Every
    default is suppressed, so the namespace holds only what the command line gave; vLLM's defaults
    are kept in ``parser.vllm_defaults``."""
    from vllm.entrypoints.launchers.cli_args import make_arg_parser
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    parser = FlexibleArgumentParser(
        prog=PROG, conflict_handler="resolve",
        description="Serve a model through vLLM with the OpenAI-compatible and domain APIs. Takes vllm serve's "
        "command line: the model positionally or with --model, and every vLLM engine flag. Each icegrt flag "
        "can also be set with its ICEGRT_<NAME> environment variable.",
    )
    make_arg_parser(parser)
    parser.vllm_defaults = {action.dest: action.default for action in parser._actions}
    add_settings_arguments(parser, ServerSettings)
    for action in parser._actions:
        if action.dest != "help":
            action.default = argparse.SUPPRESS
            action.required = False
    return parser


def split_command_line(
    given: dict[str, Any], engine_fields: set[str], vllm_defaults: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """`given` (flag destinations and values) as (settings, warnings to log); the settings'
    ``engine_args`` holds the engine arguments. Raises `UserError` for a refused frontend flag (one
    set to its vLLM default asks for nothing and passes) or a model given twice."""
    settings: dict[str, Any] = {}
    engine: dict[str, Any] = {}
    warnings: list[str] = []
    refused: list[str] = []
    for dest, value in given.items():
        flag = "--" + dest.replace("_", "-")
        if dest in ServerSettings.model_fields:
            settings[dest] = value
        elif dest in MAPPED_FRONTEND_FLAGS:
            target = MAPPED_FRONTEND_FLAGS[dest]
            if value is None:
                continue
            if dest == "uvicorn_log_level":
                value = UVICORN_LOG_LEVELS[value]
            if target in given and given[target] != value:
                raise UserError(f"{flag} {value!r} contradicts --{target.replace('_', '-')} {given[target]!r}")
            settings[target] = value
        elif dest in engine_fields:
            engine[dest] = value
        elif dest in vllm_defaults and value == vllm_defaults[dest]:
            continue
        elif dest in IGNORED_FRONTEND_FLAGS:
            warnings.append(f"{flag} has no effect in icegrt serve: {IGNORED_FRONTEND_FLAGS[dest]}")
        else:
            refused.append(f"  {flag}: {REFUSED_FRONTEND_FLAGS.get(dest, 'not supported by icegrt serve')}")
    if refused:
        raise UserError("these vllm serve flags are not supported by icegrt serve:\n" + "\n".join(refused))
    if engine:
        settings["engine_args"] = {**settings.get("engine_args", {}), **engine}
    return settings, warnings


def parse_serve_command(argv: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The settings `argv` gives (a ``vllm serve`` or ``icegrt serve`` command line, without the
    command; argparse exits on a malformed one) and the warnings to log. The rest of the settings
    come from the environment."""
    parser = build_parser()
    return split_command_line(vars(parser.parse_args(argv)), engine_fields(), parser.vllm_defaults)


def engine_fields() -> set[str]:
    """The names of vLLM's engine arguments."""
    from vllm.engine.arg_utils import AsyncEngineArgs

    return {f.name for f in dataclasses.fields(AsyncEngineArgs)}


def check_engine_args(engine_args: dict[str, Any]) -> None:
    """`engine_args` (from flags, ``--engine-args`` or ``ICEGRT_ENGINE_ARGS``) must be vLLM's engine
    arguments, and none of ours under vLLM's name (ours would be silently overridden)."""
    unknown = sorted(set(engine_args) - engine_fields())
    if unknown:
        raise UserError(f"engine_args: {', '.join(unknown)} are not vLLM engine arguments")
    ours = sorted(set(engine_args) & set(ServerSettings.model_fields))
    if ours:
        raise UserError(f"engine_args: set {', '.join('--' + o.replace('_', '-') for o in ours)} as icegrt flags")
