"""Verified access to the shared data bundle (``shared_data_dir()``, described by its MANIFEST.md).

Every file of the bundle is listed in ``SHA256SUMS.json`` (a JSON list of
``{"file", "bytes", "lines", "sha256"}``). :func:`shared_file` checks a file against that list
before handing out its path, so a missing or damaged copy fails with a message that says which
file and where it was expected, instead of a confusing parse error deep inside a loader.

Hashing a few megabytes costs milliseconds, but loaders are called often (every test, every
server start), so a successful check is remembered for the life of the process, keyed on the
file's path, size and modification time: a file replaced after the check is checked again.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from common.errors import UserError
from common.paths import shared_data_dir

SUMS_FILE = "SHA256SUMS.json"


class SharedDataError(UserError, RuntimeError):
    """A file of the shared data bundle is missing, unknown or does not match its checksum."""


@dataclass(frozen=True)
class BundleEntry:
    """One line of ``SHA256SUMS.json``."""

    file: str
    bytes: int
    lines: int
    sha256: str


# (path, size, mtime_ns) of files whose sha256 matched, and manifests by (path, mtime_ns).
_verified: set[tuple[str, int, int]] = set()
_manifests: dict[tuple[str, int], dict[str, BundleEntry]] = {}


def bundle_manifest(data_dir: Path | None = None) -> dict[str, BundleEntry]:
    """The bundle's ``SHA256SUMS.json``, keyed by relative path (``text_to_table/e2e_test.csv``)."""
    root = Path(data_dir) if data_dir is not None else shared_data_dir()
    sums = root / SUMS_FILE
    try:
        stat = sums.stat()
    except FileNotFoundError:
        raise SharedDataError(
            f"missing shared data bundle: expected {SUMS_FILE} at {sums}; put the bundle at "
            "../shared/data or point ICEGRT_SHARED_DATA at it (see MANIFEST.md there)"
        ) from None
    key = (str(sums), stat.st_mtime_ns)
    if key not in _manifests:
        try:
            raw = json.loads(sums.read_text(encoding="utf-8"))
            entries = [BundleEntry(**item) for item in raw]
        except (ValueError, TypeError) as exc:
            raise SharedDataError(
                f"unreadable {sums}: expected a JSON list of {{file, bytes, lines, sha256}} "
                f"objects ({exc}); restore it from the bundle (see MANIFEST.md)"
            ) from exc
        _manifests[key] = {entry.file: entry for entry in entries}
    return _manifests[key]


def shared_file(relpath: str, verify: bool = True) -> Path:
    """Path of ``relpath`` inside the bundle, after checking it exists and matches its sha256.

    ``relpath`` is relative to the bundle root with forward slashes, as listed in
    ``SHA256SUMS.json``. With ``verify=False`` only existence is checked (for callers that
    verify in bulk elsewhere or read a file too large to hash on every start).

    Raises:
        SharedDataError: the file is missing, not listed in the bundle, or corrupt.
    """
    root = shared_data_dir()
    rel = PurePosixPath(relpath)
    if rel.is_absolute() or ".." in rel.parts:
        raise SharedDataError(
            f"{relpath!r} is not a path inside the bundle: pass it relative to the bundle root, "
            "e.g. 'text_to_table/e2e_test.csv'"
        )
    path = root.joinpath(*rel.parts)
    if not path.is_file():
        raise SharedDataError(
            f"missing shared data file {relpath}: expected at {path}; see MANIFEST.md in the "
            "bundle (set ICEGRT_SHARED_DATA if the bundle lives elsewhere)"
        )
    if verify:
        _verify(path, rel.as_posix(), bundle_manifest(root))
    return path


def _verify(path: Path, rel: str, manifest: dict[str, BundleEntry]) -> None:
    entry = manifest.get(rel)
    if entry is None:
        raise SharedDataError(
            f"{rel} is not listed in {SUMS_FILE} of the bundle at {path.parent}: use one of the "
            "files listed in MANIFEST.md, or pass verify=False for a file added by hand"
        )
    stat = os.stat(path)
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key in _verified:
        return
    if stat.st_size != entry.bytes:
        raise SharedDataError(
            f"corrupt shared data file {rel} at {path}: {stat.st_size} bytes, expected "
            f"{entry.bytes}; restore it from its source (see MANIFEST.md)"
        )
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    if digest != entry.sha256:
        raise SharedDataError(
            f"corrupt shared data file {rel} at {path}: sha256 {digest}, expected "
            f"{entry.sha256}; restore it from its source (see MANIFEST.md)"
        )
    _verified.add(key)
