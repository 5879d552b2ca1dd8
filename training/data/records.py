"""Records of the user's own data files, and the one error that says where a record is wrong.

A data path names one of:

    *.jsonl             one JSON object per line (read here: errors name the line)
    *.json              a JSON array of objects, or one object per line
    *.parquet, *.csv    read with ``datasets.load_dataset(<format>, data_files=...)``, offline
    a folder            a Hugging Face dataset saved with ``save_to_disk`` (a ``DatasetDict``
                        gives its ``train`` split, or its only split)

Relative paths are taken from the working directory. Parquet, CSV and folders need the
``datasets`` package; JSON and JSONL files need nothing. Every problem is a
:class:`DataFileError` (a :class:`~common.errors.UserError`, so ``icegrt`` prints it and exits 2)
naming the file, the line (JSON lines) or record (arrays, Parquet, CSV, folders; counted from
1), and, for a bad record, the field: ``mine.jsonl, line 3, field 'messages[1].role': ...``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from common.errors import UserError

DATA_FILE_SUFFIXES: dict[str, str | None] = {".jsonl": None, ".json": None, ".parquet": "parquet", ".csv": "csv"}
"""Data file suffix -> the ``datasets`` builder that reads it (None: read here, as JSON)."""

SAVED_DATASET_MARKERS = ("dataset_dict.json", "state.json")
"""What ``save_to_disk`` leaves in a folder (a DatasetDict, a Dataset)."""


class DataFileError(UserError):
    """A user data file that cannot be used; the message names the file, line or record, and field."""


def field_error(where: str, field: str, problem: str, error: type[DataFileError] = DataFileError) -> DataFileError:
    """``<where>, field '<field>': <problem>``, where `where` names the file and line or record."""
    return error(f"{where}, field {field!r}: {problem}")


def is_data_path(name: str) -> bool:
    """Whether `name` is meant as a path (has a directory part, a data-file suffix, or exists)."""
    return ("/" in name or os.sep in name or name.startswith(("~", "."))
            or Path(name).suffix.lower() in DATA_FILE_SUFFIXES or Path(name).expanduser().exists())


def _needs_datasets(path: Path) -> bool:
    return path.is_dir() or DATA_FILE_SUFFIXES.get(path.suffix.lower()) is not None


def check_data_path(name: str, what: str = "data file") -> None:
    """Raise :class:`DataFileError` now if `name` is missing, of an unknown kind, or unreadable here."""
    path = Path(name).expanduser()
    if not path.exists():
        hint = " (Hugging Face Hub datasets are not downloaded: save one with save_to_disk and name the folder)" \
            if not name.startswith((".", "/", "~")) and name.count("/") == 1 and not path.suffix else ""
        raise DataFileError(f"{what} {name} does not exist{hint}")
    if path.is_dir():
        if not any((path / marker).is_file() for marker in SAVED_DATASET_MARKERS):
            raise DataFileError(
                f"{what} {name} is a folder but not a dataset saved with datasets' save_to_disk "
                f"(it has no {' or '.join(SAVED_DATASET_MARKERS)}); name its data files instead"
            )
    elif path.suffix.lower() not in DATA_FILE_SUFFIXES:
        raise DataFileError(f"{what} {name}: unknown kind {path.suffix or '(no suffix)'!r}; use "
                            f"{', '.join(DATA_FILE_SUFFIXES)} or a save_to_disk folder")
    if _needs_datasets(path) and importlib.util.find_spec("datasets") is None:
        raise DataFileError(f"reading {name} needs the datasets package (pip install datasets); "
                            ".jsonl and .json files need nothing")


def _json_lines(path: Path, lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            yield where, json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFileError(f"{where}: not valid JSON ({exc.msg}, column {exc.colno})") from None


def _jsonl_file(path: Path) -> Iterator[tuple[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        yield from _json_lines(path, handle)


def _json_file(path: Path) -> Iterator[tuple[str, Any]]:
    text = path.read_text(encoding="utf-8")
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None  # not one JSON document: JSON lines
    if isinstance(whole, list):
        for number, record in enumerate(whole, start=1):
            yield f"{path}, record {number}", record
    else:
        yield from _json_lines(path, iter(text.splitlines()))


def _dataset_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a save_to_disk folder or a Parquet/CSV file, read with ``datasets`` (offline)."""
    import datasets

    try:
        if path.is_dir():
            loaded = datasets.load_from_disk(str(path))
            if isinstance(loaded, datasets.DatasetDict):
                splits = list(loaded)
                if "train" not in loaded and len(splits) != 1:
                    raise DataFileError(f"{path}: a DatasetDict without a train split has several splits "
                                        f"({', '.join(splits)}); save the one to train on by itself")
                loaded = loaded["train" if "train" in loaded else splits[0]]
            return loaded.to_list()
        builder = DATA_FILE_SUFFIXES[path.suffix.lower()]
        with tempfile.TemporaryDirectory(prefix="icegrt-datasets-") as cache:  # no cache left behind
            return datasets.load_dataset(builder, data_files=str(path), split="train", cache_dir=cache).to_list()
    except DataFileError:
        raise
    except Exception as exc:  # the reader's own complaint (malformed file, wrong format), as a user error
        raise DataFileError(f"{path}: cannot be read with datasets ({type(exc).__name__}: {exc})") from None


def read_records(name: str, what: str = "data file") -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, record)`` for each record of the data path `name`, in file order.

    `where` names the file and the line (JSON lines) or record number, for error messages.

    Raises:
        DataFileError: missing or unreadable file, invalid JSON, a record that is not an object.
    """
    check_data_path(name, what)
    path = Path(name).expanduser()
    if _needs_datasets(path):
        rows: Iterator[tuple[str, Any]] = ((f"{path}, record {n}", row) for n, row in enumerate(_dataset_rows(path), 1))
    elif path.suffix.lower() == ".json":
        rows = _json_file(path)
    else:
        rows = _jsonl_file(path)
    empty = True
    try:
        for where, record in rows:
            if not isinstance(record, dict):
                raise DataFileError(f"{where}: expected an object of fields, got {type(record).__name__}")
            empty = False
            yield where, record
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if empty:
        raise DataFileError(f"{what} {name} has no records")
