"""Pure accounting of the training benchmarks: tokens in a padded batch, per-measurement rates, paired ratios.

Counting rules (the same for both trainers, which see the same batches):
    real tokens     non-pad positions (the attention mask's ones): the work a padding-free trainer would do
    padded tokens   batch rows x the longest row: the positions the model actually computes
    label tokens    (SFT) positions whose next-token label is kept (assistant tokens, the first position never)
    pairs           (reward model) preference pairs: a pair is two rows, its chosen and its rejected reply,
                    padded in one batch with every other pair's (both trainers put chosen rows first)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

IGNORE_INDEX = -100


def batch_tokens(lengths: Sequence[int]) -> dict[str, int]:
    """Real and padded tokens of one right-padded batch of sequences of these lengths."""
    if not lengths:
        return {"real": 0, "padded": 0}
    return {"real": sum(lengths), "padded": len(lengths) * max(lengths)}


def label_tokens(labels: Sequence[int]) -> int:
    """Labelled positions a next-token loss sees in one sequence (its first token is never predicted)."""
    return sum(label != IGNORE_INDEX for label in labels[1:])


def step_tokens(batch: Sequence[tuple[Sequence[int], Sequence[int]]]) -> dict[str, int]:
    """Real, padded and label tokens of one step's batch of (input_ids, labels) pairs."""
    return {**batch_tokens([len(ids) for ids, _ in batch]), "labels": sum(label_tokens(lab) for _, lab in batch)}


def pair_step_tokens(pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> dict[str, int]:
    """Real and padded tokens of one step's batch of (chosen ids, rejected ids) pairs, and its pair count."""
    return {**batch_tokens([len(ids) for pair in pairs for ids in pair]), "pairs": len(pairs)}


def sum_tokens(steps: Sequence[dict[str, int]]) -> dict[str, int]:
    """Every count of the steps (real, padded, and labels or pairs) summed over them."""
    keys = dict.fromkeys(["real", "padded", *(k for s in steps for k in s)])
    return {k: sum(s.get(k, 0) for s in steps) for k in keys}


def rates(seconds: float, tokens: dict[str, int]) -> dict[str, float]:
    """Throughput of one measurement: tokens/s (real, padded), ms per real token."""
    if seconds <= 0 or tokens["real"] <= 0:
        raise ValueError(f"a measurement needs time and tokens, got {seconds} s and {tokens}")
    return {"seconds": round(seconds, 3), "real_tok_s": round(tokens["real"] / seconds, 2),
            "padded_tok_s": round(tokens["padded"] / seconds, 2),
            "ms_per_real_token": round(1000 * seconds / tokens["real"], 3)}


def pair_rates(seconds: float, tokens: dict[str, int]) -> dict[str, float]:
    """Throughput of one reward-model measurement: pairs/s and ms per pair besides the token rates."""
    if tokens.get("pairs", 0) <= 0:
        raise ValueError(f"a reward-model measurement needs pairs, got {tokens}")
    return {**rates(seconds, tokens), "pairs_s": round(tokens["pairs"] / seconds, 4),
            "ms_per_pair": round(1000 * seconds / tokens["pairs"], 1)}


def summary(values: Sequence[float]) -> dict[str, float | int | None]:
    """Median, min-max and mean +- standard error (sample stdev / sqrt(n)) of a set of values."""
    values = list(values)
    if not values:
        return {"n": 0, "median": None, "min": None, "max": None, "mean": None, "se": None}
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else None
    return {"n": len(values), "median": round(statistics.median(values), 4), "min": round(min(values), 4),
            "max": round(max(values), 4), "mean": round(statistics.fmean(values), 4),
            "se": None if se is None else round(se, 4)}


def paired_ratios(rounds: Sequence[dict], figure: str = "real_tok_s", ours: str = "ours",
                  theirs: str = "trl") -> dict:
    """Per round ours/theirs of `figure` (rounds missing either side are skipped) and their summary."""
    ratios = [round(r[ours][figure] / r[theirs][figure], 4) for r in rounds
              if r.get(ours) and r.get(theirs) and r[theirs].get(figure)]
    return {"figure": figure, "ratios": ratios, **summary(ratios)}


def fmt_summary(s: dict, digits: int = 2) -> str:
    """``median [min, max], mean +- se (n)`` for tables."""
    if not s.get("n"):
        return "-"
    se = f" +- {s['se']:.{digits + 1}f}" if s.get("se") is not None else ""
    return (f"{s['median']:.{digits}f} [{s['min']:.{digits}f}, {s['max']:.{digits}f}], "
            f"mean {s['mean']:.{digits}f}{se} (n={s['n']})")


# --- PPO (benchmarks.training.ppo_vs_trl) ------------------------------------------------------------------

PPO_PHASES = ("rollout", "scoring", "forward", "epochs", "other")
"""A PPO step's time, split the same way for both trainers:
    rollout   generation of the rollout batch's replies (sampling, the KV cache; decoding to text on our side)
    scoring   the reward of each reply (here the same cell-F1 function on both sides, decoding included on TRL's)
    forward   no-grad passes before the epochs: reference log-probs and critic values (both), and our actor
              log-probs, which TRL takes from generate's own logits instead
    epochs    the PPO epochs: forward + backward of actor and critic on each mini-batch, clipping, optimizer steps
    other     the rest of the step (advantages, KL, logging), i.e. the step's total minus the phases above"""


def phase_split(total_s: float, phases: dict[str, float]) -> dict[str, float]:
    """One step's seconds per phase, `other` being what the named phases leave of `total_s`."""
    unknown = set(phases) - set(PPO_PHASES[:-1])
    if unknown:
        raise ValueError(f"unknown phases {sorted(unknown)}")
    split = {p: float(phases.get(p, 0.0)) for p in PPO_PHASES[:-1]}
    rest = total_s - sum(split.values())
    if rest < -0.05 * max(total_s, 1e-9):  # the phases are timed inside the step: they cannot exceed it
        raise ValueError(f"phases {split} add up to more than the step's {total_s:.3f} s")
    return {**{p: round(v, 3) for p, v in split.items()}, "other": round(max(rest, 0.0), 3), "total": round(total_s, 3)}


def mean_split(steps: Sequence[dict[str, float]]) -> dict[str, float]:
    """The mean seconds per phase (and total) over timed steps."""
    if not steps:
        raise ValueError("no steps")
    return {k: round(statistics.fmean(s[k] for s in steps), 3) for k in (*PPO_PHASES, "total")}


def shares(split: dict[str, float]) -> dict[str, float]:
    """Each phase's share of the step's total, and the largest one's name under ``largest``."""
    total = split["total"]
    out: dict = {p: round(split[p] / total, 4) for p in PPO_PHASES}
    out["largest"] = max(PPO_PHASES, key=lambda p: split[p])
    return out


def ppo_measurement(step_splits: Sequence[dict[str, float]], warmup: int, response_tokens: Sequence[int]) -> dict:
    """One measurement's figures over its timed steps (those after `warmup`): seconds per step, per phase,
    and per generated token (response tokens of the timed steps, as each side counted them)."""
    timed = list(step_splits[warmup:])
    tokens = sum(response_tokens[warmup:])
    if not timed or tokens <= 0:
        raise ValueError(f"a measurement needs timed steps and tokens, got {len(timed)} steps, {tokens} tokens")
    split = mean_split(timed)
    return {"s_per_step": split["total"], "phases": split, "shares": shares(split),
            "timed_response_tokens": tokens,
            "ms_per_response_token": round(1000 * sum(s["total"] for s in timed) / tokens, 2),
            "rollout_ms_per_token": round(1000 * sum(s["rollout"] for s in timed) / tokens, 2)}
