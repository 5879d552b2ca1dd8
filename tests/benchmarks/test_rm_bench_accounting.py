"""The reward-model-vs-TRL benchmark's accounting (benchmarks/training): pairs and tokens of a step, the rates of a
measurement, the table. No TRL, no model: pure functions against numbers worked out by hand and against the
padding our reward stage does."""

from __future__ import annotations

import pytest

from benchmarks.training.accounting import pair_rates, pair_step_tokens, sum_tokens
from benchmarks.training.rm_report import failed_checks, render_table


def test_a_pair_is_two_rows_padded_with_the_others():
    # rows 3, 2 (pair one) and 5, 1 (pair two): 11 real tokens in 4 rows of 5
    assert pair_step_tokens([([1, 2, 3], [4, 5]), ([6, 7, 8, 9, 10], [11])]) == {"real": 11, "padded": 20, "pairs": 2}


def test_pair_tokens_are_what_the_reward_stage_pads():
    from training.data.chat import pad_batch

    pairs = [([5, 6, 7], [8, 9]), ([10, 11, 12, 13], [14])]
    batch = pad_batch([c for c, _ in pairs] + [r for _, r in pairs], 0)  # RewardStage._batch: chosen rows first
    counted = pair_step_tokens(pairs)
    assert counted["real"] == int(batch["attention_mask"].sum()) == 10
    assert counted["padded"] == batch["input_ids"].numel() == 16


def test_sum_keeps_pairs_and_labels_apart():
    steps = [{"real": 11, "padded": 20, "pairs": 2}, {"real": 7, "padded": 8, "pairs": 2}]
    assert sum_tokens(steps) == {"real": 18, "padded": 28, "pairs": 4}
    assert sum_tokens([{"real": 3, "padded": 4, "labels": 1}]) == {"real": 3, "padded": 4, "labels": 1}


def test_pair_rates_of_a_measurement():
    r = pair_rates(4.0, {"real": 1000, "padded": 1200, "pairs": 8})
    assert r == {"seconds": 4.0, "real_tok_s": 250.0, "padded_tok_s": 300.0, "ms_per_real_token": 4.0,
                 "pairs_s": 2.0, "ms_per_pair": 500.0}
    with pytest.raises(ValueError):
        pair_rates(4.0, {"real": 1000, "padded": 1200, "pairs": 0})


def _side(pairs_s: float, **checks: bool) -> dict:
    return {"pairs_s": pairs_s, "real_tok_s": 100 * pairs_s, "padded_tok_s": 120 * pairs_s,
            "ms_per_pair": 1000 / pairs_s, "loss_per_step": [0.6931, 0.69], "loadavg_before": 1.0,
            "checks": {"pairs_match_plan": True, "fed_tokens_match_plan": True, **checks}}


def test_failed_checks_name_what_failed():
    assert failed_checks(_side(2.0)) == []
    assert failed_checks(_side(2.0, scored_at_last_token=False)) == ["scored_at_last_token"]
    assert failed_checks({"error": "trl exited 1"}) == ["error"]


def test_table_gives_the_ratio_of_pairs_per_second():
    results = {"name": "t", "command": "c", "note": "", "settings": {"model": "tiny"},
               "machine": {"cpu_model": "cpu", "nproc": 2, "loadavg_start": [0, 0, 0]},
               "modes": {"full": {"tokens_per_step": [{"pairs": 2, "real": 8, "padded": 10}],
                                  "rounds": [{"round": 1, "order": ["ours", "trl"], "ours": _side(2.5),
                                              "trl": _side(2.0, tokenized_like_ours=False)},
                                             {"round": 2, "order": ["trl", "ours"], "ours": _side(2.5),
                                              "trl": {"error": "trl exited 1"}}]}}}
    table = render_table(results)
    assert "| full | 1 | 1.25 [1.25, 1.25], mean 1.25 (n=1) | 2.50 | 2.00 | 250.0 | 200.0 |" in table
    assert "| 0.6931 / 0.6931 | 1.0 | 1.0 | failed: {'trl': ['tokenized_like_ours']} |" in table
    assert "| full | 2 | trl/ours |  | trl exited 1 |" in table
    assert "full: tokens per step (pairs / real / padded): 2/8/10; padding 20% of positions." in table
