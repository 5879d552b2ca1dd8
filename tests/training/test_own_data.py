"""Bring your own data: SFT from the user's files (OpenAI, ShareGPT, Alpaca records in JSONL, JSON,
Parquet, CSV and save_to_disk folders) mixed with built-in sources, the reward model from TRL's
preference formats, the TRL export of served feedback read back, and bad files refused with the
file, line (or record) and field named, exit 2 and no traceback."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from tests.training.conftest import needs_bundle, reward_settings, sft_settings
from training.config import ConfigError, RewardConfig, SFTConfig, load_config
from training.data.preference import PairFormatError, PreferencePair, pair_from_record, read_pairs_file
from training.data.records import DataFileError
from training.data.shapes import conversation_messages, load_conversations

U, A, S = "user", "assistant", "system"


def msg(role: str, content: str) -> dict:
    return {"role": role, "content": content}


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def openai_records(n: int) -> list[dict]:
    return [{"messages": [msg(S, "Be brief."), msg(U, f"What is {i} plus {i}?"), msg(A, f"It is {2 * i}.")]}
            for i in range(n)]


def sharegpt_records(n: int) -> list[dict]:
    return [{"conversations": [{"from": "human", "value": f"Say hello {i} times"},
                               {"from": "gpt", "value": " ".join(["hello"] * (i % 3 + 1))}]} for i in range(n)]


def alpaca_records(n: int) -> list[dict]:
    return [{"instruction": f"Reverse the word number {i}.", "input": "" if i % 2 else f"word{i}",
             "output": f"{i}drow"} for i in range(n)]


def own_files(folder: Path, json_only_without_datasets: bool = False) -> dict[str, Path]:
    """One file per supported kind, each in a different shape; datasets writes the binary kinds (without
    the datasets package: the test skips, or keeps to the JSON kinds if `json_only_without_datasets`)."""
    files = {"jsonl": write_jsonl(folder / "openai.jsonl", openai_records(5)), "json": folder / "sharegpt.json"}
    files["json"].write_text(json.dumps(sharegpt_records(5)))
    if json_only_without_datasets and importlib.util.find_spec("datasets") is None:
        return files
    datasets = pytest.importorskip("datasets")
    files |= {"parquet": folder / "alpaca.parquet", "csv": folder / "alpaca.csv", "folder": folder / "saved"}
    datasets.Dataset.from_list(alpaca_records(5)).to_parquet(str(files["parquet"]))
    datasets.Dataset.from_list(alpaca_records(5)).to_csv(str(files["csv"]), index=False)
    saved = datasets.Dataset.from_list(sharegpt_records(5))
    datasets.DatasetDict({"train": saved, "test": saved.select([0])}).save_to_disk(str(files["folder"]))
    return files


# -- the three SFT shapes ----------------------------------------------------------------------
def test_the_three_shapes_become_chat_messages():
    openai = {"messages": [{"role": "developer", "content": "Rules"}, msg(U, "Hi"),
                           {"role": "assistant", "content": "Hey", "weight": 0}, msg(U, "Bye"), msg(A, "Ciao")]}
    assert conversation_messages(openai, "f") == [msg(S, "Rules"), msg(U, "Hi"), {**msg(A, "Hey"), "weight": 0},
                                                  msg(U, "Bye"), msg(A, "Ciao")]
    sharegpt = {"system": "Be kind", "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "R"}]}
    assert conversation_messages(sharegpt, "f") == [msg(S, "Be kind"), msg(U, "Q"), msg(A, "R")]
    alpaca = {"instruction": "Translate", "input": "chat", "output": "cat", "history": [["1+1", "2"]]}
    assert conversation_messages(alpaca, "f") == [msg(U, "1+1"), msg(A, "2"), msg(U, "Translate\n\nchat"), msg(A, "cat")]
    # as the self_instruct source: no input, no blank line; a missing input from a table is None
    assert conversation_messages({"instruction": "Count", "input": None, "output": "3"}, "f")[0] == msg(U, "Count")


def test_a_weight_0_reply_is_context_not_target(tiny_tokenizer):
    from training.data.chat import IGNORE_INDEX, encode_conversation

    messages = conversation_messages({"messages": [msg(U, "Hi"), {"role": "assistant", "content": "Skip me", "weight": 0},
                                                   msg(U, "Again"), msg(A, "Learn me")]}, "f")
    example = encode_conversation(tiny_tokenizer, messages, max_seq_len=256)
    learned = tiny_tokenizer.decode([t for t, lab in zip(example.input_ids, example.labels, strict=True)
                                     if lab != IGNORE_INDEX])
    assert learned == "Learn me<|im_end|>\n"


def test_every_file_kind_loads(tmp_path):
    files = own_files(tmp_path)
    loaded = {kind: load_conversations(str(path)) for kind, path in files.items()}
    assert {kind: len(c) for kind, c in loaded.items()} == {"jsonl": 5, "json": 5, "parquet": 5, "csv": 5, "folder": 5}
    assert loaded["jsonl"][1].messages == (msg(S, "Be brief."), msg(U, "What is 1 plus 1?"), msg(A, "It is 2."))
    assert loaded["json"][0].messages == loaded["folder"][0].messages == (msg(U, "Say hello 0 times"), msg(A, "hello"))
    # Parquet keeps the empty input as "", CSV reads it as missing: the same conversation either way
    assert [c.messages for c in loaded["parquet"]] == [c.messages for c in loaded["csv"]]
    assert loaded["csv"][1].messages == (msg(U, "Reverse the word number 1."), msg(A, "1drow"))
    assert loaded["csv"][0].messages[0] == msg(U, "Reverse the word number 0.\n\nword0")
    assert loaded["jsonl"][4].source == str(files["jsonl"]) and loaded["jsonl"][4].id == f"{files['jsonl']}-5"


def test_a_mix_names_files_by_path_beside_built_in_sources(tmp_path, monkeypatch):
    config = load_config(SFTConfig, None, {"mix": "data/mine.jsonl=3,gsm8k=2"})  # the command-line form
    assert config.mix == {"data/mine.jsonl": 3, "gsm8k": 2}
    monkeypatch.chdir(tmp_path)
    (tmp_path / "local").mkdir()  # an existing name (a save_to_disk folder, say) is a path too
    assert load_config(SFTConfig, None, {"mix": {"local": 1}}).mix == {"local": 1}
    with pytest.raises(ConfigError, match=r"unknown data source 'bogus'.*or a path to your own"):
        load_config(SFTConfig, None, {"mix": {"bogus": 1}})


# -- SFT on the tiny model from every kind of file ---------------------------------------------
@needs_bundle
def test_sft_trains_on_own_files_of_every_kind_mixed_with_a_built_in_source(tmp_path, tiny_model):
    from cli.main import main

    files = own_files(tmp_path, json_only_without_datasets=True)
    mix = {str(path): 4 for path in files.values()} | {"gsm8k": 2}
    config_file = tmp_path / "own.yaml"
    settings = sft_settings(tmp_path / "runs", mix=mix, max_steps=2, save_every=2, eval_every=2, max_seq_len=64,
                            learning_rate=3e-3)
    config_file.write_text(yaml.safe_dump({"name": "own", "model": "tiny", **settings}))
    assert main(["train", "sft", "--config", str(config_file)]) == 0
    run = tmp_path / "runs" / "own"
    assert json.loads((run / "checkpoint" / "icegrt-checkpoint.json").read_text())["step"] == 2
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    assert len(losses) == 2 and all(loss == loss and loss > 0 for loss in losses)
    data = json.loads((run / "data.json").read_text())  # every file gave its 4 examples, fingerprinted
    assert data["drawn"] == {**{str(p): 4 for p in files.values()}, "gsm8k": 2}
    assert set(data["data_sha256"]) == set(data["drawn"])

    from safetensors.torch import load_file

    before, after = load_file(tiny_model / "model.safetensors"), load_file(run / "checkpoint" / "model.safetensors")
    assert any(not (before[k] == after[k]).all() for k in before)  # the parameters changed


def test_sft_draws_and_labels_own_files_without_the_bundle(tmp_path, tiny_tokenizer):
    from training.data.chat import IGNORE_INDEX
    from training.sft import prepare_data

    mine = write_jsonl(tmp_path / "mine.jsonl", openai_records(6) + alpaca_records(4) + sharegpt_records(4))
    config = SFTConfig(name="x", model="tiny", **sft_settings(tmp_path, mix={str(mine): 14}, max_seq_len=128))
    train_set, eval_set, summary = prepare_data(config, tiny_tokenizer)
    assert summary["drawn"] == {str(mine): 14} and len(train_set) + len(eval_set) == 14
    for example in train_set + eval_set:  # loss on assistant tokens only: every labelled run ends a turn
        text = tiny_tokenizer.decode([t for t, lab in zip(example.input_ids, example.labels, strict=True)
                                      if lab != IGNORE_INDEX])
        assert text.endswith("<|im_end|>\n") and "user" not in text and "Be brief" not in text


def test_ppo_prompts_come_from_own_files_too(tmp_path, tiny_tokenizer):
    from training.ppo.config import PPOConfig
    from training.ppo.prompts import check_prompt_sources, load_prompts

    mine = write_jsonl(tmp_path / "mine.jsonl", [
        {"messages": [msg(U, f"Q{i}"), {"role": "assistant", "content": "old", "weight": 0}, msg(U, "More?"),
                      msg(A, f"R{i}")]} for i in range(4)])
    config = PPOConfig(reward_model="rm", prompt_mix={str(mine): 4}, rollout_batch_size=2, mini_batch_size=2,
                       eval_prompts=2, max_seq_len=256)
    check_prompt_sources(config)
    train, held_out, _ = load_prompts(config, tiny_tokenizer)
    assert len(train) + len(held_out) == 4
    for prompt in train + held_out:  # the context up to the last reply, which is the reference
        assert [m["role"] for m in prompt.messages] == [U, A, U] and "weight" not in prompt.messages[1]
        assert prompt.reference.startswith("R")


# -- reward model from TRL's formats -------------------------------------------------------------
def test_every_pair_shape_gives_the_same_kind_of_pair():
    prompt = [msg(S, "Be kind"), msg(U, "Hi?")]
    expected = PreferencePair(prompt=tuple(prompt), chosen="Hello!", rejected="Go away.")
    shapes = [
        {"prompt": prompt, "chosen": "Hello!", "rejected": "Go away."},                                  # icegrt
        {"prompt": prompt, "chosen": [msg(A, "Hello!")], "rejected": [msg(A, "Go away.")]},               # TRL conv.
        {"chosen": [*prompt, msg(A, "Hello!")], "rejected": [*prompt, msg(A, "Go away.")]},               # implicit
        {"prompt": prompt, "chosen": [*prompt, msg(A, "Hello!")], "rejected": [*prompt, msg(A, "Go away.")]},
        {"conversations": [{"from": "system", "value": "Be kind"}, {"from": "human", "value": "Hi?"}],
         "chosen": {"from": "gpt", "value": "Hello!"}, "rejected": {"from": "gpt", "value": "Go away."}},  # LLaMA-F.
    ]
    for record in shapes:
        assert pair_from_record(record, "f", "s") == expected, record
    standard = pair_from_record({"prompt": "Hi?", "chosen": "Hello!", "rejected": "Go away."}, "f", "s")
    assert standard.prompt == (msg(U, "Hi?"),) and (standard.chosen, standard.rejected) == ("Hello!", "Go away.")
    implicit = pair_from_record({"chosen": "The sky is blue.", "rejected": "The sky is bleak."}, "f", "s")
    assert implicit.prompt == (msg(U, "The sky is"),) and (implicit.chosen, implicit.rejected) == ("blue.", "bleak.")


def trl_pairs(n: int, conversational: bool) -> list[dict]:
    records = []
    for i in range(n):
        good, bad = f"{i} squared is {i * i}.", f"I do not know {i}."
        if conversational:
            records.append({"prompt": [msg(U, f"What is {i} squared?")], "chosen": [msg(A, good)],
                            "rejected": [msg(A, bad)]})
        else:
            records.append({"prompt": f"What is {i} squared?", "chosen": good, "rejected": bad})
    return records


def test_reward_model_trains_on_trl_standard_and_conversational_pairs(tmp_path, tiny_model):
    from training.reward import run_reward

    standard = write_jsonl(tmp_path / "standard.jsonl", trl_pairs(30, conversational=False))
    conversational = tmp_path / "conversational.json"
    conversational.write_text(json.dumps(trl_pairs(30, conversational=True)))
    both = read_pairs_file(str(standard)) + read_pairs_file(str(conversational))
    assert len(both) == 60 and both[0].prompt == (msg(U, "What is 0 squared?"),)
    assert both[:30] == both[30:]  # the two formats say the same thing
    config = RewardConfig(name="trl", model="tiny", pairs=[str(standard), str(conversational)],
                          **reward_settings(tmp_path, max_steps=2, save_every=2, eval_every=2, learning_rate=2e-3))
    result = run_reward(config)
    assert result["step"] == 2 and result["data"]["sources"] == [str(standard), str(conversational)]
    assert result["data"]["train_pairs"] == 4 and result["data"]["eval_pairs"] >= 2
    records = [json.loads(line) for line in (config.run_dir() / "metrics.jsonl").read_text().splitlines()]
    assert "eval_accuracy" in records[-1]
    from safetensors.torch import load_file

    before, after = load_file(tiny_model / "model.safetensors"), load_file(config.run_dir() / "checkpoint" / "model.safetensors")
    assert any(not (before[k] == after[k]).all() for k in before if k in after)  # the parameters changed


# -- export in TRL's format, read back ----------------------------------------------------------
def test_feedback_exported_in_trl_format_reads_back_as_the_same_pairs(tmp_path, capsys, monkeypatch):
    from cli.main import main
    from server.store import FeedbackRecord, MessageRecord, Store, default_database_url, new_id, now

    store = Store.open(default_database_url(tmp_path))
    try:
        replies = []
        for text in ("great", "fine", "bad"):
            conv = store.create_conversation("m", system="S")
            answer = MessageRecord(new_id("msg"), conv.id, "assistant", text, now(), finish_reason="stop")
            store.append_messages(conv.id, [MessageRecord(new_id("msg"), conv.id, "user", "Q", now()), answer])
            replies.append((conv.id, answer.id))
        store.add_feedback(FeedbackRecord(new_id("fb"), now(), conversation_id=replies[0][0],
                                          message_id=replies[0][1], ranking=tuple(m for _, m in replies)))
    finally:
        store.close()
    monkeypatch.delenv("ICEGRT_DATABASE_URL", raising=False)
    ours, trl = tmp_path / "pairs.jsonl", tmp_path / "pairs-trl.jsonl"
    assert main(["data", "export-preferences", "--output", str(ours), "--data-dir", str(tmp_path)]) == 0
    assert main(["data", "export-preferences", "--output", str(trl), "--data-dir", str(tmp_path),
                 "--format", "trl"]) == 0
    summaries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(s["format"], s["pairs"]) for s in summaries] == [("icegrt", 3), ("trl", 3)]
    first = json.loads(trl.read_text().splitlines()[0])
    assert first["prompt"] == [msg(S, "S"), msg(U, "Q")]
    assert first["chosen"] == [msg(A, "great")] and first["rejected"] == [msg(A, "fine")]
    assert read_pairs_file(str(trl)) == read_pairs_file(str(ours))
    assert [(p.chosen, p.rejected) for p in read_pairs_file(str(trl))] == [("great", "fine"), ("great", "bad"),
                                                                            ("fine", "bad")]
    datasets = pytest.importorskip("datasets")  # and TRL's loader reads it as conversational pairs
    loaded = datasets.load_dataset("json", data_files=str(trl), split="train", cache_dir=str(tmp_path / "cache"))
    assert loaded[0]["chosen"] == [msg(A, "great")] and loaded.num_rows == 3


# -- bad files: file, line (or record) and field named; exit 2 ---------------------------------
BAD_SFT = [
    ({"messages": [msg(U, "Hi"), {"role": "bot", "content": "Hey"}]}, "messages[1].role", "must be one of"),
    ({"messages": [msg(A, "Hi"), msg(U, "Hey")]}, "messages[0].role", "starts with a system or user"),
    ({"messages": [msg(U, "Hi"), {"role": "assistant", "content": None}]}, "messages[1].content", "must be a string"),
    ({"messages": [msg(U, "Hi")]}, "messages", "no assistant message"),
    ({"messages": "Hi"}, "messages", "non-empty list of messages"),
    ({"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": 3}]}, "conversations[1].value",
     "must be a string, got int"),
    ({"instruction": "Do it"}, "output", "missing (must be a string)"),
    ({"prompt": "Hi", "completion": "Hey"}, "messages", "'completion', 'prompt'"),
]


@pytest.mark.parametrize(("record", "field", "problem"), BAD_SFT)
def test_a_bad_sft_record_names_file_line_and_field(tmp_path, record, field, problem):
    path = write_jsonl(tmp_path / "mine.jsonl", [openai_records(1)[0], record])
    with pytest.raises(DataFileError) as caught:
        load_conversations(str(path))
    assert str(caught.value).startswith(f"{path}, line 2, field {field!r}: ")
    assert problem in str(caught.value)


BAD_PAIRS = [
    ({"prompt": "Hi", "chosen": "Hey"}, "rejected", "missing"),
    ({"prompt": [msg(U, "Hi")], "chosen": [msg(A, "a"), msg(A, "b")], "rejected": [msg(A, "c")]}, "chosen",
     "one assistant message"),
    ({"prompt": [msg(U, "Hi"), msg(A, "Hey")], "chosen": "a", "rejected": "b"}, "prompt", "ending with a user turn"),
    ({"chosen": "Yes", "rejected": "No"}, "prompt", "share no beginning"),
    ({"chosen": "Yes", "rejected": [msg(A, "No")]}, "rejected", "same kind as chosen"),
    ({"prompt": [{"from": "human", "valu": "Hi"}], "chosen": "a", "rejected": "b"}, "prompt[0].value",
     "missing (must be a string)"),
    ({"prompt": [{"role": "tool", "content": "{}"}], "chosen": "a", "rejected": "b"}, "prompt[0].role",
     "tool and function turns are not supported"),
]


@pytest.mark.parametrize(("record", "field", "problem"), BAD_PAIRS)
def test_a_bad_pair_record_names_file_line_and_field(tmp_path, record, field, problem):
    good = {"prompt": "Hi", "chosen": "Hello", "rejected": "Bye"}
    path = write_jsonl(tmp_path / "pairs.jsonl", [good, good, record])
    with pytest.raises(PairFormatError) as caught:
        read_pairs_file(str(path))
    assert str(caught.value).startswith(f"{path}, line 3, field {field!r}: ")
    assert problem in str(caught.value)


def test_bad_records_of_tables_and_folders_are_named_by_record(tmp_path):
    datasets = pytest.importorskip("datasets")
    path = tmp_path / "bad.parquet"
    datasets.Dataset.from_list([{"instruction": "a", "output": "b"}, {"instruction": "c", "output": None}]).to_parquet(
        str(path))
    with pytest.raises(DataFileError, match=rf"^{path}, record 2, field 'output': missing"):
        load_conversations(str(path))
    array = tmp_path / "bad.json"
    array.write_text(json.dumps([{"prompt": "p", "chosen": "a", "rejected": "b"}, {"prompt": "p", "chosen": "a"}]))
    with pytest.raises(PairFormatError, match=rf"^{array}, record 2, field 'rejected': missing"):
        read_pairs_file(str(array))
    with pytest.raises(DataFileError, match="Hub datasets are not downloaded"):
        load_conversations("HuggingFaceH4/no_such_dataset")
    (tmp_path / "plain_folder").mkdir()
    with pytest.raises(DataFileError, match="not a dataset saved with datasets' save_to_disk"):
        load_conversations(str(tmp_path / "plain_folder"))


def test_cli_prints_the_bad_line_and_exits_2_before_any_run(tmp_path, capsys):
    from cli.main import main

    mine = tmp_path / "mine.jsonl"
    mine.write_text(json.dumps(openai_records(1)[0]) + "\n{not json\n")
    runs = tmp_path / "runs"
    assert main(["train", "sft", "--model", "tiny", "--mix", f"{mine}=5", "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    assert f"{mine}, line 2: not valid JSON" in err and "Traceback" not in err
    mine.write_text(json.dumps({"messages": [msg(U, "Hi"), {"role": "bot", "content": "x"}]}) + "\n")
    assert main(["train", "sft", "--model", "tiny", "--mix", f"{mine}=5", "--runs-dir", str(runs)]) == 2
    assert f"{mine}, line 1, field 'messages[1].role'" in capsys.readouterr().err
    missing = tmp_path / "nope.parquet"
    assert main(["train", "sft", "--model", "tiny", "--mix", f"{missing}=5", "--runs-dir", str(runs)]) == 2
    assert f"data file {missing} does not exist" in capsys.readouterr().err
    pairs = write_jsonl(tmp_path / "pairs.jsonl", [{"prompt": "Hi", "chosen": "a", "rejected": 7}])
    assert main(["train", "reward", "--model", "tiny", "--pairs", str(pairs), "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    assert f"{pairs}, line 1, field 'rejected'" in err and "Traceback" not in err
    assert not runs.exists()  # nothing was started
