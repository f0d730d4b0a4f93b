"""The card's plots, drawn by a worker from the chains' figures before they go to ``_meta/chains.json``.

matplotlib with pyplot costs a process about 85 MB; drawn here, that memory is a worker's, and the launcher, which
only reads the plots' paths back from ``_meta/`` to list them in the manifest, never imports it (issue 29).
"""
from __future__ import annotations

import dataclasses

from data_cards.plots import write_length_plots
from data_cards.signals import write_signal_plot
from schemas.figures import ChainFigures


def draw_plots(figures: ChainFigures, out_dir: str) -> ChainFigures:
    """Write the length plots (and, when chains carry signals, the signals' plot) under ``out_dir``/plots/;
    ``figures`` with their paths recorded in ``plots`` and ``signals.plot``."""
    signals = figures.signals
    if signals is not None and signals.chains:
        signals = dataclasses.replace(signals, plot=write_signal_plot(out_dir, signals))
    return dataclasses.replace(figures, plots=write_length_plots(out_dir, figures), signals=signals)
