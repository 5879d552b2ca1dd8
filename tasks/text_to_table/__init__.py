"""Text-to-table: extract a table (columns and rows of strings) from free text.

Modules: ``table`` (the :class:`~tasks.text_to_table.table.Table` type and its markdown/CSV/JSON
renderings), ``prompt`` (chat messages), ``schema`` (bounded JSON schema for structured outputs and
the matching ``max_tokens``), ``parse`` (model text to table, never raising), ``score`` (cell-level
precision/recall/F1), ``e2e`` (the E2E NLG data set as text/table pairs) and ``flow`` (the whole
flow given a ``generate`` callable: prompt, schema, generate, parse, partial rows).
"""
