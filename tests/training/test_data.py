"""SFT data: assistant-only labels checked by hand, the source registry, the mix, preference pairs."""

from __future__ import annotations

import json

import pytest

from tests.training.conftest import needs_bundle
from training.data.chat import (
    IGNORE_INDEX, ChatTemplateError, assistant_spans, encode_conversation, encode_prompt_response, pad_batch,
)
from training.data.preference import (
    EVAL_PERCENT, PairFormatError, PreferencePair, pairs_from_sharegpt, read_pairs_jsonl, write_pairs_jsonl,
)

CONVERSATION = [
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello there"},
    {"role": "user", "content": "2+2?"},
    {"role": "assistant", "content": "4"},
]
SYSTEM = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"


def _runs(labels: list[int], input_ids: list[int], tokenizer) -> tuple[list[str], list[str]]:
    """Decoded text of the labelled runs and of the unlabelled runs, in order."""
    kept, masked, current, state = [], [], [], None
    for token, label in zip(input_ids, labels, strict=True):
        is_kept = label != IGNORE_INDEX
        if state is not None and is_kept != state:
            (kept if state else masked).append(tokenizer.decode(current))
            current = []
        current.append(token)
        state = is_kept
    (kept if state else masked).append(tokenizer.decode(current))
    return kept, masked


def test_assistant_only_labels_by_hand(tiny_tokenizer):
    example = encode_conversation(tiny_tokenizer, CONVERSATION, max_seq_len=512)
    kept, masked = _runs(example.labels, example.input_ids, tiny_tokenizer)
    # the replies and their end-of-turn marker are learned; everything else is context
    assert kept == ["Hello there<|im_end|>\n", "4<|im_end|>\n"]
    assert masked == [
        SYSTEM + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
        "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n",
    ]
    # labels are the token ids themselves where kept (the shift happens in the loss)
    assert all(lab in (IGNORE_INDEX, tok) for tok, lab in zip(example.input_ids, example.labels, strict=True))
    assert tiny_tokenizer.decode(example.input_ids) == tiny_tokenizer.apply_chat_template(CONVERSATION, tokenize=False)


def test_spans_are_character_ranges_of_the_replies(tiny_tokenizer):
    text, spans = assistant_spans(tiny_tokenizer, CONVERSATION)
    assert [text[a:b] for a, b in spans] == ["Hello there<|im_end|>\n", "4<|im_end|>\n"]


def test_truncation_keeps_the_start_and_drops_examples_without_targets(tiny_tokenizer):
    full = encode_conversation(tiny_tokenizer, CONVERSATION, max_seq_len=512)
    first_label = next(i for i, lab in enumerate(full.labels) if lab != IGNORE_INDEX)
    cut = encode_conversation(tiny_tokenizer, CONVERSATION, max_seq_len=first_label + 2)
    assert cut.input_ids == full.input_ids[: first_label + 2] and cut.n_label_tokens == 2
    assert encode_conversation(tiny_tokenizer, CONVERSATION, max_seq_len=first_label) is None


def test_conversation_must_start_with_user_or_system(tiny_tokenizer):
    with pytest.raises(ChatTemplateError, match="start with"):
        encode_conversation(tiny_tokenizer, CONVERSATION[1:], max_seq_len=64)


def test_reward_inputs_keep_the_end_of_the_reply(tiny_tokenizer):
    prompt = [{"role": "user", "content": "word " * 100}]
    ids = encode_prompt_response(tiny_tokenizer, prompt, "the reply", max_seq_len=16)
    assert len(ids) == 16
    assert tiny_tokenizer.decode(ids).endswith("<|im_start|>assistant\nthe reply<|im_end|>\n")


def test_pad_batch_right_pads():
    batch = pad_batch([[5, 6, 7], [8]], pad_id=2, labels=[[-100, 6, 7], [8]])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 2, 2]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]


# -- sources and mix -------------------------------------------------------------------------
@needs_bundle
@pytest.mark.parametrize(
    "name", ["gsm8k", "self_instruct", "preference_chosen", "multiturn_chat", "e2e_text_to_table", "ad_compliance"]
)
def test_every_source_gives_well_formed_conversations(name):
    from training.data.sources import SFT_SOURCES

    conversations = SFT_SOURCES[name].load()
    assert len(conversations) > 50
    for conversation in conversations[:200]:
        roles = [m["role"] for m in conversation.messages]
        assert roles[-1] == "assistant" and roles[0] in ("system", "user")
        assert all(isinstance(m["content"], str) and m["content"] for m in conversation.messages)
    if name == "multiturn_chat":
        assert all(roles.count("assistant") > 1 for roles in ([m["role"] for m in c.messages] for c in conversations))
    if name == "gsm8k":
        assert not any("<<" in c.messages[-1]["content"] for c in conversations)
    if name == "e2e_text_to_table":
        table = json.loads(conversations[0].messages[-1]["content"])
        assert set(table) == {"columns", "rows"}


@needs_bundle
def test_mix_is_seeded_and_capped():
    from training.data.sources import build_mix

    first, counts = build_mix({"self_instruct": 5, "gsm8k": 3, "multiturn_chat": 10_000}, seed=1)
    again, _ = build_mix({"self_instruct": 5, "gsm8k": 3, "multiturn_chat": 10_000}, seed=1)
    other, _ = build_mix({"self_instruct": 5, "gsm8k": 3, "multiturn_chat": 10_000}, seed=2)
    assert first == again and first != other
    assert counts["self_instruct"] == 5 and counts["gsm8k"] == 3 and 50 < counts["multiturn_chat"] < 10_000


@needs_bundle
def test_sft_never_sees_held_out_preference_prompts():
    from training.data.preference import load_pairs
    from training.data.sources import SFT_SOURCES

    held_out = {json.dumps(list(p.prompt)) for p in load_pairs(["dpo_en_demo"], split="eval")}
    seen = {json.dumps(list(c.messages[:-1])) for name in ("preference_chosen", "multiturn_chat")
            for c in SFT_SOURCES[name].load()}
    assert held_out and not held_out & seen


def test_missing_bundle_file_is_reported(monkeypatch, tmp_path):
    from common.shared_data import SharedDataError
    from training.data.sources import check_sources

    monkeypatch.setenv("ICEGRT_SHARED_DATA", str(tmp_path))
    with pytest.raises(SharedDataError, match="gsm8k_train.jsonl"):
        check_sources(["gsm8k"])


# -- preference pairs ------------------------------------------------------------------------
def test_sharegpt_record_becomes_a_pair():
    record = {
        "conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"},
                          {"from": "gpt", "value": "Hello"}, {"from": "human", "value": "Bye?"}],
        "chosen": {"from": "gpt", "value": "Bye!"},
        "rejected": {"from": "gpt", "value": "No."},
    }
    (pair,) = pairs_from_sharegpt([record], source="demo")
    assert pair.prompt == ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                           {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye?"})
    assert (pair.chosen, pair.rejected) == ("Bye!", "No.")


def test_pairs_jsonl_round_trip_and_errors(tmp_path):
    pair = PreferencePair(prompt=({"role": "user", "content": "Q"},), chosen="good", rejected="bad")
    path = tmp_path / "pairs.jsonl"
    write_pairs_jsonl([pair], path)
    assert read_pairs_jsonl(path) == [pair]
    path.write_text(json.dumps({"prompt": [{"role": "assistant", "content": "x"}], "chosen": "a", "rejected": "b"}) + "\n")
    with pytest.raises(PairFormatError, match="ending with a user turn"):
        read_pairs_jsonl(path)
    path.write_text('{"prompt": []}\n')
    with pytest.raises(PairFormatError, match="pairs.jsonl, line 1"):
        read_pairs_jsonl(path)


@needs_bundle
def test_dpo_demo_split_is_fixed_and_about_ten_percent():
    from training.data.preference import load_pairs

    pairs = load_pairs(["dpo_en_demo"])
    assert len(pairs) == 300
    held_out = [p for p in pairs if p.split == "eval"]
    assert abs(len(held_out) - 300 * EVAL_PERCENT / 100) < 15
    assert load_pairs(["dpo_en_demo"], split="eval") == held_out


def test_pairs_of_one_prompt_share_one_split():
    prompts = [({"role": "user", "content": f"question {i}"},) for i in range(200)]
    for prompt in prompts:
        splits = {PreferencePair(prompt, f"better {j}", f"worse {j}").split for j in range(6)}
        assert len(splits) == 1, f"{prompt}: its pairs fall in both splits"
    held_out = sum(PreferencePair(prompt, "a", "b").split == "eval" for prompt in prompts)
    assert 0 < held_out < 200 * 2 * EVAL_PERCENT / 100


def test_ad_compliance_targets_parse_back_to_their_labels():
    from tasks.ad_compliance.data import generate_dataset
    from tasks.ad_compliance.parser import ModelJudgement, parse_judgement
    from tasks.ad_compliance.targets import judgement_target
    from training.data.ad_compliance import AD_SEED

    records = [r for r in generate_dataset(seed=AD_SEED) if r.split == "train"][:80]
    for record in records:
        parsed = parse_judgement(judgement_target(record), record.ad)
        assert isinstance(parsed, ModelJudgement), parsed
        assert sorted(f.policy_id for f in parsed.violations) == record.labels
        texts = [text for _, text in record.ad.fields()]
        assert all(any(f.quote in text for text in texts) for f in parsed.violations)  # exact spans
        if record.findings:  # the generator's gold findings give every target finding a quote from the ad
            assert all(f.evidence for f in parsed.violations)
