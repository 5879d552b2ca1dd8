"""Checks of the shared data bundle access: a fake bundle in tmp_path, plus the real one."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from common import shared_data
from common.paths import shared_data_dir
from common.shared_data import SharedDataError, bundle_manifest, shared_file


def _make_bundle(root, files: dict[str, bytes]) -> None:
    entries = []
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        entries.append(
            {
                "file": rel,
                "bytes": len(data),
                "lines": data.count(b"\n"),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    (root / "SHA256SUMS.json").write_text(json.dumps(entries))


@pytest.fixture
def bundle(tmp_path, monkeypatch):
    _make_bundle(tmp_path, {"a/one.txt": b"hello\n", "two.csv": b"x,y\n1,2\n"})
    monkeypatch.setenv("ICEGRT_SHARED_DATA", str(tmp_path))
    return tmp_path


def test_returns_path_of_a_good_file(bundle):
    assert shared_file("a/one.txt") == bundle / "a" / "one.txt"
    assert shared_file("two.csv").read_text() == "x,y\n1,2\n"


def test_manifest_lists_entries(bundle):
    manifest = bundle_manifest()
    assert set(manifest) == {"a/one.txt", "two.csv"}
    assert manifest["two.csv"].lines == 2


def test_missing_file_names_where_it_was_expected(bundle):
    (bundle / "two.csv").unlink()
    with pytest.raises(SharedDataError, match=r"missing .*two\.csv.*expected at .*MANIFEST\.md"):
        shared_file("two.csv")


def test_missing_bundle_says_how_to_point_at_it(tmp_path, monkeypatch):
    monkeypatch.setenv("ICEGRT_SHARED_DATA", str(tmp_path / "nowhere"))
    (tmp_path / "nowhere").mkdir()
    (tmp_path / "nowhere" / "f.txt").write_text("x")
    with pytest.raises(SharedDataError, match="ICEGRT_SHARED_DATA"):
        shared_file("f.txt")


def test_corrupt_file_same_size_is_caught_by_sha256(bundle):
    (bundle / "a" / "one.txt").write_bytes(b"jello\n")
    with pytest.raises(SharedDataError, match=r"corrupt .*a/one\.txt.*sha256"):
        shared_file("a/one.txt")


def test_wrong_size_is_caught_before_hashing(bundle):
    (bundle / "two.csv").write_bytes(b"x,y\n")
    with pytest.raises(SharedDataError, match="4 bytes, expected 8"):
        shared_file("two.csv")


def test_verify_false_only_checks_existence(bundle):
    (bundle / "two.csv").write_bytes(b"changed")
    assert shared_file("two.csv", verify=False).name == "two.csv"


def test_unlisted_file_is_refused(bundle):
    (bundle / "extra.txt").write_text("?")
    with pytest.raises(SharedDataError, match="not listed"):
        shared_file("extra.txt")


@pytest.mark.parametrize("bad", ["../etc/passwd", "/etc/passwd", "a/../../x"])
def test_paths_outside_the_bundle_are_refused(bundle, bad):
    with pytest.raises(SharedDataError, match="relative to the bundle root"):
        shared_file(bad)


def test_verification_is_cached_until_the_file_changes(bundle, monkeypatch):
    calls = []
    real = shared_data.hashlib.file_digest

    def counting(handle, name):
        calls.append(name)
        return real(handle, name)

    monkeypatch.setattr(shared_data.hashlib, "file_digest", counting)
    shared_file("a/one.txt")
    shared_file("a/one.txt")
    assert len(calls) == 1
    path = bundle / "a" / "one.txt"
    path.write_bytes(b"jello\n")
    os.utime(path, ns=(1, 1))  # a different mtime, whatever the clock resolution
    with pytest.raises(SharedDataError, match="corrupt"):
        shared_file("a/one.txt")
    assert len(calls) == 2


def test_malformed_sums_file_is_reported(tmp_path, monkeypatch):
    (tmp_path / "SHA256SUMS.json").write_text('{"not": "a list"}')
    (tmp_path / "f.txt").write_text("x")
    monkeypatch.setenv("ICEGRT_SHARED_DATA", str(tmp_path))
    with pytest.raises(SharedDataError, match="unreadable"):
        shared_file("f.txt")


@pytest.mark.skipif(
    not (shared_data_dir() / "SHA256SUMS.json").is_file(),
    reason="shared data bundle not present at ../shared/data (or $ICEGRT_SHARED_DATA)",
)
def test_real_bundle_files_verify():
    manifest = bundle_manifest()
    assert "text_to_table/e2e_test.csv" in manifest
    for rel in ("text_to_table/e2e_devel.csv", "multiturn/mt_bench_questions.jsonl"):
        assert shared_file(rel).is_file()
