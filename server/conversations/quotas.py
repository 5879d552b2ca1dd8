"""What one tenant may keep stored, and how long an idle conversation is kept.

Limits (``icegrt serve`` flags; a bare key or a key-file tenant is one tenant):

- ``--max-conversations-per-key``: creating one more is 429 (``quota_exceeded``).
- ``--max-stored-bytes-per-key``: the UTF-8 bytes of all the tenant's stored messages; a message
  posted at or over it is 429 before anything is generated.
- ``--max-system-prompt-bytes``: a longer system message is 413 on ``system``.
- ``--max-history-bytes``: a conversation whose stored messages plus the new one would exceed it
  is 413 on ``content`` (the store keeps every message; only the prompt is trimmed to the context,
  so without this a conversation could grow forever).
- ``--conversation-ttl``: conversations without activity for that many seconds are deleted by a
  background sweep (`sweep_expired`).

The counts are checked before generation, so a refused message costs no engine time. A server
without API keys has no tenants and applies only the size limits and the expiry.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from server.errors import APIError
from server.store import ConversationRecord, Store, now

log = logging.getLogger(__name__)
SWEEP_INTERVAL_MAX_S = 60.0


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


@dataclass(frozen=True)
class Quotas:
    max_conversations: int | None = None
    max_stored_bytes: int | None = None
    max_system_prompt_bytes: int | None = None
    max_history_bytes: int | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> "Quotas":
        return cls(settings.max_conversations_per_key, settings.max_stored_bytes_per_key,
                   settings.max_system_prompt_bytes, settings.max_history_bytes)

    def check_system(self, system: str | None) -> None:
        if system is not None and self.max_system_prompt_bytes is not None \
                and (size := utf8_bytes(system)) > self.max_system_prompt_bytes:
            raise APIError(413, f"the system message has {size} bytes, over this server's limit of "
                           f"{self.max_system_prompt_bytes}", param="system", code="system_prompt_too_large")

    async def check_message(self, store: Store, owner: str | None, conversation: ConversationRecord,
                            content: str) -> None:
        """Refuse a new message before generation: 413 for the conversation's size, 429 for the tenant's."""
        if self.max_history_bytes is not None:
            size = sum(utf8_bytes(m.content) for m in conversation.messages) + utf8_bytes(content)
            if size > self.max_history_bytes:
                raise APIError(413, f"the conversation would hold {size} bytes of messages, over this server's "
                               f"limit of {self.max_history_bytes}; start a new conversation", param="content",
                               code="conversation_too_large")
        if self.max_stored_bytes is not None and owner is not None:
            usage = await store.run(store.tenant_usage, owner)
            if usage.content_bytes + utf8_bytes(content) > self.max_stored_bytes:
                raise APIError(429, f"this API key's tenant stores {usage.content_bytes} bytes of messages, at its "
                               f"limit of {self.max_stored_bytes}; delete conversations to make room",
                               code="quota_exceeded")


async def sweep_expired(store: Store, ttl_s: float) -> None:
    """Forever: delete conversations idle for `ttl_s`, checking every min(ttl/4, 60 s)."""
    interval = min(max(ttl_s / 4, 1.0), SWEEP_INTERVAL_MAX_S)
    while True:
        try:
            deleted = await asyncio.to_thread(store.delete_inactive, int(now() - ttl_s))
        except Exception:  # noqa: BLE001 - a store hiccup must not end the sweeping
            log.warning("conversation expiry sweep failed", exc_info=True)
        else:
            if deleted:
                log.info("deleted %d conversations idle for over %g s", deleted, ttl_s)
        await asyncio.sleep(interval)
