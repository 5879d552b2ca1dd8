"""Feedback: check what it references, then store it durably.

Feedback on a conversation message is checked against the store (the conversation, the message,
and every ranked message must exist; ranked replies must answer the same prompt) in the same
transaction that stores it, so nothing is stored when a check fails. Feedback on a
``completion_id`` is stored as given: the server does not log the completions it serves, so it
can neither verify the id nor recover the text, and such feedback is kept for analysis but does
not become preference pairs (see `server.feedback.export`).
"""

from __future__ import annotations

from server.feedback.protocol import FeedbackCreated, FeedbackRequest
from server.store import FeedbackRecord, Store, new_id, now
from server.tenancy import Principal


class FeedbackServing:
    """Feedback from `principal`: it owns what it stores and may reference only its own conversations."""

    def __init__(self, store: Store, principal: Principal):
        self.store = store
        self.principal = principal

    async def submit(self, req: FeedbackRequest) -> FeedbackCreated:
        record = FeedbackRecord(
            id=new_id("fb"), created=now(), completion_id=req.completion_id, conversation_id=req.conversation_id,
            message_id=req.message_id, rating=req.rating,
            ranking=tuple(req.ranking) if req.ranking is not None else None, comment=req.comment,
            owner=self.principal.owner,
        )
        await self.store.run(self.store.add_feedback, record, principal=self.principal)
        return FeedbackCreated(id=record.id, created=record.created)
