"""The soak report as a figure: per window, p99 latency, throughput, refusals and errors, memory and
descriptors, so "flat" and "stable" can be seen, not only read from the verdict.

    .venv/bin/python -m loadtests.soak_plot loadtests/results/soak/soak.json   # writes soak.png beside it
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def series(report: dict) -> dict[str, list]:
    """Per window: minutes since the start and each plotted figure (None where a window has none)."""
    windows = report["windows"]

    def count(w: dict, accept) -> int:
        return sum(n for statuses in w["statuses"].values() for status, n in statuses.items() if accept(status))

    return {
        "minutes": [w["end_s"] / 60 for w in windows],
        "p99_e2e_s": [None if w["p99_e2e_ms"] is None else w["p99_e2e_ms"] / 1000 for w in windows],
        "p99_ttft_s": [None if w["p99_ttft_ms"] is None else w["p99_ttft_ms"] / 1000 for w in windows],
        "normal_per_s": [w["normal_completed"] / max(1e-9, w["end_s"] - (windows[i - 1]["end_s"] if i else 0))
                         for i, w in enumerate(windows)],
        "5xx": [count(w, lambda s: s.startswith("5")) for w in windows],
        "4xx": [count(w, lambda s: s.startswith("4")) for w in windows],
        "rss_mb": [w["rss_mb"] for w in windows],
        "fds": [w["fds"] for w in windows],
    }


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = series(report)
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    panels = (
        (axes[0][0], "latency of normal requests (s)", (("p99_e2e_s", "p99 end to end"), ("p99_ttft_s", "p99 first token"))),
        (axes[0][1], "per window", (("normal_per_s", "normal completed /s"), ("4xx", "4xx (malformed, slow)"),
                                    ("5xx", "5xx"))),
        (axes[1][0], "server memory (MB, API + engine)", (("rss_mb", "resident set"),)),
        (axes[1][1], "API process file descriptors", (("fds", "open"),)),
    )
    for ax, title, lines in panels:
        for key, label in lines:
            points = [(m, v) for m, v in zip(s["minutes"], s[key]) if v is not None]
            ax.plot([p[0] for p in points], [p[1] for p in points], "-o", markersize=3, label=label)
        ax.set_title(title)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    for ax in axes[1]:
        ax.set_xlabel("minutes")
    v = report["verdict"]
    failed = [name for name, ok in v["checks"].items() if ok is False]
    fig.suptitle(f"soak at {report['rate_rps']:.2f} normal requests/s: "
                 + ("every check passed" if v["passed"] else f"failed: {', '.join(failed)}"))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    source = Path(args[0])
    out = source.with_suffix(".png")
    plot(json.loads(source.read_text()), out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
