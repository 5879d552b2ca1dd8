"""GenerationParams to vLLM's SamplingParams: the tool-call fields (structural tag, special tokens)."""

from __future__ import annotations

import json

from inference.engine import GenerationParams
from inference.vllm_engine import _compact_structural_tag, _sampling_params

TAG = {"type": "structural_tag", "format": {"type": "tags_with_separator", "separator": "", "at_least_one": True,
                                            "stop_after_first": True, "tags": [
    {"type": "tag", "begin": '<tool_call>{"name": "f", "arguments": ', "end": "}</tool_call>",
     "content": {"type": "json_schema", "json_schema": {"type": "object"}, "style": "json", "max_whitespace_cnt": None}},
    {"type": "tag", "begin": "<x>", "end": "</x>",
     "content": {"type": "json_schema", "json_schema": True, "style": "qwen_xml"}},
]}}


def test_tool_call_json_gets_at_most_one_whitespace_at_a_time():
    compact = json.loads(_compact_structural_tag(json.dumps(TAG)))
    json_tag, xml_tag = compact["format"]["tags"]
    assert json_tag["content"]["max_whitespace_cnt"] == 1
    assert "max_whitespace_cnt" not in xml_tag["content"]  # other styles keep their own whitespace rules
    import xgrammar

    xgrammar.Grammar.from_structural_tag(json.dumps({**compact, "format": {**compact["format"], "tags": [json_tag]}}))


def test_structural_tag_and_special_tokens_reach_vllm():
    params = _sampling_params(GenerationParams(max_tokens=5, structural_tag=json.dumps(TAG), skip_special_tokens=False))
    assert json.loads(params.structured_outputs.structural_tag)["format"]["tags"][0]["content"]["max_whitespace_cnt"] == 1
    assert params.skip_special_tokens is False
    assert _sampling_params(GenerationParams(max_tokens=5)).skip_special_tokens is True
