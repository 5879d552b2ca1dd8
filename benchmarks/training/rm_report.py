"""table.md and the plot of a benchmarks.training.rm_vs_trl results.json.

    .venv/bin/python -m benchmarks.training.rm_report loadtests/results/<name>/results.json   # re-render both
"""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks.training.report import header, median_of, plot, rerender, round_rows, step_counts, summary_rows

TITLE = "Reward-model training speed: ours vs TRL RewardTrainer"


def failed_checks(result: dict) -> list[str]:
    """The names of the checks a measurement failed (an error fails them all)."""
    return ["error"] if "error" in result else [k for k, v in result["checks"].items() if not v]


def render_table(results: dict) -> str:
    lines = header(results, TITLE) + [
        "A step is one batch of pairs: their chosen and rejected replies padded together, one forward and backward "
        "and an AdamW update. Ratios are ours / TRL of the same round (above 1: ours faster): median [min, max], "
        "mean +- SE. Both sides train on the same pairs, so pairs/s and real tok/s give the same ratio.", "",
        "| mode | rounds | ratio pairs/s | ours pairs/s | TRL pairs/s | ours real tok/s | TRL real tok/s | "
        "ours padded tok/s | TRL padded tok/s | ours ms/pair | TRL ms/pair |",
        "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += summary_rows(results, "pairs_s", lambda mode, ok: [
        f"{median_of(ok, side, key):.{2 if key == 'pairs_s' else 1}f}"
        for key in ("pairs_s", "real_tok_s", "padded_tok_s", "ms_per_pair") for side in ("ours", "trl")])
    lines += ["", "Every round (steps timed after the warm-up; load average before each run; the loss of the first "
              "step, before any update, is the same on both sides when both score the same pairs with the same "
              "weights):", "", "| mode | round | order | ours pairs/s | TRL pairs/s | ratio | ours real tok/s | "
              "TRL real tok/s | first loss ours / TRL | ours load | TRL load | checks |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += round_rows(results, 9, round_cells) + step_counts(results, ("pairs", "real", "padded"))
    return "\n".join(lines) + "\n"


def round_cells(o: dict, t: dict) -> list[str]:
    failed = {side: failed_checks(r) for side, r in (("ours", o), ("trl", t)) if failed_checks(r)}
    return [f"{o['pairs_s']:.2f}", f"{t['pairs_s']:.2f}", f"{o['pairs_s'] / t['pairs_s']:.3f}",
            f"{o['real_tok_s']:.1f}", f"{t['real_tok_s']:.1f}", f"{o['loss_per_step'][0]} / {t['loss_per_step'][0]}",
            str(o["loadavg_before"]), str(t["loadavg_before"]), "ok" if not failed else f"failed: {failed}"]


def render_plot(results: dict, path: Path) -> None:
    plot(results, path, "pairs_s", "preference pairs/s", "Reward model: icegrt vs TRL RewardTrainer")


def main(argv: list[str] | None = None) -> int:
    return rerender(argv, render_table, render_plot, "rm_vs_trl.png")


if __name__ == "__main__":
    sys.exit(main())
