"""write_jsonl_atomically: all of the new file or all of the old one, never a mix."""

from __future__ import annotations

import json

import pytest

from common.jsonl import write_jsonl_atomically


def test_writes_one_object_per_line(tmp_path):
    path = tmp_path / "out.jsonl"
    write_jsonl_atomically([{"a": 1}, {"b": "ü"}], path)
    assert [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] == [{"a": 1}, {"b": "ü"}]


def test_a_failure_midway_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text('{"old": true}\n')

    def records():
        yield {"new": 1}
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError):
        write_jsonl_atomically(records(), path)
    assert path.read_text() == '{"old": true}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]
