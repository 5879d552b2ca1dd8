"""``icegrt serve``: resolve the model, build the app, run uvicorn until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
import sys

from pydantic import ValidationError

from common.config import describe_validation_error
from common.errors import UserError
from server.settings import ServerSettings


def add_serve_parser(subparsers) -> None:
    """``icegrt serve`` takes ``vllm serve``'s command line, parsed by vLLM's own parser
    (:mod:`server.cli_args`): this subparser only hands it on, unparsed, as ``args.passthrough``."""
    parser = subparsers.add_parser(
        "serve", add_help=False,
        help="Serve a model through vLLM with the OpenAI-compatible and domain APIs (vllm serve's command line; "
        "icegrt serve --help lists every flag)",
    )
    parser.set_defaults(handler=serve, passthrough=[])


def configure_logging(level: str) -> None:
    from server.logs import configure_json_logging

    configure_json_logging(level)  # one JSON object a line (server.logs)


def serve(args: argparse.Namespace) -> int:
    configure_logging("warning")  # JSON from the first line (vLLM logs as it is imported); the level below
    import uvicorn

    from common.models import resolve_model
    from server.app import build_app
    from server.tenancy import AuthSettingsError

    from server.cli_args import check_engine_args, parse_serve_command

    given, warnings = parse_serve_command(args.passthrough)
    try:
        settings = ServerSettings(**given)
    except ValidationError as exc:
        raise UserError(f"invalid settings:\n{describe_validation_error(exc, 'ICEGRT_')}") from None
    check_engine_args(settings.engine_args)
    configure_logging(settings.log_level)
    for warning in warnings:
        logging.getLogger(__name__).warning("%s", warning)
    model_path = resolve_model(settings.model)  # ModelNotFoundError is a UserError
    failures: list[BaseException] = []
    server: uvicorn.Server | None = None

    def on_load_failure(exc: BaseException) -> None:
        failures.append(exc)
        if server is not None:
            server.should_exit = True

    try:
        app = build_app(settings, model_path, on_load_failure=on_load_failure)
    except AuthSettingsError as exc:
        print(f"icegrt serve: {exc}", file=sys.stderr)
        return 2
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    from server.connections import ConnectionGuard, effective_max_connections, guarded_protocol

    guard = ConnectionGuard(effective_max_connections(settings.max_connections), settings.client_header_timeout)
    logging.getLogger(__name__).info("connections: at most %d open, headers within %g s, bodies within %g s",
                                     guard.max_connections, guard.header_timeout_s, settings.client_body_timeout)
    config = uvicorn.Config(
        app,
        http=guarded_protocol(AutoHTTPProtocol, guard),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,  # RequestMiddleware writes one structured line per request
        log_config=None,  # uvicorn's loggers go through the root's JSON handler (server.logs)
        timeout_graceful_shutdown=settings.graceful_shutdown_timeout,
    )
    server = uvicorn.Server(config)
    server.run()
    if failures:
        print(f"icegrt serve: the engine failed to load: {failures[0]}", file=sys.stderr)
        return 1
    return 0
