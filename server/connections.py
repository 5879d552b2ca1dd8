"""Slow and idle clients: a cap on open connections and a deadline for each request's headers.

uvicorn gives neither: a connection that never sends a request (or sends its headers a byte at a
time) is kept until the client leaves, so a thousand of them exhaust the process's file
descriptors, and then not even ``/health`` can be reached. `guarded_protocol` wraps uvicorn's
HTTP protocol class (httptools or h11, whichever it picked) with a shared `ConnectionGuard`:

- **Header deadline**: a connection must deliver a request's complete headers within
  ``header_timeout_s`` of opening, and of the end of its previous response on a keep-alive
  connection; otherwise it is closed. (The body's deadline is `server.middleware`'s: 408.)
- **Cap**: at most ``max_connections`` open at once. A connection over the cap closes the
  *waiting* connection that has waited longest: one that has not finished sending its request
  (headers or body) and so holds no work. A well-behaved client's new connection, ``/health``
  included, therefore always gets in while idle or slow clients hold the rest. Only when every
  open connection has a request being served is the new one closed instead.

The cap must stay below the open-file limit: `effective_max_connections` raises the soft
``RLIMIT_NOFILE`` to the hard one where allowed, and keeps ``FD_RESERVE`` descriptors for the
engine, the store and logs.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import OrderedDict
from typing import Any

log = logging.getLogger(__name__)
FD_RESERVE = 128


def effective_max_connections(requested: int) -> int:
    """`requested`, lowered to leave `FD_RESERVE` file descriptors free, after raising the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = requested + FD_RESERVE if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))
            soft = max(soft, target)
        except (ValueError, OSError) as exc:  # a container may forbid it; the cap then follows the soft limit
            log.warning("could not raise the open-file limit from %d: %s", soft, exc)
    allowed = max(1, soft - FD_RESERVE)
    if allowed < requested:
        log.warning("--max-connections %d lowered to %d: the open-file limit is %d", requested, allowed, soft)
    return min(requested, allowed)


class ConnectionGuard:
    """State shared by every connection of one server (see the module doc)."""

    def __init__(self, max_connections: int, header_timeout_s: float, clock=time.monotonic):
        self.max_connections = max_connections
        self.header_timeout_s = header_timeout_s
        self._clock = clock
        self._open: OrderedDict[Any, float] = OrderedDict()
        """Open connections, least recently (re)armed first."""
        self.evicted = 0
        self.timed_out = 0

    def __len__(self) -> int:
        return len(self._open)

    def opened(self, protocol: Any) -> None:
        self._open[protocol] = self._clock()
        self.arm(protocol)
        if len(self._open) > self.max_connections:
            victim = next((p for p in self._open if p is not protocol and _waiting(p)), protocol)
            self.evicted += 1
            _close(victim)

    def closed(self, protocol: Any) -> None:
        self._open.pop(protocol, None)
        _cancel(protocol)

    def arm(self, protocol: Any) -> None:
        """Start the header deadline (a new connection, or a keep-alive one whose response is done)."""
        _cancel(protocol)
        protocol._icegrt_cycle = protocol.cycle
        if protocol in self._open:
            self._open.move_to_end(protocol)
        protocol._icegrt_deadline = protocol.loop.call_later(self.header_timeout_s, self._expire, protocol)

    def progressed(self, protocol: Any) -> None:
        """Called after data arrives: a new request's headers have been parsed once ``cycle`` changed."""
        if protocol.cycle is not protocol._icegrt_cycle:
            protocol._icegrt_cycle = protocol.cycle
            _cancel(protocol)

    def _expire(self, protocol: Any) -> None:
        if protocol.cycle is protocol._icegrt_cycle and _waiting(protocol):
            self.timed_out += 1
            _close(protocol)


def _waiting(protocol: Any) -> bool:
    """Holds no work: no request yet, or one whose body is still arriving and unanswered."""
    cycle = protocol.cycle
    return cycle is None or cycle.response_complete or (cycle.more_body and not cycle.response_started)


def _cancel(protocol: Any) -> None:
    deadline = getattr(protocol, "_icegrt_deadline", None)
    if deadline is not None:
        deadline.cancel()
        protocol._icegrt_deadline = None


def _close(protocol: Any) -> None:
    if not protocol.transport.is_closing():
        protocol.transport.close()


def guarded_protocol(base: type[asyncio.Protocol], guard: ConnectionGuard) -> type[asyncio.Protocol]:
    """uvicorn's protocol class `base` (H11Protocol or HttpToolsProtocol), reporting to `guard`."""

    class Guarded(base):  # type: ignore[misc, valid-type]
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            guard.opened(self)

        def connection_lost(self, exc) -> None:
            guard.closed(self)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            guard.progressed(self)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                guard.arm(self)

    Guarded.__name__ = f"Guarded{base.__name__}"
    return Guarded
