"""API keys, the tenants they belong to, and who may see which stored rows.

Every stored conversation, message and feedback row records an *owner*: the tenant named for its
key in the key file, or for a key without one a stable id derived from the key
(`key_id`: ``key_`` + 16 hex digits of its SHA-256, never the key itself). A request is served as a
`Principal`: its owner and whether it is an admin. A non-admin sees only rows it owns; another
tenant's id gets the same 404 as a missing one. Admin keys (marked in the key file) see every row.
Without configured keys the server runs as today: the one anonymous principal is an admin whose rows
have no owner (rows without an owner are visible only to admins and to this no-auth mode).

Key file (``--api-key-file``): one key a line, ``KEY [TENANT] [admin]``; blank lines and lines
starting with ``#`` are skipped. A tenant name is 1 to 64 of ``A-Z a-z 0-9 _ . -``, not ``admin``
and not starting with ``key_`` (those are the derived ids of bare keys). Several keys may name the
same tenant (key rotation: both see the tenant's rows). For example::

    # key                       tenant     marker
    sk-3f9a0c...                acme
    sk-77be21...                acme
    sk-0d12aa...                ops        admin
    sk-5c0e9b...
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ADMIN_MARKER = "admin"
_TENANT = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_KEY = re.compile(r"[\x21-\x7e]+")  # printable ASCII without spaces: what fits in a Bearer header


def key_id(key: str) -> str:
    """The stable, non-secret id of an API key (for ownership, logs and usage): ``key_`` + 16 hex digits."""
    return "key_" + hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Principal:
    """Who a request is served as: the owner its new rows get, whether it sees every row, and the
    `key_id` of the key it authenticated with (for the access log and usage; not part of equality:
    several keys of one tenant are the same principal)."""

    owner: str | None
    admin: bool = False
    key_id: str | None = field(default=None, compare=False)

    def may_see(self, owner: str | None) -> bool:
        return self.admin or (self.owner is not None and owner == self.owner)


ANONYMOUS = Principal(owner=None, admin=True)
"""The principal of every request when no keys are configured: sees every row, owns none."""


def principal_of(request) -> Principal:
    """The principal `server.middleware.RequestMiddleware` authenticated the request (a Starlette Request) as."""
    return request.scope["state"]["principal"]


@dataclass(frozen=True)
class ApiKey:
    key: bytes
    principal: Principal


class AuthSettingsError(ValueError):
    """The API-key settings cannot be used as given; the message says what to fix."""


class KeyFileError(AuthSettingsError):
    """The key file cannot be used; the message names the file and line."""


def _parse_line(text: str, where: str) -> ApiKey:
    key, *rest = text.split()
    if not _KEY.fullmatch(key):
        raise KeyFileError(f"{where}: a key is printable ASCII without spaces")
    admin = ADMIN_MARKER in rest
    names = [part for part in rest if part != ADMIN_MARKER]
    if len(names) > 1 or rest.count(ADMIN_MARKER) > 1:
        raise KeyFileError(f"{where}: expected 'KEY [TENANT] [admin]', got {len(rest) + 1} fields")
    tenant = names[0] if names else None
    if tenant is not None and (not _TENANT.fullmatch(tenant) or tenant.startswith("key_")):
        raise KeyFileError(f"{where}: tenant {tenant!r} must be 1-64 of A-Z a-z 0-9 _ . - and not start with key_")
    return ApiKey(key.encode(), Principal(tenant or key_id(key), admin, key_id(key)))


def read_key_file(path: Path) -> list[ApiKey]:
    """The keys of a key file (format in the module doc).

    Raises:
        KeyFileError: an unreadable file, a malformed line, or a key listed twice.
    """
    try:
        lines = Path(path).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"cannot read the API key file {path}: {exc}") from exc
    keys: list[ApiKey] = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if text and not text.startswith("#"):
            keys.append(_parse_line(text, f"{path}:{number}"))
    return _distinct(keys, str(path))


def _distinct(keys: list[ApiKey], source: str) -> list[ApiKey]:
    seen: set[bytes] = set()
    for item in keys:
        if item.key in seen:
            raise KeyFileError(f"{source}: a key is listed twice (key id {key_id(item.key.decode())})")
        seen.add(item.key)
    return keys


def load_keys(bare_keys: Sequence[str], key_file: Path | None) -> list[ApiKey]:
    """Bare keys (``--api-key``: each its own non-admin tenant) and the key file's, checked for repeats."""
    keys = [ApiKey(k.encode(), Principal(key_id(k), key_id=key_id(k))) for k in dict.fromkeys(bare_keys)]
    if key_file is not None:
        keys += read_key_file(key_file)
    return _distinct(keys, "--api-key and --api-key-file")


def check_exposure(keys: Sequence[ApiKey], host: str, allow_unauthenticated: bool) -> None:
    """Refuse to serve without keys on a non-loopback address unless the operator said so.

    Raises:
        AuthSettingsError: no keys, `host` not loopback, and not `allow_unauthenticated`.
    """
    if not keys and not is_loopback(host) and not allow_unauthenticated:
        raise AuthSettingsError(
            f"no API keys are configured but --host {host} is reachable from other machines: give --api-key / "
            "--api-key-file (ICEGRT_API_KEY / ICEGRT_API_KEY_FILE), or --allow-unauthenticated to serve anyone")


def match_key(given: str, accepted: Sequence[ApiKey]) -> Principal | None:
    """The principal of the accepted key equal to `given`, comparing in constant time against every key."""
    candidate = given.encode()
    found = None
    for item in accepted:
        if hmac.compare_digest(candidate, item.key):
            found = item.principal
    return found


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the server reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
