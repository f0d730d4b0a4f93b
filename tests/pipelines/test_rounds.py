"""``mmcot rounds`` on the scripted teacher backend (in-process DirectRunner): round 2 takes exactly round 1's
failures with its own plan and scorer, the cross-round summary and card add up, a finished round is not rerun,
a round whose record was lost (killed) reruns from the response cache, and the rounds file is validated."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from data_cards.card import load_manifest
from pipelines.config import ConfigError
from pipelines.rounds import SUMMARY_FILE, load_rounds, rounds_table, run_rounds
from tests.support.helpers import png_bytes
from tests.support.paths import REPO
from tests.support.shard_guard import no_shard_reads
from transforms.teachers.scripted import Reply, Rule, Script, scripted_settings

N = 8
ROUND1_RIGHT = {0, 1, 2}  # round 1 (temperature 0.5) answers these right
ROUND2_RIGHT = {3, 4, 5}  # round 2 (temperature 1.0) answers these right; 5's chains score 1, below the bar


def _problems(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    rows = []
    for i in range(N):
        (data / f"p{i}.png").write_bytes(png_bytes(size=(40 + 4 * i, 32), color=(20 * i, 100, 200 - 20 * i)))
        rows.append({"id": f"q{i}", "question": f"<image> Problem {i}: what is {i} plus {i}?", "answer": str(2 * i),
                     "answer_type": "numeric", "images": [f"p{i}.png"], "metadata": {"difficulty": 0.1 * i}})
    path = data / "problems.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def _script() -> Script:
    def solves(i: int, temperature: float):
        return lambda call: f"Problem {i}:" in call.text and call.plan.temperature == temperature

    rules = [Rule(Reply('{"score": 1, "rationale": "guessy"}'), match="Problem 5:", when=lambda c: c.plan.policy == "chain_score"),
             Rule(Reply('{"score": 4, "rationale": "clear"}'), when=lambda c: c.plan.policy == "chain_score")]
    rules += [Rule(Reply(f"{i} + {i} = {2 * i}, so \\boxed{{{2 * i}}}"), when=solves(i, 0.5)) for i in ROUND1_RIGHT]
    rules += [Rule(Reply(f"Adding, \\boxed{{{2 * i}}}"), when=solves(i, 1.0)) for i in ROUND2_RIGHT]
    return Script(rules, default=Reply("I think \\boxed{-1}"))


def _rounds_file(tmp_path: Path, script: Script) -> Path:
    teacher = scripted_settings(script, name="scripted-rounds-teacher").model_dump(mode="json")
    base = {
        "run": {"name": "rounds-test", "output_dir": "unused"},
        "source": {"kind": "jsonl", "path": str(_problems(tmp_path)), "name": "toy"},
        "dedup": {"near_text": {"enabled": False}},
        "length": {"samples": 2, "temperature": 0.5,
                   "bands": [{"name": "all", "max_difficulty": 1.0, "max_tokens": 64}]},
        "teacher": {**teacher, "cache_url": str(tmp_path / "cache")},
        "verify": {"require_reasoning": False},
        "output": {"trainers": ["verl", "llamafactory"]},
    }
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    rounds = {"base": "base.yaml", "output_dir": str(tmp_path / "out"), "rounds": [
        {"name": "r1"},
        {"name": "r2", "takes": {"round": "r1", "outcomes": ["no_correct_chain"]},
         "set": {"length.samples": 3, "length.temperature": 1.0, "scorer": {}, "select.min_chain_quality": 2,
                 "select.pairs": "score"}},
    ]}
    path = tmp_path / "rounds.yaml"
    path.write_text(yaml.safe_dump(rounds))
    return path


def _ids(out: Path, name: str, column: str = "id") -> set[str]:
    return set(pq.read_table(out / name, columns=[column])[column].to_pylist())


def test_round_two_takes_round_ones_failures_and_the_summary_adds_up(tmp_path, monkeypatch):
    script = _script()
    path = _rounds_file(tmp_path, script)
    out = tmp_path / "out"
    with no_shard_reads(monkeypatch, str(out / "r1"), str(out / "r2")) as guard:  # rescued and kept_total: workers count
        summary = run_rounds(path, [])
    assert guard.refused == []
    r1, r2 = (load_manifest(str(out / name)) for name in ("r1", "r2"))
    failed = {f"toy/q{i}" for i in range(N) if i not in ROUND1_RIGHT}
    assert r1.counts.dropped == {"select/no_correct_chain": len(failed)} and r1.counts.kept == len(ROUND1_RIGHT)
    assert _ids(out / "r2", "problems") == failed and r2.counts.read == r1.counts.dropped["select/no_correct_chain"]
    assert r2.counts.dropped == {"select/below_min_chain_quality": 1, "select/no_correct_chain": 2}
    assert _ids(out / "r2", "sft") == {"toy/q3", "toy/q4"} and r2.counts.balanced()
    assert r2.config["run"]["iteration"] == 2 and r2.config["source"]["kind"] == "mmcot"
    plans = pq.read_table(out / "r2" / "generations", columns=["sampling"])["sampling"].to_pylist()
    assert {(p["n"], p["temperature"]) for p in plans} == {(3, 1.0)}

    first, second = summary.rounds
    assert (first.read, first.kept, first.taken, first.rescued) == (N, 3, None, 0)
    assert (second.read, second.taken, second.kept, second.rescued) == (5, 5, 2, 2)
    assert second.chain_scores == {"1": 3, "4": 6} and second.preference_pairs == 0  # right chains only: no lower score
    assert summary.adds_up() and summary.kept_total == first.kept + second.kept == 5
    assert second.completion_tokens > 0 and first.chains == 2 * N and second.chains == 3 * 5
    # the scorer's 9 calls (scripted: 10 tokens each); a chain whose text a sibling already had scored is answered from
    # the cache when that call finished first (a race between identical prompts), so new plus cached tokens are 9 calls
    scorer = r2.metrics.stages["score"].counters
    assert first.helper_tokens_in == 0 and second.helper_tokens_in == scorer["tokens_in"]
    assert scorer["tokens_in"] + scorer.get("cached_tokens_in", 0) == 10 * 9
    recorded = json.loads((out / SUMMARY_FILE).read_text())
    assert [r["name"] for r in recorded["rounds"]] == ["r1", "r2"]
    card = (out / "README.md").read_text()
    assert "| r1 | sources | 8 | – | 3 | 0 |" in card and "| r2 | r1: no_correct_chain | 5 | 5 | 2 | 2 |" in card
    assert "| round | score 1 | score 4 |" in card and "| r2 | 3 | 6 |" in card
    assert "[card](r2/README.md)" in card and "chain quality ≥ 2.0" in card
    assert "adds up: yes" in rounds_table(summary)


def test_a_finished_round_is_not_rerun_and_a_killed_one_reruns_from_the_cache(tmp_path):
    script = _script()
    path = _rounds_file(tmp_path, script)
    run_rounds(path, [])
    calls = len(script.calls)
    again = run_rounds(path, [])
    assert [r.ran for r in again.rounds] == [False, False] and len(script.calls) == calls

    # a kill during round 2 leaves no record of it (rounds.json is written after a round ends) and no manifest
    out = tmp_path / "out"
    recorded = json.loads((out / SUMMARY_FILE).read_text())
    recorded["rounds"] = recorded["rounds"][:1]
    (out / SUMMARY_FILE).write_text(json.dumps(recorded))
    (out / "r2" / "manifest.json").unlink()
    resumed = run_rounds(path, [])
    r1, r2 = resumed.rounds
    assert (r1.ran, r2.ran) == (False, True) and len(script.calls) == calls  # every answer came from the cache
    assert r2.chains == r2.chains_from_cache == 15 and r2.completion_tokens == 0 and r2.kept == 2

    # a changed round 1 makes round 2 run again on its new outcomes
    rounds = yaml.safe_load(path.read_text())
    rounds["rounds"][0]["set"] = {"length.samples": 1}
    path.write_text(yaml.safe_dump(rounds))
    changed = run_rounds(path, [])
    assert [r.ran for r in changed.rounds] == [True, True] and changed.rounds[1].taken == changed.rounds[1].read == 5


@pytest.mark.parametrize("rounds, message", [
    ({"rounds": [{"name": "r1", "takes": {"round": "r0", "outcomes": ["no_correct_chain"]}}]},
     r"rounds.0.takes.round: 'r0' is not an earlier round"),
    ({"rounds": [{"name": "r1"}, {"name": "r1"}]}, r"rounds.1.name: 'r1' is used twice"),
    ({"rounds": [{"name": "r1"}, {"name": "r2", "takes": {"round": "r1", "outcomes": ["lost"]}}]},
     r"rounds.1.takes.outcomes.0"),
    ({"rounds": [{"name": "r1", "set": {"select.min_chain_quality": 3}}]},
     r"(?s)rounds.0 \(r1\).*select.min_chain_quality > 0 needs a scorer"),
    ({"rounds": [{"name": "r1", "set": {"length.samples": 0}}]}, r"(?s)rounds.0 \(r1\).*length.samples"),
    ({"rounds": [{"name": "r1", "teacher": "big"}]}, r"rounds.0.teacher: unknown key"),
])
def test_the_rounds_file_is_validated_naming_the_round_and_key(tmp_path, rounds, message):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump({"run": {"name": "b", "output_dir": "x"},
                                                        "source": {"kind": "jsonl", "path": "x.jsonl", "name": "s"}}))
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"base": "base.yaml", "output_dir": str(tmp_path / "out"), **rounds}))
    with pytest.raises(ConfigError, match=message):
        load_rounds(path)


def test_the_shipped_rounds_file_validates():
    _settings, (r1, r2) = load_rounds(REPO / "configs" / "r1v_rounds.yaml")
    assert r2.all_sources[0].kind == "mmcot" and r2.all_sources[0].path.endswith("/r1")
    assert r2.scorer is not None and r2.select.min_chain_quality == 2 and r2.length.samples != r1.length.samples
