"""Every signal persisted: the assessment, the chain score and the chain signals from token probabilities in every
output set, typed, loadable by ``datasets``, summed into the manifest and shown in the card."""
from __future__ import annotations

import dataclasses
import glob
from collections import Counter

import datasets
import pyarrow.parquet as pq
from huggingface_hub import DatasetCard

from data_cards.card import load_manifest
from schemas.plan import ASSESSMENT_TYPE
from schemas.signals import CHAIN_SIGNALS_TYPE, TOKEN_LOGPROBS_TYPE
from tests.consumers.fixture_run import SCORER, problem_chains

EXPECTED = {c.planned.problem.id: dataclasses.asdict(c.planned.assessment) for c in problem_chains()}
SCORES = {(g.problem_id, g.sample_index): g.chain_score for c in problem_chains() for g in c.generations}


def table(out, name):
    return pq.read_table(sorted(glob.glob(str(out / name / "*.parquet"))))


def _assessments(out, name):
    """(row id, assessment) per row of a set, and the Arrow type of its assessment column."""
    t = table(out, name)
    if name.startswith("rl"):
        info = t["extra_info"].combine_chunks()
        column = info.field("assessment")
        return list(zip(info.field("id").to_pylist(), column.to_pylist())), column.type
    key = "problem_id" if name == "generations" else "id"
    return list(zip(t[key].to_pylist(), t["assessment"].to_pylist())), t.schema.field("assessment").type


def test_every_set_carries_each_rows_assessment_typed(consumer_run):
    for name in ("generations", "sft", "sft_trl", "rl", "rl_trl", "preference", "preference_trl"):
        pairs, kind = _assessments(consumer_run, name)
        assert kind == ASSESSMENT_TYPE, name
        assert pairs, name
        for row_id, assessment in pairs:
            assert assessment == EXPECTED[row_id], (name, row_id)
    judged = [a for _, a in _assessments(consumer_run, "generations")[0] if a["judge_error"] is None]
    assert judged and all(a["difficulty_source"] == "judge" and a["judge_model"] == "scripted-judge"
                          and 0.0 <= a["vision_score"] <= 1.0 and a["rationale"] for a in judged)


def test_chain_scores_follow_their_chains_into_sft_and_preference(consumer_run):
    gens = table(consumer_run, "generations").to_pylist()
    assert {(g["problem_id"], g["sample_index"]): g["chain_score"] for g in gens} == SCORES
    assert {g["scorer"] for g in gens} == {SCORER, None}
    for name in ("sft", "sft_trl"):
        for row in table(consumer_run, name).to_pylist():
            scores = {s for (pid, _), s in SCORES.items() if pid == row["id"]}
            assert row["chain_score"] in scores and row["scorer"] == (None if row["chain_score"] is None else SCORER)
    sft = {r["id"]: r["chain_score"] for r in table(consumer_run, "sft").to_pylist()}
    for row in table(consumer_run, "preference").to_pylist():
        assert row["chosen_score"] == sft[row["id"]]
        assert row["rejected_score"] in {s for (pid, _), s in SCORES.items() if pid == row["id"]}


def test_datasets_loads_every_config_with_the_signals_decoded(consumer_run):
    card = DatasetCard.load(consumer_run / "README.md")
    configs = [c["config_name"] for c in card.data.to_dict()["configs"]]
    assert {"sft", "rl", "preference", "generations", "sft_trl", "rl_trl", "preference_trl"} <= set(configs)
    manifest = load_manifest(str(consumer_run))
    for name in configs:
        ds = datasets.load_dataset(str(consumer_run), name, split="train")
        assert ds.num_rows == manifest.rows[name], name
        if name in ("sft", "preference", "generations"):
            row = ds[0]
            key = row["problem_id"] if name == "generations" else row["id"]
            assert row["assessment"] == EXPECTED[key]
        if name == "rl":
            assert ds[0]["extra_info"]["assessment"] == EXPECTED[ds[0]["extra_info"]["id"]]


def test_manifest_bands_and_card_sum_the_signals(consumer_run):
    manifest = load_manifest(str(consumer_run))
    (band,) = manifest.bands  # the fixture plans every problem in one band
    signals = band.signals
    assert sum(signals.difficulty_sources.values()) == band.problems == len(EXPECTED)
    assert signals.difficulty_sources == dict(Counter(a["difficulty_source"] for a in EXPECTED.values()))
    judged = [a for a in EXPECTED.values() if a["vision_score"] is not None]
    assert signals.judged == len(judged)
    assert abs(signals.vision_score_mean - sum(a["vision_score"] for a in judged) / len(judged)) < 1e-3
    scored = [s for s in SCORES.values() if s is not None]
    assert signals.scored_chains == len(scored) == sum(signals.chain_scores.values())
    assert signals.chain_scores == {f"{k:g}": n for k, n in sorted(Counter(scored).items())}
    assert signals.scorers == [SCORER] and signals.judge_models == ["scripted-judge"]
    text = DatasetCard.load(consumer_run / "README.md").text
    assert "### Assessment and chain scores by band" in text
    assert f"| {band.name} | judge: " in text and f"| {signals.scored_chains} | {signals.chain_score_mean:.3f} |" in text


def _chain_signals():
    return {(g.problem_id, g.sample_index): dataclasses.asdict(g.signals) for c in problem_chains() for g in c.generations}


def test_every_set_carries_the_chain_signals_typed_and_datasets_loads_them(consumer_run):
    """Generations carry each chain's signals (and, with keep, its per-token data); SFT and preference rows their
    chains'; RL rows the problem's means over its chains with known signals."""
    per_chain = _chain_signals()
    gens = table(consumer_run, "generations")
    assert gens.schema.field("signals").type == CHAIN_SIGNALS_TYPE
    assert gens.schema.field("token_logprobs").type == TOKEN_LOGPROBS_TYPE
    for row in gens.to_pylist():
        assert row["signals"] == per_chain[row["problem_id"], row["sample_index"]]
        assert (row["token_logprobs"] is None) == (row["signals"]["unknown"] is not None)
    for name in ("sft", "sft_trl"):
        for row in table(consumer_run, name).to_pylist():
            assert row["signals"] in [s for (pid, _), s in per_chain.items() if pid == row["id"]]
    for name in ("preference", "preference_trl"):
        for row in table(consumer_run, name).to_pylist():
            mine = [s for (pid, _), s in per_chain.items() if pid == row["id"]]
            assert row["chosen_signals"] in mine and row["rejected_signals"] in mine
    for name in ("rl", "rl_trl"):
        for info in table(consumer_run, name)["extra_info"].to_pylist():
            known = [s for (pid, _), s in per_chain.items() if pid == info["id"] and s["unknown"] is None]
            assert info["signals"]["chains"] == len(known)
            expected = sum(s["mean_entropy"] for s in known) / len(known)
            assert abs(info["signals"]["mean_entropy"] - expected) < 1e-9
    for name in ("sft", "preference", "rl", "generations"):
        ds = datasets.load_dataset(str(consumer_run), name, split="train")
        row = ds[0]
        signals = row["extra_info"]["signals"] if name == "rl" else row.get("signals", row.get("chosen_signals"))
        assert signals["mean_entropy"] is not None and signals["mean_entropy"] >= 0, name


def test_the_manifest_and_the_card_show_the_signals_for_correct_and_wrong_chains(consumer_run):
    manifest = load_manifest(str(consumer_run))
    stats = manifest.chain_signals
    rows = table(consumer_run, "generations").to_pylist()
    correct = [r for r in rows if r["verdict"]["correct"] and r["signals"]["unknown"] is None]
    wrong = [r for r in rows if not r["verdict"]["correct"] and not r["verdict"]["unverifiable"]
             and r["signals"]["unknown"] is None]
    assert stats.unknown == {"logprobs_bad_mass": 1} and stats.chains == len(correct) + len(wrong)
    entropy = next(f for f in stats.figures if f.name == "mean_entropy")
    assert (entropy.correct.n, entropy.wrong.n) == (len(correct), len(wrong))
    assert abs(entropy.correct.mean - sum(r["signals"]["mean_entropy"] for r in correct) / len(correct)) < 1e-3
    assert (consumer_run / stats.plot).stat().st_size > 1000
    text = DatasetCard.load(consumer_run / "README.md").text
    assert "### Chain signals from the teacher's token probabilities" in text and f"({stats.plot})" in text
    assert f"| mean token entropy (nats) | {len(correct)} | {entropy.correct.mean:.3f} |" in text
    assert "unknown: logprobs_bad_mass ×1" in text and "top 3 log probabilities" in text
