"""Reading a checkpoint's task formats from its marker."""

import json

from common.task_formats import CHECKPOINT_MARKER, read_task_formats, trained_on


def test_read_task_formats(tmp_path):
    assert read_task_formats(tmp_path) == {}
    (tmp_path / CHECKPOINT_MARKER).write_text(json.dumps({"stage": "sft"}))
    assert read_task_formats(tmp_path) == {}
    (tmp_path / CHECKPOINT_MARKER).write_text("{not json")
    assert read_task_formats(tmp_path) == {}
    (tmp_path / CHECKPOINT_MARKER).write_text(json.dumps({"task_formats": {"ad_compliance": "compact-v1"}}))
    assert read_task_formats(tmp_path) == {"ad_compliance": "compact-v1"}
    assert trained_on(tmp_path, "ad_compliance", "compact-v1") and not trained_on(tmp_path, "ad_compliance", "v2")
