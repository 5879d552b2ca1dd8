"""Text-to-table request and response models (pydantic only)."""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from server.openai.protocol import Usage

MAX_TEXT_CHARS = 20_000


class TextToTableRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="Text to extract a table from")
    columns: list[str] | None = Field(None, min_length=1, description="Column names the table must have, in order")
    format: Literal["json", "markdown", "csv"] = Field("json", description="Extra rendering to include")
    model: str | None = None


class TextToTableResponse(BaseModel):
    id: str
    object: Literal["text_to_table"] = "text_to_table"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    columns: list[str]
    rows: list[list[str]]
    markdown: str
    csv: str | None = Field(None, description="The table as CSV, when format is csv")
    complete: bool = Field(description="False when the model's answer was cut off or unreadable; "
                                        "rows then holds only what could be recovered")
    warnings: list[str]
    usage: Usage
