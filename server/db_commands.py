"""``icegrt db current|upgrade|stamp``: the store's schema version, by hand.

The database is found as the server finds it: ``--database-url``, else ``ICEGRT_DATABASE_URL``,
else SQLite at ``<data-dir>/icegrt.db`` (``--data-dir``, else ``ICEGRT_DATA_DIR``, else
``~/.local/share/icegrt``). ``upgrade`` does what the server does at start (`server.migrations.runner`):
an older schema is upgraded, tables from a release before schema versions are recognised and
upgraded; it refuses a schema from a newer release. Stop the server first when it runs on SQLite.
"""

from __future__ import annotations

import argparse
import json

from common.config import add_settings_arguments, settings_from_args
from common.errors import UserError
from server.settings import ServerSettings


def _add_location(parser: argparse.ArgumentParser) -> None:
    """The server's own ``--database-url`` and ``--data-dir`` (with their variables and defaults)."""
    add_settings_arguments(parser, ServerSettings, fields=("database_url", "data_dir"))


def add_db_parser(subparsers) -> None:
    parser = subparsers.add_parser("db", help="The store's schema version: show it, upgrade it")
    sub = parser.add_subparsers(dest="db_command", required=True)
    current = sub.add_parser("current", help="Show the database's schema revision and this release's newest")
    current.add_argument("--json", action="store_true", help="One JSON object instead of text")
    upgrade = sub.add_parser(
        "upgrade", help="Bring the database to this release's schema (what icegrt serve does at start)",
        description="Upgrade the store's schema to this release's newest revision: an empty database is created, "
                    "an older one upgraded, tables made before schema versions are matched to a known revision, "
                    "recorded, and upgraded. Refuses a schema from a newer release.")
    stamp = sub.add_parser(
        "stamp", help="Record a revision as the database's schema without changing any table (after fixing it by hand)")
    stamp.add_argument("revision", help="The revision the tables now match (icegrt db current lists them)")
    for command, handler in ((current, current_command), (upgrade, upgrade_command), (stamp, stamp_command)):
        _add_location(command)
        command.set_defaults(handler=handler)


def _engine(args: argparse.Namespace):
    from server.store import open_engine, store_url

    try:
        return open_engine(store_url(settings_from_args(ServerSettings, args)), create=False)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def current_command(args: argparse.Namespace) -> int:
    from server.migrations import runner
    from server.store import describe_url

    engine = _engine(args)
    try:
        state = runner.current(engine)
        where = describe_url(engine)
    finally:
        engine.dispose()
    if state.current is None and not state.store_tables:
        status = "empty: icegrt serve or icegrt db upgrade creates the schema"
    elif state.current is None:
        status = (f"no schema version (a release before migrations); its tables match revision {state.matches}: "
                  "icegrt db upgrade records and upgrades it" if state.matches else
                  "no schema version, and its tables match no known revision")
    elif not state.known:
        status = "a revision this release does not know: a newer release upgraded it"
    elif state.current == state.head:
        status = "up to date"
    else:
        status = "older than this release: icegrt db upgrade (or starting the server) upgrades it"
    if args.json:
        print(json.dumps({"database": where, "current": state.current, "head": state.head, "matches": state.matches,
                          "revisions": list(runner.revisions()), "status": status}))
        return 0
    print(f"database: {where}")
    print(f"current:  {state.current or '-'}" + (f" ({runner.describe(state.current)})" if state.known and state.current
                                                 else ""))
    print(f"head:     {state.head} ({runner.describe(state.head)})")
    print(f"status:   {status}")
    return 0


def upgrade_command(args: argparse.Namespace) -> int:
    from server.migrations.runner import ensure_schema
    from server.store import describe_url

    engine = _engine(args)
    try:
        change = ensure_schema(engine, where=describe_url(engine))
    finally:
        engine.dispose()
    print(("nothing to do: " if change.action == "current" else "") + change.describe())
    return 0


def stamp_command(args: argparse.Namespace) -> int:
    from server.migrations.runner import stamp
    from server.store import describe_url

    engine = _engine(args)
    try:
        stamp(engine, args.revision)
        where = describe_url(engine)
    finally:
        engine.dispose()
    print(f"{where}: recorded schema revision {args.revision}; no table changed")
    return 0
