"""ICE-GRT Python SDK: typed clients for the domain endpoints, chat through the ``openai`` SDK.

    from icegrt_client import IceGrtClient

    with IceGrtClient() as client:          # $ICEGRT_BASE_URL, $ICEGRT_API_KEY
        result = client.ads.check({"body": "Our drops cure diabetes."})
        reply = client.openai.chat.completions.create(model=..., messages=[...])  # extra [openai]

Installs alone (``pip install ./clients``: httpx and pydantic only); ``client.openai`` needs the
``openai`` extra (``pip install './clients[openai]'``).

Names are imported on first use, so ``icegrt`` subcommands that never call a server do not pay
about 150 ms for httpx at start-up.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "IceGrtClient": "icegrt_client.client",
    "ReplyStream": "icegrt_client.client",
    "AsyncIceGrtClient": "icegrt_client.async_client",
    "AsyncReplyStream": "icegrt_client.async_client",
    **dict.fromkeys(["IceGrtError", "BadRequestError", "AuthenticationError", "NotFoundError", "RateLimitError",
                     "ServerError", "ConnectionError", "RequestTimeoutError"], "icegrt_client.errors"),
    **dict.fromkeys(["Ad", "ComplianceResult", "Violation", "Evidence", "SuggestedRevision", "Change", "Policy",
                     "TableResult", "Conversation", "Message", "Reply", "FeedbackReceipt", "Usage"],
                    "icegrt_client.types"),
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'icegrt_client' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
