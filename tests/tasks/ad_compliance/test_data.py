"""Generated and hand-written labelled data."""

import json
from collections import Counter
from importlib import resources

import pytest

from tasks.ad_compliance.data import (LabelledAd, generate_dataset, load_handwritten,
                                      parse_jsonl, read_jsonl, to_json_line, write_jsonl)
from tasks.ad_compliance.policies import policy_ids


@pytest.fixture(scope="module")
def dataset():
    return generate_dataset(seed=0)


def test_split_sizes_ids_and_uniqueness(dataset):
    assert Counter(r.split for r in dataset) == {"train": 4000, "dev": 200, "test": 400}
    assert [r.split for r in dataset[:4000]] == ["train"] * 4000
    assert [r.split for r in dataset[4000:4200]] == ["dev"] * 200
    assert len({r.id for r in dataset}) == 4600
    assert len({(r.ad.headline, r.ad.body, r.ad.call_to_action) for r in dataset}) == 4600


def test_deterministic_for_a_seed(dataset):
    again = generate_dataset(seed=0)
    assert [to_json_line(r) for r in again] == [to_json_line(r) for r in dataset]
    other = generate_dataset(seed=1, sizes={"train": 50})
    assert [r.ad for r in other] != [r.ad for r in dataset[:50]]
    assert generate_dataset(seed=1, sizes={"train": 50}) == other


def test_label_mix(dataset):
    compliant = sum(r.compliant for r in dataset)
    assert 0.25 < compliant / len(dataset) < 0.45
    counts = Counter(label for r in dataset for label in r.labels)
    assert set(counts) == set(policy_ids())  # every policy is represented
    assert min(counts.values()) >= 20


def test_jsonl_round_trip(tmp_path, dataset):
    path = tmp_path / "sub" / "ads.jsonl"
    assert write_jsonl(dataset[:20], path) == 20
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert all({"id", "ad", "labels", "split"} <= set(row) <= {"id", "ad", "labels", "split",
                                                               "findings", "revision"}
               for row in rows)
    assert any("findings" in row and "revision" in row for row in rows)
    assert all("findings" not in row for row in rows if not row["labels"])
    assert all("landing_page_text" not in row["ad"] or row["ad"]["landing_page_text"]
               for row in rows)
    assert read_jsonl(path) == dataset[:20]


def test_bad_records_are_rejected_with_line_numbers():
    good = to_json_line(LabelledAd(id="x", ad={"body": "Hi"}, labels=[], split="dev"))
    bad_label = good.replace('"labels": []', '"labels": ["not_a_policy"]')
    with pytest.raises(ValueError, match=r"(?s)f.jsonl:2: .*not_a_policy"):
        parse_jsonl(good + "\n" + bad_label, "f.jsonl")
    with pytest.raises(ValueError, match="f.jsonl:1"):
        parse_jsonl('{"id": "x", "ad": {"body": "  "}, "labels": [], "split": "dev"}', "f.jsonl")
    labelled = LabelledAd(id="y", ad={"body": "Hi"}, labels=["clickbait", "clickbait",
                                                            "alcohol_minors"], split="test")
    assert labelled.labels == ["alcohol_minors", "clickbait"]


def test_handwritten_set():
    records = load_handwritten()
    assert len(records) >= 150  # details (findings, subtle flag) in test_handwritten.py
    assert all(r.split == "handwritten" for r in records)
    assert len({r.id for r in records}) == len(records)
    known = set(policy_ids())
    assert all(set(r.labels) <= known for r in records)
    compliant = sum(r.compliant for r in records)
    assert 0.25 <= compliant / len(records) <= 0.5
    assert set(l for r in records for l in r.labels) == known  # every policy appears
    assert len({r.ad.body for r in records}) == len(records)


def test_handwritten_file_ships_inside_the_package():
    resource = resources.files("tasks.ad_compliance").joinpath("handwritten_test.jsonl")
    assert resource.is_file()
