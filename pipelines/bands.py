"""The per-band length report, computed from the tables of ``generations/`` and ``sft/``."""
from __future__ import annotations

import dataclasses
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc

from data_cards.plots import ChainLengths
from schemas.manifest import BandStats, Quantiles, SignalStats

CHAIN_COLUMNS = ["problem_id", "completion_tokens", "finish_reason", "sampling", "difficulty", "verdict", "provenance"]
KEPT_COLUMNS = ["id", "difficulty", "completion_tokens"]
SIGNAL_COLUMNS = ["problem_id", "sampling", "assessment", "chain_score", "scorer"]
_MEANS = ("clarity", "vision_score", "text_score", "integration_score", "quality")


def chain_lengths(generations: list[pa.Table], kept_rows: list[pa.Table]) -> ChainLengths:
    """Every chain's band, difficulty, length, verdict and provenance, and every kept chain's band and length.

    ``generations`` hold :data:`CHAIN_COLUMNS` of ``generations/`` (``provenance`` may be missing: all
    chains are then the teacher's samples), ``kept_rows`` :data:`KEPT_COLUMNS` of ``sft/``. Chains whose
    length is unknown (the reply gate refused the server's count) are left out.
    """
    if not generations:
        return ChainLengths()
    gens = pa.concat_tables(generations)
    gens = gens.filter(pc.is_valid(gens["completion_tokens"]))
    kept = pa.concat_tables(kept_rows) if kept_rows else pa.table({c: [] for c in KEPT_COLUMNS})
    kept = kept.filter(pc.is_valid(kept["completion_tokens"]))
    band_of = dict(zip(gens["problem_id"].to_pylist(), pc.struct_field(gens["sampling"], "band").to_pylist()))
    kept_ids = kept["id"].to_pylist()
    unverifiable = verdict_field(gens, "unverifiable")
    return ChainLengths(
        problem_id=gens["problem_id"].to_pylist(),
        band=pc.struct_field(gens["sampling"], "band").to_pylist(),
        difficulty=gens["difficulty"].to_pylist(),
        tokens=gens["completion_tokens"].to_pylist(),
        correct=pc.fill_null(pc.struct_field(gens["verdict"], "correct"), False).to_pylist(),
        unverifiable=[False] * gens.num_rows if unverifiable is None else pc.fill_null(unverifiable, False).to_pylist(),
        truncated=pc.equal(gens["finish_reason"], "length").to_pylist(),
        repaired=(pc.equal(gens["provenance"], "repair").to_pylist() if "provenance" in gens.column_names
                  else [False] * gens.num_rows),
        kept_band=[band_of.get(i, "") for i in kept_ids],
        kept_difficulty=kept["difficulty"].to_pylist(),
        kept_tokens=kept["completion_tokens"].to_pylist(),
    )


def verdict_field(gens: pa.Table, name: str) -> pa.ChunkedArray | None:
    """One field of every chain's verdict; None when the verdicts lack it (runs written before it existed)."""
    if gens["verdict"].type.get_field_index(name) < 0:
        return None
    return pc.struct_field(gens["verdict"], name)


def _quantiles(values: list[int]) -> Quantiles:
    if not values:
        return Quantiles()
    p10, p50, p90 = pc.quantile(pa.array(values, pa.float64()), q=[0.1, 0.5, 0.9]).to_pylist()
    return Quantiles(p10=round(p10, 1), p50=round(p50, 1), p90=round(p90, 1))


def band_stats(lengths: ChainLengths) -> list[BandStats]:
    """One :class:`BandStats` per band that has chains, easiest (lowest mean difficulty) first.

    Chains, pass rate and the token quantiles of all chains count the teacher's samples; repairs are counted apart.
    The pass rate leaves unverifiable chains out (neither right nor wrong), and problems with no decided chain.
    """
    if not lengths.tokens:
        return []
    unverifiable = lengths.unverifiable or [False] * len(lengths.correct)
    correct = [None if u else float(c) for c, u in zip(lengths.correct, unverifiable)]
    every = pa.table({"problem_id": lengths.problem_id, "band": lengths.band, "difficulty": lengths.difficulty,
                      "tokens": lengths.tokens, "correct": pa.array(correct, pa.float64()),
                      "truncated": lengths.truncated, "repaired": lengths.repaired})
    chains = every.filter(pc.invert(every["repaired"]))
    per_problem = chains.group_by(["band", "problem_id"]).aggregate([("correct", "mean"), ("difficulty", "mean")])
    stats = []
    for name in sorted(set(lengths.band)):
        band_chains = chains.filter(pc.equal(chains["band"], name))
        problems = per_problem.filter(pc.equal(per_problem["band"], name))
        kept_tokens = [t for b, t in zip(lengths.kept_band, lengths.kept_tokens) if b == name]
        stats.append(BandStats(
            name=name,
            problems=problems.num_rows,
            chains=band_chains.num_rows,
            correct_chains=int(pc.sum(band_chains["correct"]).as_py() or 0),
            truncated_chains=int(pc.sum(band_chains["truncated"]).as_py() or 0),
            repaired_chains=every.filter(pc.and_(pc.equal(every["band"], name), every["repaired"])).num_rows,
            pass_rate=round(pc.mean(problems["correct_mean"]).as_py() or 0.0, 4),
            kept=len(kept_tokens),
            difficulty_mean=round(pc.mean(problems["difficulty_mean"]).as_py(), 4),
            tokens_all=_quantiles(band_chains["tokens"].to_pylist()),
            tokens_kept=_quantiles(kept_tokens),
        ))
    return sorted(stats, key=lambda b: b.difficulty_mean)


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def signal_stats(generations: list[pa.Table]) -> dict[str, SignalStats]:
    """band → the :class:`SignalStats` of its problems and chains (``generations`` hold :data:`SIGNAL_COLUMNS`;
    a run written before the assessment or the chain score was persisted lacks them: its figures stay empty)."""
    problems: dict[str, dict[str, dict]] = {}
    chain_scores: dict[str, list[float]] = {}
    scorers: dict[str, set[str]] = {}
    for table in generations:
        band = pc.struct_field(table["sampling"], "band").to_pylist()
        assessment = table["assessment"].to_pylist() if "assessment" in table.column_names else [None] * table.num_rows
        score = table["chain_score"].to_pylist() if "chain_score" in table.column_names else [None] * table.num_rows
        scorer = table["scorer"].to_pylist() if "scorer" in table.column_names else [None] * table.num_rows
        for pid, b, a, sc, who in zip(table["problem_id"].to_pylist(), band, assessment, score, scorer):
            if a is not None:
                problems.setdefault(b, {})[pid] = a
            if sc is not None:
                chain_scores.setdefault(b, []).append(sc)
                scorers.setdefault(b, set()).add(who or "")
    stats = {}
    for b in set(problems) | set(chain_scores):
        assessed = list(problems.get(b, {}).values())
        scores = chain_scores.get(b, [])
        stats[b] = SignalStats(
            difficulty_sources=dict(sorted(Counter(a["difficulty_source"] for a in assessed).items())),
            judged=sum(a["vision_score"] is not None for a in assessed),
            **{f"{name}_mean": _mean([a[name] for a in assessed if a[name] is not None]) for name in _MEANS},
            judge_models=sorted({a["judge_model"] for a in assessed if a["judge_model"]}),
            scored_chains=len(scores),
            chain_score_mean=_mean(scores),
            chain_scores={f"{k:g}": n for k, n in sorted(Counter(scores).items())},
            scorers=sorted(scorers.get(b, set())),
        )
    return stats


def with_signals(bands: list[BandStats], signals: dict[str, SignalStats]) -> list[BandStats]:
    """``bands`` each carrying its band's signals."""
    return [dataclasses.replace(b, signals=signals.get(b.name, SignalStats())) for b in bands]
