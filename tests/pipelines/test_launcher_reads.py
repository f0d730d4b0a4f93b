"""The launcher never opens a data shard: a whole run (scripted teacher, DirectRunner), a round that reads it back,
``mmcot card``, ``mmcot view`` (file and server) and ``mmcot publish`` under a guard that fails any read of a shard
outside a Beam worker (``tests/support/shard_guard.py``)."""
from __future__ import annotations

import json
import urllib.request

import pytest

from data_cards.report.serve import ReportServer
from pipelines.cli import main
from pipelines.config import parse_config
from pipelines.run import run_pipeline
from tests.support.shard_guard import ShardRead, no_shard_reads
from transforms.synth import generate, write_jsonl
from transforms.teachers.scripted import Reply, Rule, Script, scripted_settings

N = 10


def _config(out, source: dict, model: str, cache) -> object:
    return parse_config({
        "run": {"name": "guarded", "output_dir": str(out)},
        "source": source,
        "length": {"samples": 2, "bands": [{"name": "easy", "max_difficulty": 0.5, "max_tokens": 64},
                                           {"name": "hard", "max_difficulty": 1.0, "max_tokens": 96}]},
        "teacher": {"backend": "scripted", "model": model, "cache_url": str(cache)},
        "verify": {"require_reasoning": False},
        "output": {"shards": {"sft": 2, "generations": 2, "rl": 2}, "sample_problems": 4},
    })


def _reply(answer: str) -> Reply:
    return Reply(f"<think>I count what the picture shows.</think> The answer is \\boxed{{{answer}}}.")


def test_no_launcher_code_path_reads_a_data_shard(tmp_path, monkeypatch, capsys):
    problems = list(generate(N, seed=7))
    rules = [Rule(_reply(p.answer), match=p.caption, sample=0) for p in problems[::2]]
    model = scripted_settings(Script(rules, default=_reply("not what it shows"))).model
    jsonl = write_jsonl(problems, tmp_path / "data")
    first, second = tmp_path / "r1", tmp_path / "r2"
    with no_shard_reads(monkeypatch, str(first), str(second)) as guard:
        manifest = run_pipeline(_config(first, {"kind": "jsonl", "path": str(jsonl), "name": "synth"}, model,
                                        tmp_path / "cache"), ["--runner", "direct"], command="pytest")
        assert manifest.counts.balanced() and manifest.counts.kept and manifest.counts.dropped
        assert main(["card", str(first), "--repo-id", "me/guarded"]) == 0
        assert main(["view", str(first)]) == 0
        with ReportServer(str(first)) as server, urllib.request.urlopen(
                server.url + "api/problems?limit=2&offset=1", timeout=10) as resp:
            page = json.loads(resp.read())
        sampled = json.loads((first / "_meta/sample.json").read_text())["problems"]
        assert 4 <= page["total"] == sampled < N and len(page["problems"]) == 2  # 4 lowest hashes + a first per set
        assert main(["publish", str(first), "--repo-id", "me/guarded", "--dry-run"]) == 0
        source = {"kind": "mmcot", "path": str(first), "name": "r1", "take": {"outcomes": ["no_correct_chain", "kept"]}}
        again = run_pipeline(_config(second, source, model, tmp_path / "cache"), ["--runner", "direct"], command="pytest")
        assert again.counts.read == manifest.counts.kept + manifest.counts.dropped["select/no_correct_chain"]
    assert guard.refused == []
    capsys.readouterr()

    with no_shard_reads(monkeypatch, str(first)) as guard, pytest.raises(ShardRead):  # the guard does catch a read
        main(["publish", str(first), "--repo-id", "me/guarded", "--dry-run", "--verify-hashes"])
    assert len(guard.refused) == 1 and "r1/" in guard.refused[0]
