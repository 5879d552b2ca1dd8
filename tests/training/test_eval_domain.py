"""icegrt eval domain: held-out chat sets, multi-turn generation, checks before work, end to end."""

from __future__ import annotations

import asyncio
import json

import pytest

from cli.main import main
from tests.server.fake_engine import FakeEngine
from tests.training.conftest import needs_bundle
from training.evaluate.chat import ChatItem, generate_transcripts, load_chat_items


@needs_bundle
def test_chat_sets_are_held_out_from_sft_and_multi_turn():
    from training.data.sources import SFT_SOURCES

    preference = load_chat_items(["preference_eval"])
    mt_bench = load_chat_items(["mt_bench"])
    assert len(preference) >= 10 and len(mt_bench) == 80
    assert all(any(m["role"] == "assistant" for m in item.messages) and item.messages[-1]["role"] == "user"
               for item in preference)
    assert all(len(item.messages) == 1 and len(item.followups) == 1 for item in mt_bench)
    trained = {json.dumps(conv.messages[:-1]) for name in ("multiturn_chat", "preference_chosen")
               for conv in SFT_SOURCES[name].load()}
    assert not any(json.dumps(list(item.messages)) in trained for item in preference)
    assert [i.id for i in load_chat_items(["mt_bench", "preference_eval"], limit=2)] == \
        [mt_bench[0].id, mt_bench[1].id, preference[0].id, preference[1].id]
    with pytest.raises(ValueError, match="unknown chat set"):
        load_chat_items(["vicuna"])


def test_the_model_answers_every_turn_and_its_last_reply_is_kept():
    engine = FakeEngine(max_model_len=64)
    engine.queued_replies = ["first answer", "second answer"]
    item = ChatItem("mt-1", "mt_bench", ({"role": "user", "content": "turn one"},), ("turn two",))
    [transcript] = asyncio.run(generate_transcripts(engine, [item], max_tokens=8, seed=0, concurrency=1))
    assert transcript["reply"] == "second answer" and transcript["finish_reason"] == "stop"
    assert transcript["messages"] == [{"role": "user", "content": "turn one"},
                                      {"role": "assistant", "content": "first answer"},
                                      {"role": "user", "content": "turn two"}]
    assert all(params.temperature == 0.0 and params.max_tokens == 8 for _, params in engine.calls)
    # a conversation whose last turn alone does not fit is skipped, not truncated mid-turn
    long = ChatItem("long", "mt_bench", ({"role": "user", "content": "word " * 100},))
    [skipped] = asyncio.run(generate_transcripts(FakeEngine(max_model_len=64), [long], max_tokens=8, seed=0,
                                                 concurrency=1))
    assert "skipped" in skipped and "reply" not in skipped


def test_reward_model_scores_transcripts(tiny_reward_checkpoint):
    from training.evaluate.chat import load_reward_model, score_transcripts, summarize_scores

    judge = load_reward_model(tiny_reward_checkpoint)
    messages = [{"role": "user", "content": "What is 2 + 2?"}]
    transcripts = [{"id": "a", "set": "s", "messages": messages, "reply": "4"},
                   {"id": "b", "set": "s", "skipped": "too long"},
                   {"id": "c", "set": "s", "messages": messages, "reply": "It is four, of course."}]
    scores = score_transcripts(judge, transcripts, max_seq_len=128)
    assert scores[1] is None and isinstance(scores[0], float) and scores[0] != scores[2]
    assert score_transcripts(judge, transcripts[:1], max_seq_len=128)[0] == pytest.approx(scores[0], abs=1e-5)
    for transcript, score in zip(transcripts, scores, strict=True):
        transcript["score"] = score
    summary = summarize_scores(transcripts)
    assert summary["n"] == 2 and summary["skipped"] == 1 and summary["mean"] == pytest.approx((scores[0] + scores[2]) / 2)


@pytest.mark.parametrize("flags, message", [
    (["--versus", "tiny"], "--versus needs --reward-model"),
    (["--tasks", "ads,poetry"], "unknown or no task"),
    (["--limit", "0"], "must be at least 1"),
    (["--reward-model", "tiny"], "must be a reward one"),
    (["--reward-model", "/nonexistent/rm"], "--reward-model"),
])
def test_bad_flags_fail_before_work_and_write_nothing(tmp_path, capsys, flags, message):
    output = tmp_path / "domain.json"
    assert main(["eval", "domain", "--model", "tiny", *flags, "--output", str(output)]) == 2
    assert message in capsys.readouterr().err
    assert not output.exists()


@pytest.mark.e2e
@pytest.mark.slow
@needs_bundle
def test_eval_domain_end_to_end_on_the_tiny_model(tmp_path, tiny_reward_checkpoint):
    """Real vLLM engines for the model and its rival, the real reward model, one example per set."""
    output = tmp_path / "domain.json"
    argv = ["eval", "domain", "--model", "tiny", "--reward-model", str(tiny_reward_checkpoint), "--versus", "tiny",
            "--limit", "1", "--chat-max-tokens", "8", "--enforce-eager", "--output", str(output)]
    assert main(argv) == 0
    report = json.loads(output.read_text())
    assert report["command"] == "icegrt " + " ".join(argv)
    assert report["ads"]["test"]["n"] == 1 and report["ads"]["handwritten"]["n"] == 1
    assert 0.0 <= report["ads"]["test"]["detection"]["micro"]["f1"] <= 1.0
    assert report["table"]["test"]["n"] == 1 and "cell_f1_stderr" in report["table"]["test"]
    # per-example rows, so that two runs can be paired by example id later
    ad_row, table_row = report["ads"]["test"]["rows"][0], report["table"]["test"]["rows"][0]
    assert ad_row.keys() == {"id", "gold", "predicted", "f1", "flagged", "revision_passed"}
    assert table_row.keys() == {"id", "matched", "predicted", "reference", "f1"}
    chat = report["chat"]
    assert [t["id"] for t in chat["transcripts"]] == [t["id"] for t in chat["versus"]["transcripts"]]
    assert chat["reward"]["n"] == 2 and chat["reward"]["per_set"].keys() == {"preference_eval", "mt_bench"}
    # the same model, greedy, against itself: the same replies, the same scores, every pair a tie
    assert chat["versus"]["win_rate"] == {"win_rate": 0.5, "stderr": 0.0, "n": 2, "wins": 0, "ties": 2, "losses": 0}


@pytest.mark.e2e
@pytest.mark.slow
def test_eval_ads_and_its_report_end_to_end_on_the_tiny_model(tmp_path):
    """A real vLLM engine in hybrid mode (the tiny model is not trained on the task), one ad per set."""
    output = tmp_path / "ads.json"
    argv = ["eval", "ads", "--model", "tiny", "--mode", "hybrid", "--limit", "1", "--enforce-eager", "--output",
            str(output)]
    assert main(argv) == 0
    report = json.loads(output.read_text())
    assert report["task_format"] == "catalogue" and report["mode"] == "hybrid" and report["checks_per_s"] > 0
    assert [r["subset"] for r in report["rows"]] == ["generated_test", "handwritten_plain", "handwritten_subtle"]
    assert all(r["model_calls"] >= 1 for r in report["rows"])  # hybrid: the model was asked
    assert report["summary"].keys() == {"generated_test", "handwritten_plain", "handwritten_subtle"}
    assert main(["eval", "ads-report", "--eval", f"tiny={output}", "--output-dir", str(tmp_path / "report")]) == 0
    assert "| handwritten_subtle | tiny | 1 (" in (tmp_path / "report" / "report.md").read_text()
    assert main(["eval", "ads", "--model", "tiny", "--sets", "nope", "--output", str(tmp_path / "x.json")]) == 2
    assert not (tmp_path / "x.json").exists()
