"""PNG plots of chain length by difficulty for the dataset card (matplotlib, Agg backend), from the chains' figures.

The scatter shows the chains and kept rows the pipeline sampled for it (all of them up to its point
limit, a uniform sample beyond: its title says which); the box plot is drawn from each band's token
quantiles (boxes: quartiles and median; whiskers: 5th and 95th percentiles), so no plot needs the
whole length column. matplotlib is imported when a plot is drawn, not with the module: the launcher
imports this module to build a run, and matplotlib costs it 23 MB.
"""
from __future__ import annotations

import io
import posixpath

import fsspec

from schemas.figures import QUANTILE_POINTS, BandLengths, ChainFigures

PLOTS_DIR = "plots"
SCATTER = f"{PLOTS_DIR}/length_by_difficulty.png"
BOXES = f"{PLOTS_DIR}/length_by_band.png"
_STEP = 100 / (QUANTILE_POINTS - 1)  # percent between two stored quantiles


def pyplot():
    """matplotlib's pyplot on the Agg backend, imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _sampled(shown: int, total: int, what: str) -> str:
    return f"all {total} {what}" if shown >= total else f"a uniform sample of {shown} of {total} {what}"


def _scatter(plt, figures: ChainFigures):
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    for kind, label, style in (((False, False), "wrong chain", dict(marker="x", color="0.6")),
                               ((False, True), "correct chain", dict(marker="o", color="tab:blue", alpha=0.6)),
                               ((True, True), "repaired, correct", dict(marker="^", color="tab:green")),
                               ((True, False), "repaired, wrong", dict(marker="v", color="tab:red"))):
        points = [(p.difficulty, p.tokens) for p in figures.points if (p.repaired, p.correct) == kind]
        if points:
            xs, ys = zip(*points)
            ax.scatter(xs, ys, s=12, label=label, rasterized=True, **style)
    if figures.kept_points:
        ax.scatter([p.difficulty for p in figures.kept_points], [p.tokens for p in figures.kept_points], s=60,
                   facecolors="none", edgecolors="tab:orange", linewidths=1.5, label="kept (SFT)")
    ax.set(xlabel="problem difficulty", ylabel="completion tokens",
           title=f"Chain length by difficulty\n({_sampled(len(figures.points), figures.chains, 'chains')}, "
                 f"{_sampled(len(figures.kept_points), figures.kept, 'kept')})")
    ax.legend(loc="upper left", fontsize="small")
    return fig


def _box(quantiles: list[float], label: str) -> dict:
    """matplotlib's box statistics from the stored quantiles (5 % apart, minimum to maximum)."""
    def at(percent: float) -> float:
        return quantiles[round(percent / _STEP)]

    return {"label": label, "whislo": at(5), "q1": at(25), "med": at(50), "q3": at(75), "whishi": at(95), "fliers": []}


def _boxes(plt, lengths: list[BandLengths]):
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    for offset, attr, color in ((-0.18, "sampled", "0.85"), (0.18, "kept", "tab:orange")):
        shown = [(i, getattr(b, attr)) for i, b in enumerate(lengths) if getattr(b, attr)]
        if shown:
            ax.bxp([_box(q, lengths[i].name) for i, q in shown], positions=[i + offset for i, _ in shown], widths=0.3,
                   patch_artist=True, boxprops=dict(facecolor=color), medianprops=dict(color="black"))
    ax.set_xticks(range(len(lengths)), [b.name for b in lengths])
    ax.set(xlabel="difficulty band (easiest first)", ylabel="completion tokens",
           title="Chain length by band: teacher samples (grey) vs kept (orange)\n"
                 "boxes: quartiles and median; whiskers: 5th and 95th percentiles")
    return fig


def write_length_plots(out_dir: str, figures: ChainFigures) -> list[str]:
    """Write the scatter and per-band box plots under ``plots/``; their paths relative to ``out_dir``.

    Nothing is written when there are no chains.
    """
    if not figures.chains:
        return []
    fs, root = fsspec.core.url_to_fs(out_dir)
    fs.makedirs(posixpath.join(root, PLOTS_DIR), exist_ok=True)
    plt, written = pyplot(), []
    for rel, fig in ((SCATTER, _scatter(plt, figures)), (BOXES, _boxes(plt, figures.lengths))):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
        plt.close(fig)
        with fs.open(posixpath.join(root, rel), "wb") as fh:
            fh.write(buf.getvalue())
        written.append(rel)
    return written
