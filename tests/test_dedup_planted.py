"""Planted duplicates end to end: precision and recall, the same survivors on Direct and Dask, the CLI."""
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
from transforms.normalize import NormalizeSettings
from transforms.read import SourceSettings
from transforms.synth import write_jsonl, write_parquet
from transforms.synth.duplicates import planted

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
    data = planted(150, seed=3)
    path = write_parquet(data.problems, root / "in" / "problems.parquet")
    source = SourceSettings(kind="parquet", path=str(path), name=SOURCE)
    counts = run_dedup(source, NormalizeSettings(), DedupSettings(), str(root / "direct"), [])
    group = {f"{SOURCE}/{pid}": key for pid, key in data.group.items()}
    return data, group, source, counts, root


def test_planted_duplicates_are_found_with_high_precision_and_recall(planted_run):
    data, group, _, counts, root = planted_run
    kept, dropped = _outcome(root / "direct")
    precision, recall = precision_recall(group, dropped, data.expected_drops())
    print(f"\nplanted set: {len(data.problems)} problems, {data.expected_drops()} expected drops, "
          f"{len(dropped)} dropped {dict(Counter(r for _, r, _ in dropped))}: precision {precision:.3f} recall {recall:.3f}")
    assert counts.balanced() and counts.read == len(data.problems) and counts.kept == len(kept)
    assert {r for _, r, _ in dropped} == {"duplicate", "near_duplicate"}
    assert all(survivor in kept for _, _, survivor in dropped)
    assert precision >= 0.99 and recall >= 0.95
    templates = Counter(p.question for p in data.problems if f"{SOURCE}/{p.id}" in kept)
    assert templates.most_common(1)[0][1] >= 10, "same-template near-misses must survive"


def test_dask_keeps_the_same_survivors_as_direct(planted_run):
    _, _, source, _, root = planted_run
    run_dedup(source, NormalizeSettings(), DedupSettings(), str(root / "dask"), ["--runner", "dask"])
    assert _outcome(root / "dask") == _outcome(root / "direct")


def test_cli_dedups_and_decontaminates_files_and_prints_the_summary(tmp_path, capsys):
    problems = planted(12, seed=5, duplicate_share=0.5).problems
    jsonl = write_jsonl(problems, tmp_path / "in")
    target = problems[0]
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"id": "b-1", "question": "Ignore this text entirely.", "image": str(tmp_path / "in" / f"images/{target.id}.png")}))
    config = {"run": {"name": "d", "output_dir": "unused"}, "source": {"kind": "jsonl", "path": "unused", "name": "cli"},
              "dedup": {"decontam": {"benchmarks": [{"name": "evalset", "path": str(bench), "image_column": "image"}]}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["dedup", "--input", str(jsonl), "--output", str(tmp_path / "out"), "--config", str(tmp_path / "c.yaml")]) == 0
    printed = capsys.readouterr().out
    assert f"read {len(problems)}" in printed and "dedup/contaminated" in printed
    rows = _read(tmp_path / "out", "dropped", ["row_id", "reason", "detail", "survivor_id"])
    contaminated = [r for r in rows if r["reason"] == "contaminated"]
    assert f"cli/{target.id}" in {r["row_id"] for r in contaminated}
    assert all(r["detail"].startswith("benchmark evalset item b-1") for r in contaminated)
    assert all(r["survivor_id"] for r in rows if r["reason"] != "contaminated")


def test_planted_variants_really_differ_from_their_originals():
    data = planted(40, seed=2, duplicate_share=0.5)
    by_id = {p.id: p for p in data.problems}
    variants = [p for p in data.problems if not p.id.rsplit("-", 1)[-1].isdigit()]
    assert len(variants) == 20 and data.expected_drops() >= 20
    for v in variants:
        original_id, kind = v.id.rsplit("-", 1)
        original = by_id[original_id]
        assert data.group[v.id] == data.group[original_id]
        assert (v.question != original.question) == (kind != "jpeg")
        assert (v.image.tobytes() != original.image.convert("RGB").tobytes()) == kind.endswith("jpeg")
