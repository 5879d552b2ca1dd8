"""The SFT-vs-TRL benchmark's accounting (benchmarks/training): token counts, rates, paired ratio summaries.
No TRL, no model: pure functions, checked against numbers worked out by hand and against training's own padding."""

from __future__ import annotations

import math

import pytest

from benchmarks.training.accounting import (
    batch_tokens, fmt_summary, label_tokens, paired_ratios, rates, step_tokens, sum_tokens, summary,
)
from benchmarks.training.report import render_table


def test_real_and_padded_tokens_of_a_batch():
    assert batch_tokens([3, 5, 2]) == {"real": 10, "padded": 15}
    assert batch_tokens([]) == {"real": 0, "padded": 0}


def test_real_tokens_are_what_training_pads_and_masks():
    from training.data.chat import IGNORE_INDEX, pad_batch

    ids = [[5, 6, 7], [8, 9, 10, 11, 12], [13, 14]]
    labels = [[IGNORE_INDEX, 6, 7], [IGNORE_INDEX] * 3 + [11, 12], [IGNORE_INDEX, 14]]
    batch = pad_batch(ids, 0, labels)
    counted = step_tokens(list(zip(ids, labels, strict=True)))
    assert counted["real"] == int(batch["attention_mask"].sum()) == 10
    assert counted["padded"] == batch["input_ids"].numel() == 15
    # the labels a next-token loss sees: training.sft.label_count of the same batch
    from training.sft import label_count

    assert counted["labels"] == label_count(batch) == 5


def test_the_first_label_is_never_predicted():
    assert label_tokens([4, -100, 6, 7]) == 2
    assert label_tokens([4]) == 0


def test_rates_of_a_measurement():
    r = rates(2.0, {"real": 100, "padded": 150, "labels": 20})
    assert r == {"seconds": 2.0, "real_tok_s": 50.0, "padded_tok_s": 75.0, "ms_per_real_token": 20.0}
    with pytest.raises(ValueError):
        rates(0.0, {"real": 100, "padded": 150})


def test_sum_tokens_over_steps():
    assert sum_tokens([{"real": 3, "padded": 4, "labels": 1}, {"real": 5, "padded": 8, "labels": 2}]) == \
        {"real": 8, "padded": 12, "labels": 3}


def _round(ours, trl):
    return {"ours": {"real_tok_s": ours}, "trl": {"real_tok_s": trl}}


def test_paired_ratio_summary_by_hand():
    rounds = [_round(100, 100), _round(120, 100), _round(90, 100), {"ours": {"error": "x"}, "trl": {}}]
    s = paired_ratios(rounds)
    assert s["ratios"] == [1.0, 1.2, 0.9]
    assert (s["n"], s["median"], s["min"], s["max"]) == (3, 1.0, 0.9, 1.2)
    assert s["mean"] == pytest.approx(1.0333, abs=1e-4)
    # sample stdev of (1.0, 1.2, 0.9) is sqrt(0.07/3) = 0.15275; / sqrt(3) = 0.08819
    assert s["se"] == pytest.approx(math.sqrt(0.07 / 3) / math.sqrt(3), abs=1e-4)
    assert fmt_summary(s) == "1.00 [0.90, 1.20], mean 1.03 +- 0.088 (n=3)"


def test_summary_of_one_and_none():
    assert summary([2.0])["se"] is None and summary([2.0])["median"] == 2.0
    assert summary([])["n"] == 0 and fmt_summary(summary([])) == "-"


def test_table_renders_rounds_and_the_limit():
    side = {"real_tok_s": 50.0, "padded_tok_s": 70.0, "ms_per_real_token": 20.0, "loadavg_before": 1.0,
            "checks": {"labels_match_plan": True, "fed_tokens_match_plan": True, "examples_differing_from_ours": 0}}
    results = {"name": "t", "command": "c", "note": "", "settings": {"model": "tiny"},
               "machine": {"cpu_model": "cpu", "nproc": 2, "loadavg_start": [0, 0, 0]},
               "peak": {"threads": 2, "peak_gflops": 100.0, "model_shapes_gflops": 80.0, "tokens_per_gemm": 2560,
                        "matmul_params": 134_500_000, "limit_ms_per_token_full": 8.07,
                        "limit_ms_per_token_full_at_model_shapes": 10.1, "limit_ms_per_token_lora": 5.38,
                        "limit_ms_per_token_lora_at_model_shapes": 6.7},
               "modes": {"full": {"tokens_per_step": [{"real": 8, "padded": 10, "labels": 2}],
                                  "rounds": [{"round": 1, "order": ["ours", "trl"], "ours": side,
                                              "trl": {**side, "real_tok_s": 40.0, "ms_per_real_token": 25.0}}]}}}
    table = render_table(results)
    assert "| full | 1 | 1.25 [1.25, 1.25], mean 1.25 (n=1) | 50.0 | 40.0 |" in table
    assert "| 8.07 | 2.48x |" in table  # ours 20 ms per real token against the 8.07 ms limit
    assert "padding 20% of positions" in table
