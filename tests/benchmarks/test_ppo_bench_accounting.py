"""The PPO-vs-TRL benchmark's accounting (benchmarks/training): phase splits, per-measurement figures, the
paired ratio of seconds per step, the table. No TRL, no model: pure functions against numbers worked by hand."""

from __future__ import annotations

import pytest

from benchmarks.training.accounting import PPO_PHASES, mean_split, paired_ratios, phase_split, ppo_measurement, shares
from benchmarks.training.ppo_report import median_phases, render_table


def test_other_is_what_the_named_phases_leave():
    split = phase_split(10.0, {"rollout": 2.0, "scoring": 0.5, "forward": 1.5, "epochs": 5.0})
    assert split == {"rollout": 2.0, "scoring": 0.5, "forward": 1.5, "epochs": 5.0, "other": 1.0, "total": 10.0}
    assert phase_split(4.0, {"epochs": 3.0})["rollout"] == 0.0  # a phase never timed counts 0


def test_phases_cannot_exceed_the_step_nor_be_unknown():
    with pytest.raises(ValueError, match="more than"):
        phase_split(5.0, {"rollout": 3.0, "epochs": 3.0})
    assert phase_split(5.0, {"rollout": 2.0, "epochs": 3.1})["other"] == 0.0  # timer jitter within 5% is 0
    with pytest.raises(ValueError, match="unknown"):
        phase_split(5.0, {"generation": 1.0})


def test_measurement_drops_the_warmup_and_counts_tokens():
    steps = [phase_split(30.0, {"rollout": 10.0, "epochs": 15.0}),  # warm-up, not counted
             phase_split(20.0, {"rollout": 6.0, "scoring": 1.0, "forward": 3.0, "epochs": 8.0}),
             phase_split(24.0, {"rollout": 8.0, "scoring": 1.0, "forward": 3.0, "epochs": 10.0})]
    m = ppo_measurement(steps, warmup=1, response_tokens=[512, 512, 512])
    assert m["s_per_step"] == 22.0
    assert m["phases"] == {"rollout": 7.0, "scoring": 1.0, "forward": 3.0, "epochs": 9.0, "other": 2.0, "total": 22.0}
    assert m["shares"]["largest"] == "epochs" and m["shares"]["epochs"] == pytest.approx(9 / 22, abs=1e-4)
    assert m["timed_response_tokens"] == 1024
    assert m["ms_per_response_token"] == pytest.approx(1000 * 44 / 1024, abs=0.01)
    assert m["rollout_ms_per_token"] == pytest.approx(1000 * 14 / 1024, abs=0.01)
    with pytest.raises(ValueError):
        ppo_measurement(steps, warmup=3, response_tokens=[512] * 3)


def test_mean_split_and_shares():
    a = phase_split(10.0, {"rollout": 4.0, "epochs": 6.0})
    b = phase_split(20.0, {"rollout": 12.0, "epochs": 6.0})
    m = mean_split([a, b])
    assert (m["rollout"], m["epochs"], m["other"], m["total"]) == (8.0, 6.0, 1.0, 15.0)
    s = shares(m)
    assert s["largest"] == "rollout" and sum(s[p] for p in PPO_PHASES) == pytest.approx(1.0, abs=1e-3)


def _side(total: float, epochs: float) -> dict:
    phases = phase_split(total, {"rollout": 2.0, "scoring": 0.1, "forward": 1.0, "epochs": epochs})
    return {"s_per_step": total, "phases": phases, "ms_per_response_token": 1000 * total / 512,
            "loadavg_before": 2.0, "checks": {"prompts_match_plan": True, "full_length_replies": True}}


def test_ratio_is_trl_over_ours_seconds():
    rounds = [{"ours": {"s_per_step": 20.0}, "trl": {"s_per_step": 25.0}},
              {"ours": {"s_per_step": 20.0}, "trl": {"s_per_step": 18.0}}]
    s = paired_ratios(rounds, "s_per_step", ours="trl", theirs="ours")
    assert s["ratios"] == [1.25, 0.9] and s["median"] == pytest.approx(1.075)


def test_table_names_the_ratio_and_the_largest_phase():
    rounds = [{"round": 1, "order": ["ours", "trl"], "ours": _side(10.0, 6.0), "trl": _side(12.5, 8.0)},
              {"round": 2, "order": ["trl", "ours"], "ours": _side(10.0, 6.0), "trl": {"error": "trl exited 1"}}]
    results = {"name": "t", "command": "c", "note": "", "settings": {"model": "tiny"},
               "machine": {"cpu_model": "cpu", "nproc": 2, "loadavg_start": [0, 0, 0]},
               "plan": {"settings": {"rollout_batch_size": 8, "mini_batch_size": 4, "batch_size": 8, "ppo_epochs": 2,
                                     "max_new_tokens": 64, "dtype": "float32", "lora": False, "threads": 1},
                        "warmup_steps": 1, "timed_steps": 2, "prompt_tokens_per_step": [[3, 4]]},
               "rounds": rounds}
    assert median_phases(rounds[:1], "trl")["epochs"] == 8.0
    table = render_table(results)
    assert "| 1 | 1.25 [1.25, 1.25], mean 1.25 (n=1) |" in table
    assert "| ours | 2.00 (20%) | 0.10 (1%) | 1.00 (10%) | 6.00 (60%) | 0.90 (9%) | 10.00 | epochs |" in table
    assert "trl exited 1" in table
