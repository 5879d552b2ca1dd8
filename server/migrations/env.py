"""Alembic's environment for the store: runs the revisions on the connection that
`server.migrations.runner` puts in ``config.attributes["connection"]`` (inside its transaction,
which holds the schema lock), with the store's model as the target for autogenerate."""

from __future__ import annotations

from alembic import context

from server.store import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the store's migrations through server.migrations.runner (icegrt db upgrade), "
                       "which passes them a connection; there is no alembic.ini")
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")  # SQLite alters tables by copying them
with context.begin_transaction():
    context.run_migrations()
