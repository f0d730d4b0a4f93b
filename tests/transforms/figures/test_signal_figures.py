"""The card's chain-signal figures (transforms/figures/signals.py): a Beam CombineFn whose result does not depend on how
the chains are split across workers, whose quantiles are within a bin of the exact ones, and which runs in a
pipeline as it runs over a finished run's tables."""
from __future__ import annotations

import itertools
import math
import statistics

import apache_beam as beam
import pyarrow as pa
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from data_cards.signals import signals_section
from schemas.generation import VERDICT_TYPE
from schemas.manifest import Manifest
from schemas.signals import CHAIN_SIGNALS_TYPE, SIGNAL_NAMES
from transforms.figures.signals import BINS, SignalFiguresFn, chain_inputs, signal_figures

signals = st.one_of(
    st.fixed_dictionaries({"mean_entropy": st.floats(0, 6), "critical_entropy": st.one_of(st.none(), st.floats(0, 6)),
                           "answer_logprob": st.one_of(st.none(), st.floats(-12, 0)),
                           "low_confidence_share": st.floats(0, 1), "unknown": st.none()}),
    st.fixed_dictionaries({"unknown": st.sampled_from(["logprobs_missing", "logprobs_bad_mass"])}))
chains = st.lists(st.tuples(st.sampled_from(["correct", "wrong"]), signals), max_size=60)


def _combine(fn: SignalFiguresFn, items) -> dict:
    acc = fn.create_accumulator()
    for item in items:
        acc = fn.add_input(acc, item)
    return acc


@settings(max_examples=100, deadline=None)
@given(chains, st.lists(st.integers(0, 60), max_size=4))
def test_the_figures_do_not_depend_on_how_the_chains_are_split(items, cuts):
    fn = SignalFiguresFn()
    bounds = sorted({0, len(items), *(min(c, len(items)) for c in cuts)})
    parts = [_combine(fn, items[a:b]) for a, b in itertools.pairwise(bounds)]
    whole = fn.extract_output(_combine(fn, items))
    merged = fn.extract_output(fn.merge_accumulators(parts))
    for a, b in zip(whole.figures, merged.figures, strict=True):
        assert (a.correct.counts, a.wrong.counts, a.correct.n) == (b.correct.counts, b.wrong.counts, b.correct.n)
        assert a.correct.mean == b.correct.mean or math.isclose(a.correct.mean, b.correct.mean, abs_tol=1e-3)
    assert (whole.chains, whole.unknown) == (merged.chains, merged.unknown)
    assert whole.chains + sum(whole.unknown.values()) == len(items)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 4), min_size=5, max_size=80))
def test_quantiles_are_within_a_bin_of_the_exact_ones(values):
    fn = SignalFiguresFn()
    items = [("correct", {"mean_entropy": v}) for v in values]
    figure = fn.extract_output(_combine(fn, items)).figures[SIGNAL_NAMES.index("mean_entropy")]
    low, high, n = BINS["mean_entropy"]
    width = (high - low) / n
    ordered = sorted(values)
    for q, got in ((0.1, figure.correct.quantiles.p10), (0.5, figure.correct.quantiles.p50),
                   (0.9, figure.correct.quantiles.p90)):
        exact = ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]
        assert abs(got - exact) <= width + 1e-9
    assert math.isclose(figure.correct.mean, statistics.fmean(values), abs_tol=1e-4) and figure.wrong.n == 0


def _table(rows) -> pa.Table:
    return pa.table({"signals": pa.array([r[0] for r in rows], CHAIN_SIGNALS_TYPE),
                     "verdict": pa.array([r[1] for r in rows], VERDICT_TYPE),
                     "provenance": [r[2] for r in rows]})


def _verdict(correct: bool, unverifiable: bool = False) -> dict:
    return {"correct": correct, "unverifiable": unverifiable, "reasons": [] if correct else ["wrong_answer"]}


ROWS = [({"mean_entropy": 0.4, "critical_entropy": 0.2, "answer_logprob": -0.1}, _verdict(True), "teacher"),
        ({"mean_entropy": 1.6, "critical_entropy": 2.2, "answer_logprob": -2.0}, _verdict(False), "teacher"),
        ({"mean_entropy": 9.0}, _verdict(False, unverifiable=True), "teacher"),  # left out: neither right nor wrong
        ({"mean_entropy": 9.0}, _verdict(True), "repair"),  # left out: a repair
        ({"unknown": "logprobs_missing"}, _verdict(True), "teacher"),
        (None, _verdict(False), "teacher")]  # no signals asked for


def test_a_runs_tables_and_a_pipeline_give_the_same_figures():
    stats = signal_figures([_table(ROWS)])
    assert stats.chains == 2 and stats.unknown == {"logprobs_missing": 1}
    critical = stats.figures[SIGNAL_NAMES.index("critical_entropy")]
    assert (critical.correct.n, critical.wrong.n, critical.correct.mean, critical.wrong.mean) == (1, 1, 0.2, 2.2)
    with TestPipeline() as p:
        out = (p | beam.Create(list(chain_inputs(_table(ROWS)))) | beam.CombineGlobally(SignalFiguresFn())
               | beam.Map(lambda s: (s.chains, s.unknown, [f.correct.counts for f in s.figures])))
        assert_that(out, equal_to([(stats.chains, stats.unknown, [f.correct.counts for f in stats.figures])]))


def test_without_signals_there_are_no_figures_and_no_card_section():
    assert signal_figures([_table(ROWS[-1:])]) is None
    assert signal_figures([pa.table({"verdict": pa.array([_verdict(True)], VERDICT_TYPE)})]) is None  # an older run
    manifest = Manifest("r", "t", "c", "h", {}, {}, None, {}, {}, [], 0.0)
    assert signals_section(manifest) == ""


def test_the_workers_chain_figures_carry_the_same_signal_figures_as_the_tables():
    """ComputeChainFigures (what the workers write to _meta/chains.json, the manifest's only source) gives the figures
    the combiner gives over the same chains read back as a table; a run without signals gets none."""
    import dataclasses

    from schemas.convert import to_table
    from schemas.derive import arrow_schema
    from schemas.figures import ChainFigures, dumps, loads
    from schemas.generation import Generation
    from schemas.signals import ChainSignals
    from tests.support.factories import generation
    from transforms.figures import ComputeChainFigures

    made = [ChainSignals(tokens=9, mean_entropy=0.4, critical_tokens=2, critical_entropy=0.2, answer_tokens=1,
                         answer_logprob=-0.3, low_confidence_share=0.1),
            ChainSignals(tokens=9, mean_entropy=1.6, critical_tokens=1, critical_entropy=2.2, answer_tokens=1,
                         answer_logprob=-2.0, low_confidence_share=0.5),
            ChainSignals(unknown="logprobs_missing")]
    gens = [dataclasses.replace(generation(i, correct=i != 1, tokens=50 + i, pid=f"s/{i}"), signals=s)
            for i, s in enumerate(made)]
    expected = signal_figures([to_table(gens, arrow_schema(Generation))])

    def check(chains, want):
        with TestPipeline() as p:
            out = ({"generations": p | "Gens" >> beam.Create(chains), "kept": p | "Kept" >> beam.Create([])}
                   | ComputeChainFigures() | beam.Map(lambda f: loads(ChainFigures, dumps(f)).signals))
            assert_that(out, equal_to([want]))

    assert expected.chains == 2 and expected.unknown == {"logprobs_missing": 1}
    check(gens, expected)
    check([dataclasses.replace(g, signals=None) for g in gens], None)


def test_the_worker_draws_the_signal_plot_and_records_its_path(tmp_path):
    """draw_plots (the worker step before _meta/chains.json is written) writes the length plots and, when chains carry
    signals, the signals' plot, and records each path in the figures the manifest is built from; without chains it
    draws nothing."""
    import dataclasses

    from data_cards.signals import PLOT
    from schemas.convert import to_table
    from schemas.derive import arrow_schema
    from schemas.figures import ChainFigures
    from schemas.generation import Generation
    from schemas.signals import ChainSignals
    from tests.support.factories import generation
    from transforms.figures.plots import draw_plots

    signals = ChainSignals(tokens=9, mean_entropy=0.4, critical_tokens=2, critical_entropy=0.2, answer_tokens=1,
                           answer_logprob=-0.3, low_confidence_share=0.1)
    gens = [dataclasses.replace(generation(i, correct=i % 2 == 0, tokens=50 + i, pid=f"s/{i}"), signals=signals)
            for i in range(4)]
    figures = ChainFigures(chains=4, signals=signal_figures([to_table(gens, arrow_schema(Generation))]))
    drawn = draw_plots(figures, str(tmp_path))
    assert drawn.signals.plot == PLOT and (tmp_path / PLOT).read_bytes().startswith(b"\x89PNG")
    assert drawn.plots and all((tmp_path / p).read_bytes().startswith(b"\x89PNG") for p in drawn.plots)
    assert figures.plots == [] and figures.signals.plot is None  # the input element is left as it came
    empty = draw_plots(ChainFigures(), str(tmp_path / "none"))
    assert empty.plots == [] and empty.signals is None and not (tmp_path / "none").exists()
