"""Conversation requests and responses (pydantic only, no logic).

Unlike the OpenAI-compatible models, these reject unknown fields: this API is ours, so a
misspelt option is a 400 naming it rather than silently ignored.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from server.openai.protocol import GenerationOptions, Usage

MAX_METADATA_KEYS = 16
MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
MetadataValue = Annotated[str, StringConstraints(max_length=512)]


class CreateConversationRequest(BaseModel):
    """``POST /v1/conversations``; the body is optional."""

    model_config = ConfigDict(extra="forbid")

    system: str | None = Field(None, min_length=1, description="System message, kept through every trim")
    model: str | None = Field(None, description="Must be the served model when given")
    metadata: Annotated[dict[MetadataKey, MetadataValue], Field(max_length=MAX_METADATA_KEYS)] | None = Field(
        None, description="Up to 16 string key-value pairs, returned as given"
    )


class PostMessageRequest(GenerationOptions):
    """``POST /v1/conversations/{id}/messages``: a user message and how to generate the reply.

    Without ``max_tokens`` the prompt is trimmed to leave at least ``DEFAULT_REPLY_RESERVE``
    tokens (or a quarter of the context, whichever is less) and the reply may use all the room left.
    """

    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1)
    stream: bool = False


class ConversationMessage(BaseModel):
    id: str
    role: Literal["system", "user", "assistant"]
    content: str
    created: int
    finish_reason: str | None = None
    """Set on assistant messages: "stop" or "length"."""


class Conversation(BaseModel):
    id: str
    object: Literal["conversation"] = "conversation"
    created: int
    model: str
    metadata: dict[str, str] = Field(default_factory=dict)
    messages: list[ConversationMessage]


class AssistantReply(BaseModel):
    """The reply to a posted message, as stored; also the last event of a stream before ``[DONE]``."""

    id: str
    object: Literal["conversation.message"] = "conversation.message"
    conversation_id: str
    created: int
    model: str
    role: Literal["assistant"] = "assistant"
    content: str
    finish_reason: str
    usage: Usage


class ConversationDeleted(BaseModel):
    id: str
    object: Literal["conversation.deleted"] = "conversation.deleted"
    deleted: bool = True


class ReplyDelta(BaseModel):
    content: str


class ReplyChunk(BaseModel):
    """One streamed piece of the reply; the stream then sends the stored `AssistantReply` and ``[DONE]``."""

    id: str
    object: Literal["conversation.message.chunk"] = "conversation.message.chunk"
    conversation_id: str
    created: int
    model: str
    role: Literal["assistant"] = "assistant"
    delta: ReplyDelta
    finish_reason: str | None = None
