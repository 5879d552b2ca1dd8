"""Text to table: schema-constrained extraction, parsed and rendered by `tasks.text_to_table`.

A model answer that is cut off or unreadable is not an error of the request: the response
carries whatever complete rows could be recovered, with ``complete: false`` and the reason in
``warnings``, never junk and never a 500.
"""

from __future__ import annotations

from server.engine import Engine
from server.errors import APIError
from server.generation import StructuredGenerator, ensure_model
from server.tables.protocol import TextToTableRequest, TextToTableResponse
from tasks.text_to_table.parse import parse_table_output
from tasks.text_to_table.prompt import build_messages
from tasks.text_to_table.schema import TableRequestError, max_tokens_for, output_schema
from tasks.text_to_table.table import Table, to_csv, to_markdown

ROUTE = "/v1/text-to-table"


async def extract(engine: Engine, req: TextToTableRequest, request_id: str) -> TextToTableResponse:
    ensure_model(engine, req.model)
    try:
        messages = build_messages(req.text, req.columns)
    except TableRequestError as exc:
        raise APIError(400, str(exc), param=exc.param, code="invalid_value") from exc
    generate = StructuredGenerator(engine, request_id, ROUTE, input_param="text")
    text, finish_reason = await generate(messages, output_schema(req.columns), max_tokens_for(req.columns))
    parsed = parse_table_output(text, req.columns)
    if parsed.ok:
        table, complete, warnings = parsed.table, True, list(parsed.warnings)
    else:
        empty = Table(columns=list(req.columns or []), rows=[])
        table, complete = parsed.partial or empty, False
        warnings = [f"{parsed.reason}: {parsed.message}"]
    return TextToTableResponse(
        id=request_id,
        model=engine.model_id,
        columns=table.columns,
        rows=table.rows,
        markdown=to_markdown(table),
        csv=to_csv(table) if req.format == "csv" else None,
        complete=complete,
        warnings=warnings,
        usage=generate.usage.as_dict(),
    )
