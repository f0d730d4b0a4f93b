"""Planted duplicates end to end: precision and recall, the same survivors on Direct and Dask, the CLI.

The planted set (``transforms/synth/duplicates.py``) mixes disguised copies (any combination of
case, spacing, rewording, punctuation, equal-valued numbers, shuffled options, resized JPEG
pictures) with templated siblings over one shared picture whose answers coincide.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from pipelines.cli import main
from pipelines.dedup_run import run_dedup
from schemas.output_sets import PROBLEMS
from transforms.dedup import DedupSettings
from transforms.dedup.near import GUARDS
from transforms.normalize import NormalizeSettings
from transforms.sources import SourceSettings
from transforms.synth import write_jsonl, write_parquet
from transforms.synth.duplicates import DISGUISES, planted

SOURCE = "p"


def _read(out: Path, name: str, columns: list[str]) -> list[dict]:
    return [row for f in sorted((out / name).glob("*.parquet")) for row in pq.read_table(f, columns=columns).to_pylist()]


def _outcome(out: Path) -> tuple[set[str], set[tuple[str, str, str]]]:
    kept = {r["id"] for r in _read(out, PROBLEMS.name, ["id"])}
    dropped = {(r["row_id"], r["reason"], r["survivor_id"]) for r in _read(out, "dropped", ["row_id", "reason", "survivor_id"])}
    return kept, dropped


def precision_recall(group: dict[str, str], dropped: set[tuple[str, str, str]], expected: int) -> tuple[float, float]:
    """A drop is right when the survivor it names has the same content; recall over the drops the groups call for."""
    right = sum(group[row] == group[survivor] for row, _, survivor in dropped)
    return right / max(len(dropped), 1), right / expected


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    data = planted(170, seed=3)
    path = write_parquet(data.problems, root / "in" / "problems.parquet")
    source = SourceSettings(kind="parquet", path=str(path), name=SOURCE)
    counts = run_dedup([source], NormalizeSettings(), DedupSettings(), str(root / "direct"), [])
    group = {f"{SOURCE}/{pid}": key for pid, key in data.group.items()}
    return data, group, source, counts, root


def _assert_scores(data, group, kept, dropped, runner):
    precision, recall = precision_recall(group, dropped, data.expected_drops())
    print(f"\n{runner}: {len(data.problems)} problems, {data.expected_drops()} expected drops, "
          f"{len(dropped)} dropped {dict(Counter(r for _, r, _ in dropped))}: precision {precision:.3f} recall {recall:.3f}")
    assert {r for _, r, _ in dropped} == {"duplicate", "near_duplicate"}
    assert all(survivor in kept for _, _, survivor in dropped)
    assert precision >= 0.99 and recall >= 0.95


def test_planted_duplicates_are_found_with_high_precision_and_recall(planted_run):
    data, group, _, counts, root = planted_run
    kept, dropped = _outcome(root / "direct")
    assert counts.balanced() and counts.read == len(data.problems) and counts.kept == len(kept)
    _assert_scores(data, group, kept, dropped, "direct")
    siblings = Counter((p.params["picture"], p.answer) for p in data.problems if f"{SOURCE}/{p.id}" in kept and "picture" in p.params)
    assert siblings.most_common(1)[0][1] >= 3, "templated siblings with one picture and one answer must survive"
    guards = counts.guards
    assert all(guards[f"blocked_pairs_{g}"] > 0 and guards[f"saved_{g}"] > 0 for g in GUARDS), guards


def test_without_the_guards_coinciding_answers_merge_templated_siblings(planted_run):
    data, group, source, _, root = planted_run
    off = DedupSettings(near_text={"same_quantities": "off", "same_options": False, "same_terms": False})
    counts = run_dedup([source], NormalizeSettings(), off, str(root / "unguarded"), [])
    precision, _ = precision_recall(group, _outcome(root / "unguarded")[1], data.expected_drops())
    assert precision < 0.9 and counts.guards["blocked_pairs_quantities"] == 0


@pytest.mark.integration
def test_dask_keeps_the_same_survivors_as_direct(planted_run):
    data, group, source, _, root = planted_run
    counts = run_dedup([source], NormalizeSettings(), DedupSettings(), str(root / "dask"), ["--runner", "dask"])
    kept, dropped = _outcome(root / "dask")
    assert counts.balanced() and counts.guards is None
    _assert_scores(data, group, kept, dropped, "dask")
    assert (kept, dropped) == _outcome(root / "direct")


def test_cli_dedups_and_decontaminates_files_and_prints_the_summary(tmp_path, capsys):
    problems = planted(12, seed=5, duplicate_share=0.5).problems
    jsonl = write_jsonl(problems, tmp_path / "in")
    target = problems[0]
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"id": "b-1", "question": "Ignore this text entirely.",
                                 "image": str(tmp_path / "in" / f"images/{target.id}.png")}))
    config = {"run": {"name": "d", "output_dir": "unused"}, "source": {"kind": "jsonl", "path": "unused", "name": "cli"},
              "dedup": {"decontam": {"benchmarks": [{"name": "evalset", "path": str(bench), "image_column": "image"}]}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["dedup", "--input", str(jsonl), "--output", str(tmp_path / "out"), "--config", str(tmp_path / "c.yaml")]) == 0
    printed = capsys.readouterr().out
    assert f"read {len(problems)}" in printed and "dedup/contaminated" in printed
    assert "near-duplicate guards (pairs blocked / problems saved): quantities " in printed
    rows = _read(tmp_path / "out", "dropped", ["row_id", "reason", "detail", "survivor_id"])
    contaminated = [r for r in rows if r["reason"] == "contaminated"]
    assert f"cli/{target.id}" in {r["row_id"] for r in contaminated}
    assert all(r["detail"].startswith("benchmark evalset item b-1") for r in contaminated)
    assert all(r["survivor_id"] for r in rows if r["reason"] != "contaminated")


def test_planted_copies_combine_every_disguise_and_really_differ():
    data = planted(60, seed=2, duplicate_share=0.6)
    by_id = {p.id: p for p in data.problems}
    assert set().union(*data.disguises.values()) == set(DISGUISES)
    assert sum(len(kinds) >= 3 for kinds in data.disguises.values()) >= 5
    for copy_id, kinds in data.disguises.items():
        copy, original = by_id[copy_id], by_id[copy_id.rsplit("-", 1)[0]]
        assert data.group[copy_id] == data.group[original.id]
        if "image" in kinds:
            assert copy.image.size != original.image.size or copy.image.tobytes() != original.image.convert("RGB").tobytes()
        if "options" in kinds:
            assert sorted(c.lower() for c in copy.choices) == sorted(c.lower() for c in original.choices)
            assert copy.choices[ord(copy.answer) - 65].lower() == original.choices[ord(original.answer) - 65].lower()
        assert (copy.question != original.question) or set(kinds) <= {"image", "options", "renumber"}
    templated = [p for p in data.problems if p.family.startswith("template_") and p.id not in data.disguises]
    same_answer = Counter((p.params["picture"], p.answer) for p in templated)
    distinct = {(p.params["picture"], p.answer): set() for p in templated}
    for p in templated:
        distinct[(p.params["picture"], p.answer)].add(data.group[p.id])
    assert sum(len(groups) > 1 for groups in distinct.values()) >= 5, "siblings over one picture share an answer"
    assert max(same_answer.values()) >= 3
