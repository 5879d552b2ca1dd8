"""``icegrt data export-preferences``: stored feedback -> reward-model pairs (JSONL; ``--format icegrt``,
the default, or ``trl``: TRL's conversational preference format).

The database is found as the server finds it: ``--database-url``, else ``ICEGRT_DATABASE_URL``,
else SQLite at ``<data-dir>/icegrt.db`` (``--data-dir``, else ``ICEGRT_DATA_DIR``, else
``~/.local/share/icegrt``). Reading is safe while the server runs (SQLite WAL readers do not
block the writer). The pair rules are in `server.feedback.export`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common.errors import UserError


def add_data_parser(subparsers) -> None:
    parser = subparsers.add_parser("data", help="Data from the server's store (feedback -> preference pairs)")
    sub = parser.add_subparsers(dest="data_command", required=True)
    export = sub.add_parser(
        "export-preferences",
        help="Write reward-model pairs {prompt, chosen, rejected} from stored rankings and ratings",
        description="Turn stored feedback into reward-model preference pairs (JSONL): a ranking of k replies gives "
                    "k(k-1)/2 pairs; +1 and -1 ratings of replies to the same prompt pair up; unpaired ratings and "
                    "completion-id feedback are counted, not written. Safe to run while the server runs.",
    )
    export.add_argument("--output", type=Path, required=True, help="JSONL file to write (replaced atomically)")
    export.add_argument("--format", dest="file_format", choices=("icegrt", "trl"), default="icegrt",
                        help="icegrt: {prompt: [messages], chosen: str, rejected: str} (default); trl: TRL's "
                             "conversational preference format, each reply a list of one assistant message. "
                             "`icegrt train reward` reads both")
    export.add_argument("--database-url", default=None,
                        help="SQLAlchemy URL of the store (default: $ICEGRT_DATABASE_URL, else SQLite in --data-dir)")
    export.add_argument("--data-dir", type=Path, default=None,
                        help="The server's --data-dir (default: $ICEGRT_DATA_DIR, else ~/.local/share/icegrt)")
    export.add_argument("--owner", default=None,
                        help="Only this tenant's feedback and replies: a tenant of the key file, or a bare key's id "
                             "(key_ + 16 hex digits; `python -c 'from server.tenancy import key_id; "
                             "print(key_id(\"KEY\"))'`); default: everyone's")
    export.set_defaults(handler=export_command)


def export_command(args: argparse.Namespace) -> int:
    from server.feedback.export import export_preferences
    from server.settings import ServerSettings
    from server.store import Store, store_url

    given = {name: getattr(args, name) for name in ("database_url", "data_dir") if getattr(args, name) is not None}
    url = store_url(ServerSettings(**given))
    if not args.output.parent.is_dir():
        raise UserError(f"directory {args.output.parent} does not exist")
    try:
        store = Store.open(url, create=False)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    try:
        report = export_preferences(store, args.output, args.owner, args.file_format)
    finally:
        store.close()
    print(json.dumps({"output": str(args.output), "format": args.file_format, **report.as_dict()}))
    return 0
