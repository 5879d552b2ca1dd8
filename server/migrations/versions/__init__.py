"""Alembic revisions of the store's schema (loaded by Alembic from this directory, oldest first)."""
