"""PNG plots of chain length by difficulty for the dataset card (matplotlib, Agg backend)."""
from __future__ import annotations

import io
import posixpath
from dataclasses import dataclass, field

import fsspec
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

PLOTS_DIR = "plots"
SCATTER = f"{PLOTS_DIR}/length_by_difficulty.png"
BOXES = f"{PLOTS_DIR}/length_by_band.png"


@dataclass
class ChainLengths:
    """Columnar chain facts: one entry per sampled chain, and one ``kept_*`` entry per kept (SFT) chain."""

    problem_id: list[str] = field(default_factory=list)
    band: list[str] = field(default_factory=list)
    difficulty: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    correct: list[bool] = field(default_factory=list)
    unverifiable: list[bool] = field(default_factory=list)
    truncated: list[bool] = field(default_factory=list)
    repaired: list[bool] = field(default_factory=list)
    kept_band: list[str] = field(default_factory=list)
    kept_difficulty: list[float] = field(default_factory=list)
    kept_tokens: list[int] = field(default_factory=list)


def _scatter(lengths: ChainLengths):
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    for kind, label, style in (((False, False), "wrong chain", dict(marker="x", color="0.6")),
                               ((False, True), "correct chain", dict(marker="o", color="tab:blue", alpha=0.6)),
                               ((True, True), "repaired, correct", dict(marker="^", color="tab:green")),
                               ((True, False), "repaired, wrong", dict(marker="v", color="tab:red"))):
        points = [(d, t) for d, t, r, c in zip(lengths.difficulty, lengths.tokens, lengths.repaired, lengths.correct)
                  if (r, c) == kind]
        if points:
            xs, ys = zip(*points)
            ax.scatter(xs, ys, s=12, label=label, rasterized=True, **style)
    if lengths.kept_tokens:
        ax.scatter(lengths.kept_difficulty, lengths.kept_tokens, s=60, facecolors="none", edgecolors="tab:orange",
                   linewidths=1.5, label="kept (SFT)")
    ax.set(xlabel="problem difficulty", ylabel="completion tokens", title="Chain length by difficulty")
    ax.legend(loc="upper left", fontsize="small")
    return fig


def _boxes(lengths: ChainLengths, band_order: list[str]):
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    every = [[t for b, t, r in zip(lengths.band, lengths.tokens, lengths.repaired) if b == name and not r]
             for name in band_order]
    kept = [[t for b, t in zip(lengths.kept_band, lengths.kept_tokens) if b == name] or [float("nan")]
            for name in band_order]
    positions = range(len(band_order))
    ax.boxplot(every, positions=[p - 0.18 for p in positions], widths=0.3, patch_artist=True,
               boxprops=dict(facecolor="0.85"), medianprops=dict(color="black"))
    ax.boxplot(kept, positions=[p + 0.18 for p in positions], widths=0.3, patch_artist=True,
               boxprops=dict(facecolor="tab:orange"), medianprops=dict(color="black"))
    ax.set_xticks(list(positions), band_order)
    ax.set(xlabel="difficulty band (easiest first)", ylabel="completion tokens",
           title="Chain length by band: teacher samples (grey) vs kept (orange)")
    return fig


def write_length_plots(out_dir: str, lengths: ChainLengths, band_order: list[str]) -> list[str]:
    """Write the scatter and per-band box plots under ``plots/``; their paths relative to ``out_dir``.

    Nothing is written when there are no chains.
    """
    if not lengths.tokens:
        return []
    fs, root = fsspec.core.url_to_fs(out_dir)
    fs.makedirs(posixpath.join(root, PLOTS_DIR), exist_ok=True)
    written = []
    for rel, fig in ((SCATTER, _scatter(lengths)), (BOXES, _boxes(lengths, band_order))):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
        plt.close(fig)
        with fs.open(posixpath.join(root, rel), "wb") as fh:
            fh.write(buf.getvalue())
        written.append(rel)
    return written
