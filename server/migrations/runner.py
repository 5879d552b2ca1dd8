"""The store's schema version: read it, bring a database to the head revision, or refuse.

`ensure_schema` runs whenever the store opens a database (the server at start,
``icegrt db upgrade``, ``icegrt data export-preferences``). A database at the head is left alone
without a lock; any other is looked at again and migrated in one transaction that holds the
schema lock (PostgreSQL: an advisory lock; SQLite: ``BEGIN IMMEDIATE``), so replicas starting
together migrate once:

- no store tables and no version: the schema is created at the head revision;
- a version older than the head: upgraded, revision by revision (logged);
- the head: nothing to do;
- a version this code does not know (written by a newer release): refused (`SchemaError`);
- store tables but no version (a release before migrations): the known revision whose tables and
  columns they match is recorded (stamped), then upgraded; tables that match no revision are
  refused, with the differences.

Revisions live in ``server/migrations/versions`` (see the package doc for adding one).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # its import logs 7 lines of plugin setup
from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402

from common.errors import UserError

log = logging.getLogger(__name__)
SCRIPT_DIR = Path(__file__).resolve().parent
VERSION_TABLE = "alembic_version"
_SCHEMA_LOCK_KEY = 0x1CE6_0001  # PostgreSQL advisory lock held while one process checks and migrates


class SchemaError(UserError):
    """The database's schema cannot be brought to this release's head; the message says what to do."""


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    """The revision the database records; None: no version recorded."""
    head: str
    store_tables: tuple[str, ...]
    """The store's tables present (of a database without a version: those any revision creates)."""
    matches: str | None = None
    """For store tables without a version: the known revision whose tables and columns they match."""

    @property
    def known(self) -> bool:
        return self.current is None or self.current in revisions()


@dataclass(frozen=True)
class SchemaChange:
    action: str
    """"created" (empty database), "upgraded", "adopted" (stamped from a matching schema, then upgraded), "current"."""
    before: str | None
    after: str

    def describe(self) -> str:
        if self.action == "created":
            return f"created the schema at revision {self.after} ({describe(self.after)})"
        if self.action == "current":
            return f"schema at revision {self.after} ({describe(self.after)}), the newest this release knows"
        steps = ", ".join(f"{rev} ({describe(rev)})" for rev in revisions_between(self.before, self.after))
        if self.action == "adopted":
            return (f"found tables made before schema versions, matching revision {self.before} "
                    f"({describe(self.before)}); recorded it" + (f" and upgraded: {steps}" if steps else ""))
        return f"upgraded the schema from revision {self.before} to {self.after}: {steps}"


# ---- the revisions ----------------------------------------------------------------------


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """Alembic's configuration for the shipped script directory, running on `connection`."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def revisions() -> tuple[str, ...]:
    """Every revision id, oldest first."""
    return tuple(reversed([rev.revision for rev in _script().walk_revisions()]))


def head() -> str:
    return _script().get_current_head()


def describe(revision: str) -> str:
    """The first line of a revision's docstring."""
    return (_script().get_revision(revision).doc or "").strip().splitlines()[0].rstrip(".")


def revisions_between(before: str | None, after: str) -> list[str]:
    """The revisions an upgrade from `before` (exclusive) to `after` (inclusive) runs, in order."""
    order = revisions()
    start = 0 if before is None else order.index(before) + 1
    return list(order[start:order.index(after) + 1])


def _created_tables() -> set[str]:
    return set().union(*_fingerprints().values())


@functools.cache
def _fingerprints() -> dict[str, dict[str, frozenset[str]]]:
    """revision -> {table: its columns} at that revision, from a scratch SQLite database upgraded to it."""
    found = {}
    with _quiet("alembic"), tempfile.TemporaryDirectory(prefix="icegrt-schema-") as scratch:
        engine = sa.create_engine(f"sqlite:///{Path(scratch) / 'scratch.db'}")
        try:
            with engine.connect() as connection:
                for revision in revisions():
                    command.upgrade(alembic_config(connection), revision)
                    found[revision] = _tables(connection, exclude=VERSION_TABLE)
        finally:
            engine.dispose()
    return found


@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Leave out `logger_name`'s INFO lines meanwhile (a scratch database's migrations are no news)."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def _tables(connection: sa.Connection, exclude: str | None = None,
            only: set[str] | None = None) -> dict[str, frozenset[str]]:
    inspector = sa.inspect(connection)
    return {table: frozenset(column["name"] for column in inspector.get_columns(table))
            for table in inspector.get_table_names()
            if table != exclude and (only is None or table in only)}


def _difference(found: dict[str, frozenset[str]], expected: dict[str, frozenset[str]]) -> str:
    parts = [f"table {t} missing" for t in sorted(set(expected) - set(found))]
    for table in sorted(set(found) & set(expected)):
        extra, missing = found[table] - expected[table], expected[table] - found[table]
        if extra:
            parts.append(f"{table} has unknown columns {sorted(extra)}")
        if missing:
            parts.append(f"{table} lacks {sorted(missing)}")
    return "; ".join(parts)


# ---- a database's state -------------------------------------------------------------------


def _recorded_revision(connection: sa.Connection) -> str | None:
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return None
    versions = [row[0] for row in connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))]
    if len(versions) > 1:
        raise SchemaError(f"the database records several schema revisions {versions}; icegrt's history has one line")
    return versions[0] if versions else None


def schema_state(connection: sa.Connection) -> SchemaState:
    """Where `connection`'s database stands against this release's revisions."""
    current = _recorded_revision(connection)
    present = set(sa.inspect(connection).get_table_names()) - {VERSION_TABLE}
    if current is not None or not present:  # no scratch database needed: versioned, or empty
        return SchemaState(current, head(), tuple(sorted(present)))
    tables = _tables(connection, only=_created_tables())
    matches = next((rev for rev, expected in reversed(_fingerprints().items()) if expected == tables), None)
    return SchemaState(None, head(), tuple(sorted(tables)), matches)


@contextlib.contextmanager
def _locked(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection in a transaction that holds the schema lock; committed when the block ends cleanly."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # pysqlite would run DDL outside any transaction
        elif engine.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
        yield connection
        connection.commit()


def ensure_schema(engine: sa.Engine, *, where: str = "the database") -> SchemaChange:
    """Bring `engine`'s database to the head revision (see the module doc), logging what changed.

    Raises:
        SchemaError: a revision this release does not know (a newer release's), or store tables that
            match no known revision.
    """
    with engine.connect() as connection:  # the usual case, at the head, takes no lock
        state = schema_state(connection)
    if state.current is not None and state.current == state.head:
        change = SchemaChange("current", state.current, state.head)
    else:
        with _locked(engine) as connection:  # another process may have migrated meanwhile: look again
            change = _migrate(connection, schema_state(connection), where)
    if change.action == "current":
        log.debug("store: %s", change.describe())
    else:
        log.info("store: %s: %s", where, change.describe())
    return change


def _migrate(connection: sa.Connection, state: SchemaState, where: str) -> SchemaChange:
    config = alembic_config(connection)
    if not state.known:
        raise SchemaError(
            f"{where} is at schema revision {state.current!r}, which this release does not know (its newest is "
            f"{state.head}): a newer icegrt upgraded it. Run that release (or newer), or restore a backup made "
            "before the upgrade")
    if state.current is None and not state.store_tables:
        command.upgrade(config, "head")
        return SchemaChange("created", None, state.head)
    if state.current is None:
        if state.matches is None:
            found = _tables(connection, only=_created_tables())
            closest = _fingerprints()[state.head]
            raise SchemaError(
                f"{where} has the store's tables but no schema version, and they match no known revision "
                f"(against the newest, {state.head}: {_difference(found, closest)}). Fix the tables by hand "
                "(or restore a backup), then record the revision they match with `icegrt db stamp REVISION` "
                "and run `icegrt db upgrade`")
        command.stamp(config, state.matches)
        command.upgrade(config, "head")
        return SchemaChange("adopted", state.matches, state.head)
    if state.current == state.head:
        return SchemaChange("current", state.current, state.head)
    command.upgrade(config, "head")
    return SchemaChange("upgraded", state.current, state.head)


def stamp(engine: sa.Engine, revision: str) -> None:
    """Record `revision` as the database's schema without running anything (the operator vouches for it).

    Raises:
        SchemaError: an unknown revision.
    """
    if revision not in revisions():
        raise SchemaError(f"unknown revision {revision!r}; this release knows {', '.join(revisions())}")
    with _locked(engine) as connection:
        command.stamp(alembic_config(connection), revision, purge=True)


def current(engine: sa.Engine) -> SchemaState:
    with engine.connect() as connection:
        return schema_state(connection)


# ---- for developers: a new revision -------------------------------------------------------


def new_revision(message: str) -> Path:
    """Write ``versions/NNNN_<message>.py``, autogenerated from the model's difference to the head."""
    number = f"{len(revisions()) + 1:04d}"
    slug = "_".join(message.lower().split())[:40]
    with tempfile.TemporaryDirectory(prefix="icegrt-revision-") as scratch:
        engine = sa.create_engine(f"sqlite:///{Path(scratch) / 'head.db'}")
        try:
            with engine.connect() as connection:
                config = alembic_config(connection)
                command.upgrade(config, "head")
                connection.commit()
                script = command.revision(config, message, autogenerate=True, rev_id=number)
        finally:
            engine.dispose()
    path = Path(script.path)
    target = path.with_name(f"{number}_{slug}.py")
    path.rename(target)
    return target


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Write a new revision of the store's schema (developers)")
    parser.add_argument("action", choices=["revision"])
    parser.add_argument("message", help="What the revision changes (its docstring)")
    print(new_revision(parser.parse_args().message))
