"""The plot of ``benchmarks.peer_sync``: sync time against calendar size, termin360 and
vdirsyncer, for the initial transfer and after 10 changes (medians, log–log; a triangle
marks a transfer cut at its time limit, a lower bound).

    python -m benchmarks.plot_sync [var/bench/peer_sync.json] [docs/performance-sync.png]

``peer_sync`` calls it at its end; run on its own it redraws from the JSON of a run.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

from benchmarks._sync_env import ROOT

_LINES = [
    # (system, kind of figures, K or None, label, colour, line style)
    ("vdirsyncer", "initial", None, "vdirsyncer + Radicale: initial transfer", "tab:red", "-"),
    ("termin360", "initial", None, "termin360: initial transfer (push-existing)", "tab:blue", "-"),
    ("vdirsyncer", "changes", "10", "vdirsyncer + Radicale: after 10 changes", "tab:red", "--"),
    ("termin360", "changes", "10", "termin360: after 10 changes (sync now)", "tab:blue", "--"),
    ("termin360", "job", "10", "termin360: after 10 changes (running job)", "tab:cyan", ":"),
]
# The ratios named in the title (``peer_sync``'s "what" of a ratio → its words).
LABELS = {"initial": "initial transfer", "10": "after 10 changes", "10, job": "running job"}


def plot(raw: dict[str, Any], to: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    sizes: set[int] = set()
    for system, kind, k, label, colour, style in _LINES:
        points, cut = [], []
        for size, figures in sorted(raw["results"][system].items(), key=lambda i: int(i[0])):
            samples = figures.get(kind) if k is None else figures.get(kind, {}).get(k)
            if samples:
                points.append((int(size), statistics.median(s["ms"] for s in samples) / 1000))
                if any(s.get("cut") for s in samples):
                    cut.append(points[-1])
        if points:
            xs, ys = zip(*points, strict=True)
            sizes.update(xs)
            ax.plot(xs, ys, style, marker="o", color=colour, label=label)
            for i, (x, y) in enumerate(cut):  # a lower bound: the transfer was cut
                legend = "cut at its time limit: a lower bound" if i == 0 else None
                ax.plot([x], [y], marker="^", markersize=11, color=colour, linestyle="none",
                        label=legend)  # fmt: skip
            bound = "≥ " if (xs[-1], ys[-1]) in cut else ""
            below = system == "termin360"
            ax.annotate(f"{bound}{ys[-1]:.1f} s", (xs[-1], ys[-1]), textcoords="offset points",
                        xytext=(7, -9 if below else 3), fontsize=8, color=colour)  # fmt: skip
    meta = raw["meta"]
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(sorted(sizes))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    ax.set_xlim(min(sizes) / 1.3, max(sizes) * 1.6)
    ax.set_xlabel("appointments in the calendar (N)")
    ax.set_ylabel("seconds until both sides agree (median)")
    largest = max(r["size"] for r in raw["ratios"])
    said = [
        f"{LABELS[r['what']]} {'≥ ' if r.get('lower_bound') else ''}{r['ms']:.0f}×"
        for r in raw["ratios"]
        if r["size"] == largest and r["what"] in LABELS and r["ms"]
    ]
    ax.set_title(
        f"Calendar sync against calendar size ({meta['backend']}, whole client processes)\n"
        f"termin360 faster at N = {largest:,}: {', '.join(said)}\n"
        f"{meta['cpus']} cores, {meta['date']}",
        fontsize=9,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    to.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(to)
    plt.close(fig)


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "var/bench/peer_sync.json"
    to = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs/performance-sync.png"
    plot(json.loads(source.read_text()), to)
    print(f"written: {to}")


if __name__ == "__main__":
    main()
