"""The card's section on the chain signals from the teacher's token probabilities: correct against wrong chains."""
from __future__ import annotations

import io
import posixpath

import fsspec

from data_cards.plots import PLOTS_DIR, pyplot
from schemas.manifest import ChainSignalStats, Manifest, SignalDistribution

PLOT = f"{PLOTS_DIR}/chain_signals.png"
LABELS = {"mean_entropy": "mean token entropy (nats)", "critical_entropy": "entropy at critical tokens (nats)",
          "answer_logprob": "answer span: mean log probability", "low_confidence_share": "share of low-confidence tokens"}


def write_signal_plot(out_dir: str, stats: ChainSignalStats) -> str:
    """Each signal's histogram for correct and wrong chains (each as a share of its chains) under ``plots/``; the path
    relative to ``out_dir``."""
    plt = pyplot()  # on first use, not with the module: the launcher imports it to build a run (issue 29)
    fig, axes = plt.subplots(2, 2, figsize=(9, 6), dpi=100)
    for ax, figure in zip(axes.flat, stats.figures):
        for dist, label, color in ((figure.correct, "correct", "tab:blue"), (figure.wrong, "wrong", "tab:red")):
            if dist.n:
                ax.stairs([c / dist.n for c in dist.counts], figure.edges, label=f"{label} ({dist.n})", color=color)
        ax.set(xlabel=LABELS[figure.name], ylabel="share of chains")
        ax.legend(fontsize="small")
    fig.suptitle("Chain signals from the teacher's token probabilities")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    fs, root = fsspec.core.url_to_fs(out_dir)
    fs.makedirs(posixpath.join(root, PLOTS_DIR), exist_ok=True)
    with fs.open(posixpath.join(root, PLOT), "wb") as fh:
        fh.write(buf.getvalue())
    return PLOT


def _cell(dist: SignalDistribution) -> str:
    if not dist.n:
        return "0 | – | –"
    q = dist.quantiles
    return f"{dist.n} | {dist.mean:.3f} | {q.p10:.2f} / {q.p50:.2f} / {q.p90:.2f}"


def signals_section(manifest: Manifest) -> str:
    """The section (empty when the run asked for no log probabilities)."""
    stats = manifest.chain_signals
    if stats is None:
        return ""
    logprobs = manifest.config.get("teacher", {}).get("logprobs") or {}
    unknown = ", ".join(f"{reason} ×{n}" for reason, n in stats.unknown.items()) or "none"
    lines = ["\n### Chain signals from the teacher's token probabilities\n",
             f"Every teacher chain carries `signals` (in `generations/`, the kept chain's in `sft`, both chains' in "
             f"`preference`, the problem's means in `rl`'s `extra_info`), computed from the top "
             f"{logprobs.get('top', '?')} log probabilities per token: {stats.chains} chains with signals, unknown: "
             f"{unknown}. Critical tokens: {', '.join(f'`{t}`' for t in logprobs.get('critical_tokens', []))}"
             f"{' and the first token of the answer' if logprobs.get('answer_start') else ''}; low confidence: a "
             f"sampled token below probability {logprobs.get('low_confidence', '?')}. Entropy is a lower-bound "
             "estimate from the truncated top-k (mmcot docs: Chain signals).\n",
             "| signal | correct: chains | mean | p10 / p50 / p90 | wrong: chains | mean | p10 / p50 / p90 |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {LABELS[f.name]} | {_cell(f.correct)} | {_cell(f.wrong)} |" for f in stats.figures]
    lines.append("\nCorrect and wrong are the verifier's verdicts (unverifiable chains and repairs left out); quantiles "
                 "are read off 40-bin histograms.")
    if stats.plot:
        lines.append(f"\n![chain signals]({stats.plot})")
    return "\n".join(lines)
