"""The ``icegrt`` command: one entry point, subcommands registered by each package.

A command refuses bad input by raising `common.errors.UserError`; this is the one place that
turns it into a message and exit status 2.
"""

from __future__ import annotations

import argparse
import sys

from icegrt_client.commands import add_ads_parser
from common.errors import EXIT_USAGE, UserError
from training.ablate.commands import add_ablate_parser
from common.commands import add_model_parser
from server.commands import add_serve_parser
from server.db_commands import add_db_parser
from server.usage import add_usage_parser
from server.feedback.commands import add_data_parser
from training.commands import add_train_parser
from training.evaluate.commands import add_eval_parser
from training.rank.commands import add_rank_parser
from training.sample import add_sample_parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="icegrt", description="ICE-GRT: train and serve domain chat models")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_serve_parser(subparsers)
    add_model_parser(subparsers)
    add_data_parser(subparsers)
    add_db_parser(subparsers)
    add_usage_parser(subparsers)
    add_ads_parser(subparsers)
    add_train_parser(subparsers)
    add_eval_parser(subparsers)
    add_sample_parser(subparsers)
    add_rank_parser(subparsers)
    add_ablate_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unparsed = parser.parse_known_args(argv)
    if unparsed and not hasattr(args, "passthrough"):
        parser.error(f"unrecognized arguments: {' '.join(unparsed)}")
    if unparsed:
        args.passthrough = unparsed  # a command that parses its own command line (`icegrt serve`: vLLM's parser)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what reports record as the command that made them
    try:
        return args.handler(args)
    except UserError as exc:
        print(f"icegrt {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
