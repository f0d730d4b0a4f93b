"""The run figures' combiners against plain recomputations: bands, quantile error bound, the row sample's hashes, the funnel.

Each combiner is fed in random partitions merged in random order, as workers would run it.
"""
from __future__ import annotations

import math
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.figures import QUANTILE_POINTS
from schemas.manifest import SourceCounts
from schemas.plan import Assessment
from transforms.figures.bands import EPSILON, BandCombineFn, ProblemBand
from transforms.figures.chains import ChainFact, problem_bands
from transforms.figures.funnel import DEAD, DROPPED, KEPT, READ, SAMPLED_OUT, funnel_figures
from transforms.figures.sample import LowestHashes
from transforms.shards import stable_hash


def combine(fn, inputs: list, rng: random.Random):
    """``fn`` over ``inputs`` cut into random partitions, the accumulators merged in random groups and order."""
    items = list(inputs)
    rng.shuffle(items)
    cuts = sorted(rng.sample(range(len(items) + 1), min(3, len(items) + 1)))
    accs = []
    for lo, hi in zip([0, *cuts], [*cuts, len(items)]):
        acc = fn.create_accumulator()
        for item in items[lo:hi]:
            acc = fn.add_input(acc, item)
        accs.append(acc)
    while len(accs) > 1:
        rng.shuffle(accs)
        accs = [fn.merge_accumulators(accs[:2]), *accs[2:]]
    return fn.extract_output(accs[0])


def nearest_rank(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)), 1) - 1]


assessments = st.one_of(st.none(), st.builds(
    Assessment, problem_id=st.just("p"), difficulty=st.floats(0, 1), difficulty_source=st.sampled_from(["metadata", "judge"]),
    vision_score=st.one_of(st.none(), st.floats(0, 1)), quality=st.one_of(st.none(), st.floats(1, 5)),
    judge_model=st.one_of(st.none(), st.just("judge-x"))))
chain = st.builds(ChainFact, band=st.sampled_from(["easy", "hard"]), sample_index=st.integers(0, 5),
                  difficulty=st.floats(0, 1), tokens=st.integers(1, 400), correct=st.one_of(st.none(), st.booleans()),
                  truncated=st.booleans(), repaired=st.booleans(), assessment=assessments,
                  chain_score=st.one_of(st.none(), st.sampled_from([0.0, 2.0, 5.0])), scorer=st.just("scorer-x"))
problems = st.dictionaries(st.text("abcdef", min_size=1, max_size=4), st.tuples(
    st.lists(chain, min_size=1, max_size=5), st.one_of(st.none(), st.integers(1, 400))), max_size=12)


@settings(max_examples=150, deadline=None)
@given(problems, st.randoms(use_true_random=False))
def test_band_figures_match_a_plain_recomputation_in_any_partition_and_merge_order(runs, rng):
    facts = [fact for pid, (chains, kept) in runs.items()
             for fact in problem_bands((pid, {"chains": chains, "kept": [] if kept is None else [(0.5, kept)]}))]
    bands = {}
    for band in {b for b, _ in facts}:
        bands[band], _ = combine(BandCombineFn(), [f for b, f in facts if b == band], rng)
    for band, stats in bands.items():
        per_problem = {pid: [c for c in chains if c.band == band and not c.repaired] for pid, (chains, _) in runs.items()}
        per_problem = {pid: cs for pid, cs in per_problem.items() if cs}
        samples = [c for cs in per_problem.values() for c in cs]
        decided = [[c.correct for c in cs if c.correct is not None] for cs in per_problem.values()]
        decided = [d for d in decided if d]
        kept = [k for pid, (chains, k) in runs.items() if k is not None
                and max(chains, key=lambda c: (not c.repaired, c.sample_index)).band == band]
        assert (stats.problems, stats.chains) == (len(per_problem), len(samples))
        assert stats.correct_chains == sum(bool(c.correct) for c in samples)
        assert stats.truncated_chains == sum(c.truncated for c in samples)
        assert stats.repaired_chains == sum(c.band == band and c.repaired for cs, _ in runs.values() for c in cs)
        assert stats.pass_rate == pytest.approx(round(sum(sum(d) / len(d) for d in decided) / len(decided), 4) if decided else 0.0)
        if per_problem:
            mean = sum(sum(c.difficulty for c in cs) / len(cs) for cs in per_problem.values()) / len(per_problem)
            assert stats.difficulty_mean == pytest.approx(round(mean, 4), abs=1e-4)
        assert stats.kept == len(kept)
        tokens = [c.tokens for c in samples]
        for value, q in ((stats.tokens_all.p10, 0.1), (stats.tokens_all.p50, 0.5), (stats.tokens_all.p90, 0.9)):
            assert value == (nearest_rank(tokens, q) if tokens else None)  # exact below the sketch's buffer size
        if kept:
            assert stats.tokens_kept.p50 == nearest_rank(kept, 0.5)
        scores = [c.chain_score for cs, _ in runs.values() for c in cs if c.band == band and c.chain_score is not None]
        assert stats.signals.scored_chains == len(scores)
        assert stats.signals.chain_scores == {f"{s:g}": n for s, n in sorted(Counter(scores).items())}


@pytest.mark.parametrize("draw", [
    lambda rng: rng.randint(0, 32768),                      # uniform lengths
    lambda rng: int(rng.lognormvariate(6, 1.2)),            # a long tail
    lambda rng: rng.choice([64, 64, 64, 512, 4096]),        # heavy ties (truncated at max_tokens)
])
def test_token_quantiles_stay_within_the_stated_rank_error_on_large_bands(draw):
    rng = random.Random(7)
    lists = [[draw(rng) for _ in range(rng.randint(1, 8))] for _ in range(40_000)]
    facts = [ProblemBand(samples=len(t), decided=0, difficulty_sum=0.5 * len(t), tokens=t) for t in lists]
    stats, lengths = combine(BandCombineFn(), facts, rng)
    values = sorted(v for t in lists for v in t)
    n = len(values)
    assert n > 100_000 and len(lengths.sampled) == QUANTILE_POINTS
    for value, q in ((stats.tokens_all.p10, 0.1), (stats.tokens_all.p50, 0.5), (stats.tokens_all.p90, 0.9)):
        below, at_most = sum(v < value for v in values), sum(v <= value for v in values)
        assert below <= q * n + EPSILON * n and at_most >= q * n - EPSILON * n, (q, value)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=6), max_size=60), st.integers(1, 10), st.randoms(use_true_random=False))
def test_lowest_hashes_keep_every_row_of_the_k_lowest_distinct_keys(keys, k, rng):
    pairs = [(stable_hash(key), key) for key in keys]
    result = combine(LowestHashes(k), pairs, rng)
    lowest = sorted({stable_hash(key) for key in keys})[:k]
    assert [h for h, _ in result] == lowest
    for h, items in result:
        assert sorted(items) == sorted(key for key in keys if stable_hash(key) == h)  # a problem's rows come together


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", ""]), st.sampled_from([READ, SAMPLED_OUT, KEPT, DROPPED, DEAD]),
                          st.sampled_from(["dedup/duplicate", "select/no_correct_chain"]), st.integers(0, 50)),
                max_size=40))
def test_the_funnel_sums_each_source_and_the_run(totals):
    merged = Counter()
    for source, kind, reason, n in totals:
        merged[(source, kind, reason if kind in (DROPPED, DEAD) else "")] += n
    counts = funnel_figures(list(merged.items())).counts()
    for source in {s for s, *_ in totals}:
        expected = SourceCounts(
            read=merged[(source, READ, "")], kept=merged[(source, KEPT, "")], sampled_out=merged[(source, SAMPLED_OUT, "")],
            dropped={r: n for (s, kind, r), n in merged.items() if s == source and kind == DROPPED},
            dead_lettered={r: n for (s, kind, r), n in merged.items() if s == source and kind == DEAD})
        assert counts.by_source[source] == expected
    assert counts.read == sum(n for (_, kind, _), n in merged.items() if kind == READ)
    assert sum(counts.dropped.values()) == sum(n for (_, kind, _), n in merged.items() if kind == DROPPED)
