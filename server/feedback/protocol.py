"""Feedback requests and responses (pydantic only, no logic).

Every rule that needs no database is checked here, so malformed feedback is a 400 naming the
field before anything is looked up or stored. Fields are declared in the order their
cross-field checks need (a validator sees only the fields declared before it).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

MAX_RANKING = 16
MAX_COMMENT_CHARS = 8192
Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]


def _invalid(message: str) -> PydanticCustomError:
    return PydanticCustomError("invalid_feedback", message)


class FeedbackRequest(BaseModel):
    """``POST /v1/feedback``: a target, and at least one of ``rating``, ``ranking``, ``comment``.

    Target: ``completion_id`` (a ``/v1/chat/completions`` or ``/v1/completions`` id), or
    ``conversation_id`` + ``message_id`` (an assistant message of that conversation); exactly one.

    ``ranking`` orders replies best first: 2 to 16 distinct ids that include the target. With a
    message target they are assistant message ids answering the same prompt (the server checks);
    with a completion target they are completion ids, stored as given (completions are not logged,
    so neither their ids nor their texts can be checked, and ``icegrt data export-preferences``
    cannot turn them into pairs).
    """

    model_config = ConfigDict(extra="forbid")

    conversation_id: Id | None = None
    message_id: Id | None = Field(None, validate_default=True)
    completion_id: Id | None = Field(None, validate_default=True)
    ranking: Annotated[list[Id], Field(min_length=2, max_length=MAX_RANKING)] | None = None
    comment: Annotated[str, StringConstraints(min_length=1, max_length=MAX_COMMENT_CHARS)] | None = None
    rating: StrictInt | None = Field(None, validate_default=True, description="1 (good) or -1 (bad)")

    @field_validator("message_id")
    @classmethod
    def _message_with_conversation(cls, value: str | None, info: ValidationInfo) -> str | None:
        has_conversation = info.data.get("conversation_id") is not None
        if has_conversation and value is None:
            raise _invalid("conversation_id needs the message_id of the reply the feedback is about")
        if value is not None and not has_conversation and "conversation_id" in info.data:
            raise _invalid("message_id needs the conversation_id it belongs to")
        return value

    @field_validator("completion_id")
    @classmethod
    def _exactly_one_target(cls, value: str | None, info: ValidationInfo) -> str | None:
        message_target = info.data.get("conversation_id") is not None or info.data.get("message_id") is not None
        if value is not None and message_target:
            raise _invalid("give either completion_id or conversation_id + message_id, not both")
        if value is None and not message_target and {"conversation_id", "message_id"} <= info.data.keys():
            raise _invalid("feedback needs a target: completion_id, or conversation_id + message_id")
        return value

    @field_validator("ranking")
    @classmethod
    def _distinct_and_includes_target(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if value is None:
            return value
        repeated = sorted({item for item in value if value.count(item) > 1})
        if repeated:
            raise _invalid(f"ranking ids must be distinct; repeated: {repeated}")
        target = info.data.get("message_id") or info.data.get("completion_id")
        if target is not None and target not in value:
            raise _invalid(f"ranking must include the feedback's target {target!r} among the replies it orders")
        return value

    @field_validator("rating")
    @classmethod
    def _rating_and_something_given(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and value not in (-1, 1):
            raise _invalid("rating must be 1 (good) or -1 (bad)")
        if value is None and info.data.get("ranking") is None and info.data.get("comment") is None \
                and {"ranking", "comment"} <= info.data.keys():
            raise _invalid("feedback needs at least one of rating, ranking or comment")
        return value


class FeedbackCreated(BaseModel):
    id: str
    object: Literal["feedback"] = "feedback"
    created: int
