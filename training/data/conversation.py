"""The SFT example type every data source returns (its own module, so that source loaders in
other modules need not import the registry that imports them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Conversation:
    """One SFT example: chat messages (dicts with role and content), assistant turns are targets."""

    messages: tuple[dict, ...]
    source: str
    id: str
