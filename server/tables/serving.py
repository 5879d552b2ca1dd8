"""Text to table: the task's flow (`tasks.text_to_table.flow.extract_table`) on the engine,
shaped into the response.

A model answer that is cut off or unreadable is not an error of the request: the response
carries whatever complete rows could be recovered, with ``complete: false`` and the reason in
``warnings``, never junk and never a 500.
"""

from __future__ import annotations

from inference.engine import Engine
from server.errors import APIError
from server.generation import ensure_model, structured_generator
from server.tables.protocol import TextToTableRequest, TextToTableResponse
from tasks.text_to_table.flow import extract_table
from tasks.text_to_table.schema import TableRequestError
from tasks.text_to_table.table import to_csv, to_markdown

ROUTE = "/v1/text-to-table"


async def extract(engine: Engine, req: TextToTableRequest, request_id: str) -> TextToTableResponse:
    ensure_model(engine, req.model)
    generate = structured_generator(engine, request_id, ROUTE, input_param="text")
    try:
        outcome = await extract_table(req.text, req.columns, generate)
    except TableRequestError as exc:
        raise APIError(400, str(exc), param=exc.param, code="invalid_value") from exc
    table = outcome.table
    return TextToTableResponse(
        id=request_id,
        model=engine.model_id,
        columns=table.columns,
        rows=table.rows,
        markdown=to_markdown(table),
        csv=to_csv(table) if req.format == "csv" else None,
        complete=outcome.complete,
        warnings=outcome.warnings,
        usage=generate.usage.as_dict(),
    )
