"""`icegrt rank`: rankings to pairs, the task scorers, the terminal ranker and feedback conversion."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cli.main import main
from training.data.preference import read_pairs_jsonl
from training.rank.human import parse_order, rank_interactively
from training.rank.pairs import RankInputError, ranking_pairs, read_samples, tiers_from_scores
from training.rank.scorers import score_record

PROMPT = [{"role": "user", "content": "Q?"}]


def _record(prompt_id: str, texts: list[str], task: str | None = None, reference: str | None = None, gold=None) -> dict:
    return {"prompt_id": prompt_id, "prompt": PROMPT, "source": task or "file", "task": task, "reference": reference,
            "gold": gold, "responses": [{"response_id": f"{prompt_id}#{i}", "text": t, "finish_reason": "stop",
                                         "num_tokens": 3} for i, t in enumerate(texts)]}


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_strict_order_gives_every_pair_with_both_ids():
    record = _record("p", ["a", "b", "c", "d"])
    pairs, ties = ranking_pairs(record, [["p#2"], ["p#0"], ["p#3"], ["p#1"]], "test")
    assert ties == 0 and len(pairs) == 4 * 3 // 2
    assert [(p["chosen_id"], p["rejected_id"]) for p in pairs] == [
        ("p#2", "p#0"), ("p#2", "p#3"), ("p#2", "p#1"), ("p#0", "p#3"), ("p#0", "p#1"), ("p#3", "p#1")]
    assert pairs[0]["chosen"] == "c" and pairs[0]["rejected"] == "a" and pairs[0]["prompt"] == PROMPT


def test_ties_give_no_pair_and_same_text_is_dropped():
    assert tiers_from_scores({"x#1": 0.5, "x#0": 1.0, "x#3": 0.5, "x#2": 0.0}) == [["x#0"], ["x#1", "x#3"], ["x#2"]]
    record = _record("x", ["same", "b", "same", "d"])
    pairs, ties = ranking_pairs(record, [["x#0"], ["x#1", "x#3"], ["x#2"]], "test")
    # 1*2 + 1*1 + 2*1 = 5 pairs implied; x#0 and x#2 have the same text
    assert ties == 1 and len(pairs) == 4
    assert ("x#1", "x#3") not in {(p["chosen_id"], p["rejected_id"]) for p in pairs}


def test_scorers_of_the_domain_tasks():
    gsm = _record("g", ["so #### 18", "it is 18.", "#### 17", "no idea"], "gsm8k", "work... #### 18")
    assert list(score_record(gsm).values()) == [1.0, 1.0, 0.0, 0.0]
    reference = json.dumps({"columns": ["name", "area"], "rows": [["Blue Spice", "city centre"]]})
    table = _record("t", ['{"columns": ["name", "area"], "rows": [["Blue Spice", "city centre"]]}',
                          '{"columns": ["name", "area"], "rows": [["Blue Spice", "riverside"]]}', "not a table"],
                    "e2e_text_to_table", reference)
    assert list(score_record(table).values()) == [1.0, 0.5, 0.0]
    with pytest.raises(RankInputError, match="reference ending in '#### <answer>'"):
        score_record(_record("g2", ["1", "2"], "gsm8k", "no answer"))


def test_ad_compliance_scorer_uses_the_ppo_task_reward():
    from tasks.ad_compliance.data import generate_dataset

    labelled = next(r for r in generate_dataset(seed=0) if r.split == "train" and r.labels and r.revision)
    quotes = {f.policy_id: f.quote for f in labelled.findings}
    right = json.dumps({"violations": [{"policy_id": p, "quote": quotes[p], "explanation": "x"} for p in labelled.labels],
                        "analysis": "a"})
    ungrounded = json.dumps({"violations": [{"policy_id": p, "quote": "", "explanation": "x"} for p in labelled.labels],
                             "analysis": "a"})
    record = _record("ad", [right, '{"violations": [], "analysis": "fine"}', "garbage", ungrounded], "ad_compliance",
                     gold=labelled.model_dump(mode="json"))
    assert list(score_record(record).values()) == [1.0, 0.0, 0.0, 0.0]  # a finding must quote the ad

    from tasks.ad_compliance.compact import compact_answer
    from tasks.ad_compliance.reward import compact_reward

    gold_answer = compact_answer([(f.policy_id, f.quote, f.fix or "") for f in labelled.findings])
    compact = _record("adc", [gold_answer, '{"violations":[]}'], "ad_compliance_compact",
                      gold=labelled.model_dump(mode="json"))
    scores = list(score_record(compact).values())
    assert scores == [compact_reward(gold_answer, labelled, True), 0.0] and scores[0] > 0.75
    with pytest.raises(RankInputError, match="needs gold"):
        score_record(_record("adc2", ["{}"], "ad_compliance_compact"))


def test_rank_by_scorer_command_writes_pairs_the_reward_trainer_reads(tmp_path, capsys):
    samples = _write(tmp_path / "s.jsonl", [
        _record("g1", ["#### 3", "#### 4", "#### 3", "#### 5"], "gsm8k", "#### 3"),
        _record("g2", ["#### 1", "#### 2"], "gsm8k", "#### 9"),  # all wrong: tied, no pair
        _record("c1", ["x", "y"]),  # no scorer
    ])
    out = tmp_path / "pairs.jsonl"
    assert main(["rank", "--by", "scorer", "--input", str(samples), "--output", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["pairs"] == 4 and summary["no_scorer"] == 1 and summary["all_tied"] == 1
    pairs = [json.loads(line) for line in out.read_text().splitlines()]
    assert {(p["chosen_id"], p["rejected_id"]) for p in pairs} == {("g1#0", "g1#1"), ("g1#0", "g1#3"),
                                                                    ("g1#2", "g1#1"), ("g1#2", "g1#3")}
    assert all(p["chosen_score"] == 1.0 and p["rejected_score"] == 0.0 for p in pairs)
    assert len(read_pairs_jsonl(out)) == 4


def test_split_by_task_writes_each_tasks_pairs_and_drops_a_tied_tasks_file(tmp_path, capsys):
    table = json.dumps({"columns": ["name"], "rows": [["Blue Spice"]]})
    samples = _write(tmp_path / "s.jsonl", [
        _record("g1", ["#### 3", "#### 4"], "gsm8k", "#### 3"),
        _record("t1", [table, "not a table", "no"], "e2e_text_to_table", table),  # the two non-tables tie
        _record("c1", ["x", "y"]),  # no scorer: no task, no file
    ])
    split = tmp_path / "split"
    split.mkdir()
    out = tmp_path / "pairs.jsonl"
    argv = ["rank", "--by", "scorer", "--input", str(samples), "--output", str(out), "--split-by-task", str(split)]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["pairs_by_task"] == {"gsm8k": 1, "e2e_text_to_table": 2}
    assert sorted(p.name for p in split.iterdir()) == ["pairs_e2e_text_to_table.jsonl", "pairs_gsm8k.jsonl"]
    by_task = {p.name: p.read_text().splitlines() for p in split.iterdir()}
    assert [json.loads(line)["prompt_id"] for line in by_task["pairs_gsm8k.jsonl"]] == ["g1"]
    assert sorted(by_task["pairs_gsm8k.jsonl"] + by_task["pairs_e2e_text_to_table.jsonl"]) == sorted(out.read_text().splitlines())
    assert len(read_pairs_jsonl(split / "pairs_gsm8k.jsonl")) == 1

    _write(samples, [_record("g1", ["#### 1", "#### 2"], "gsm8k", "#### 3")])  # now all tied: no pairs_gsm8k
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["pairs_by_task"] == {"gsm8k": 0}
    assert sorted(p.name for p in split.iterdir()) == ["pairs_e2e_text_to_table.jsonl"]


@pytest.mark.parametrize("by, split, message", [
    ("human", ".", "--split-by-task needs --by scorer"),
    ("scorer", "missing", "--split-by-task: directory"),
])
def test_split_by_task_is_refused_before_work(tmp_path, by, split, message, capsys):
    samples = _write(tmp_path / "s.jsonl", [_record("g1", ["#### 3", "#### 4"], "gsm8k", "#### 3")])
    out = tmp_path / "pairs.jsonl"
    argv = ["rank", "--by", by, "--input", str(samples), "--output", str(out), "--split-by-task", str(tmp_path / split)]
    assert main(argv) == 2
    assert message in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("content, message", [
    ("", "has no records"),
    ("{}\n", "not a record of `icegrt sample`"),
    (json.dumps(_record("a", ["only one"])) + "\n", "at least 2 responses"),
    (json.dumps(_record("a", ["x", "y"])) + "\n" + json.dumps(_record("a", ["x", "y"])) + "\n", "appears twice"),
])
def test_bad_sample_files_are_refused_before_work(tmp_path, content, message, capsys):
    path = tmp_path / "s.jsonl"
    path.write_text(content)
    with pytest.raises(RankInputError, match=message):
        read_samples(path)
    out = tmp_path / "pairs.jsonl"
    assert main(["rank", "--by", "scorer", "--input", str(path), "--output", str(out)]) == 2
    assert message in capsys.readouterr().err and not out.exists()


def test_parse_order_validates():
    assert parse_order("2 1 3", 3) == [["2"], ["1"], ["3"]]
    assert parse_order("2=1 3", 3) == [["2", "1"], ["3"]]
    assert "missing [3]" in parse_order("2 1", 3)
    assert "repeated [1]" in parse_order("1 1 2 3", 3)
    assert "not between 1 and 3: [4]" in parse_order("1 2 3 4", 3)
    assert "not a reply number" in parse_order("first", 3)


def test_human_ranker_saves_progress_and_resumes(tmp_path):
    records = [_record("a", ["a0", "a1", "a2"]), _record("b", ["b0", "b1"]), _record("c", ["c0", "c1"])]
    out, progress = tmp_path / "pairs.jsonl", tmp_path / "progress.jsonl"
    answers = iter(["3 1", "3 1 2", "s", "q"])  # a bad answer, then a's order; skip b; quit at c
    shown = io.StringIO()
    summary = rank_interactively(records, out, progress, ask=lambda _: next(answers), out=shown)
    assert "missing [2]" in shown.getvalue() and "reply 3" in shown.getvalue()
    assert summary["ranked"] == 1 and summary["skipped"] == 1 and summary["remaining"] == 1 and summary["quit"]
    assert [(p["chosen_id"], p["rejected_id"]) for p in map(json.loads, out.read_text().splitlines())] == [
        ("a#2", "a#0"), ("a#2", "a#1"), ("a#0", "a#1")]

    def interrupted(_):
        raise KeyboardInterrupt

    assert rank_interactively(records, out, progress, ask=interrupted, out=io.StringIO())["remaining"] == 1
    summary = rank_interactively(records, out, progress, ask=lambda _: "2 1", out=io.StringIO())  # only c is asked
    assert summary["remaining"] == 0 and summary["pairs"] == 4
    assert read_pairs_jsonl(out)[-1].chosen == "c1"


def test_feedback_export_becomes_pairs(tmp_path, capsys):
    export = tmp_path / "export.jsonl"
    rows = [{"prompt": PROMPT, "chosen": "good", "rejected": "bad", "source": "ranking:f1", "chosen_id": "m1",
             "rejected_id": "m2"}] * 2 + [{"prompt": PROMPT, "chosen": "same", "rejected": "same", "source": "rating:f2,f3"}]
    _write(export, rows)
    out = tmp_path / "pairs.jsonl"
    assert main(["rank", "--by", "feedback", "--input", str(export), "--output", str(out)]) == 0
    assert json.loads(capsys.readouterr().out) | {"output": None} == {"output": None, "pairs": 1, "read": 3, "ties": 1,
                                                                     "duplicates": 1}
    (pair,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert pair["chosen_id"] == "m1" and pair["source"] == "rank:feedback:ranking:f1"
    _write(export, [{"prompt": [], "chosen": "a", "rejected": "b"}])
    assert main(["rank", "--by", "feedback", "--input", str(export), "--output", str(out)]) == 2
    assert "ending with a user turn" in capsys.readouterr().err
