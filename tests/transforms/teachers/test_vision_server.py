"""The image path against the real vLLM server, on the plumbing vision teacher (one server for the module).

The server is started by the embedded-model code with ``limit_mm_per_prompt`` set to the most
images the fitting problems have, a small context, and a probe that records what the model's image
processor receives. Each image is one flat colour at its own size, so the probe tells which image
came when: the images must arrive in marker order, the prompt the server built (``return_token_ids``)
must hold one image block at each marker, and every prompt-token count the server reports must equal
the budget's (images included). Problems over the image limit or the context are dead-lettered by
the budget and never sent; the judge, the repair and the scorer send the images, the answer judge
only text. The model's answers are nonsense (untrained vision tower): nothing here asserts their content.
"""
from __future__ import annotations

import collections
import dataclasses
import os

import apache_beam as beam
import httpx
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline

from pipelines.endpoints import started_server_limits
from pipelines.vision_teacher import IMAGE_SEQ_LEN, VISION_MODEL_NAME
from pipelines.vllm_server import embedded_server
from schemas.generation import ProblemChains
from schemas.plan import Assessment
from tests.support.factories import generation
from tests.support.vision_cases import (
    PROBE_DIR,
    SMALL_PLAN,
    fingerprints,
    image_problem,
    planned_small,
    probed,
    with_blocks,
)
from transforms.answer_judge import AnswerJudge, AnswerJudgeSettings, answer_messages
from transforms.chain_score import ScoreChains, ScorerSettings, score_messages
from transforms.generate import GenerateChains
from transforms.judge import Judge, JudgeSettings, judge_messages
from transforms.repair import RepairChains, RepairSettings, repair_messages
from transforms.tags import DEAD_LETTER
from transforms.teacher_calls import Prompt
from transforms.teachers.budget import PromptBudget, image_side
from transforms.teachers.messages import build_messages
from transforms.teachers.openai_http import chat_body
from transforms.teachers.registry import Endpoint
from transforms.teachers.settings import TeacherSettings
from transforms.verifiers.config import VerifyConfig

pytestmark = pytest.mark.integration

CONTEXT = 1024
FITTING = {
    "v/one": (["How many dots are in", "?"], [(320, 240)]),
    "v/two": (["Compare", "with", ": which has more dots?"], [(200, 300), (330, 330)]),
    "v/three": (["First", "then", "and last", ": how many in all?"], [(100, 60), (512, 512), (900, 300)]),
}
MOST_IMAGES = max(len(sizes) for _, sizes in FITTING.values())  # the server's limit_mm_per_prompt
_SEEN: dict[str, list] = {}


def _keep(item, label: str) -> None:
    _SEEN.setdefault(label, []).append(item)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(server, probe log): the plumbing vision teacher served by the embedded-model code, probed."""
    probe = tmp_path_factory.mktemp("probe") / "processor.jsonl"
    probe.touch()
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(PROBE_DIR), os.environ.get("PYTHONPATH")])),
           "MMCOT_PROBE_LOG": str(probe)}
    server = embedded_server(VISION_MODEL_NAME, max_images=MOST_IMAGES, max_model_len=CONTEXT, env=env,
                             die_with_parent=True, log_path=tmp_path_factory.mktemp("vllm") / "vision-server.log")
    server.start(timeout=float(os.environ.get("MMCOT_TEST_SERVER_TIMEOUT", "900")))
    try:
        yield server, probe
    finally:
        server.stop()


def _settings(server, tmp_path) -> TeacherSettings:
    """The vision endpoint as the launcher completes it for a server it started."""
    settings = TeacherSettings(base_url=server.base_url, model=VISION_MODEL_NAME, modality="vision",
                               cache_url=str(tmp_path / "cache"))
    return settings.model_copy(update={"limits": started_server_limits(settings.limits, server)})


def _problem(pid: str, tag: str):
    """The fitting problem ``pid`` with pixels of its own for the check ``tag`` (the server caches processed images)."""
    return image_problem(f"{pid}-{tag}", *FITTING[pid])


_BUDGETS: dict[str, PromptBudget] = {}


def _count(settings: TeacherSettings, messages, problem) -> int:
    """The budget's prompt tokens for ``messages`` as sent (images at the size they are sent)."""
    side = image_side(settings.image_max_side, settings.limits.processor_path)
    key = settings.limits.model_dump_json()
    if key not in _BUDGETS:
        _BUDGETS[key] = PromptBudget(settings.limits)
    return _BUDGETS[key].prompt_tokens(messages, Prompt(messages, problem).image_sizes(side))


def _run(p: TestPipeline, namespace: str, **outputs):
    """Run ``p`` keeping each labelled PCollection; (items by label, the stage's counters)."""
    for label, pcoll in outputs.items():
        _SEEN[label] = []
        pcoll | f"Keep_{label}" >> beam.Map(_keep, label)
    result = p.run()
    result.wait_until_finish()
    found = result.metrics().query(MetricsFilter().with_namespace(namespace))["counters"]
    return {label: _SEEN.pop(label) for label in outputs}, collections.Counter(
        {r.key.metric.name: r.result for r in found})


@pytest.mark.parametrize("pid", ["v/one", "v/three"])
def test_each_image_reaches_the_processor_at_its_marker_and_the_prompt_tokens_count_it(served, tmp_path, pid):
    from transformers import AutoTokenizer

    server, probe = served
    settings, p = _settings(server, tmp_path), _problem(pid, "order")
    side = image_side(settings.image_max_side, settings.limits.processor_path)
    assert side == 512  # the processor's own size, read from its config
    prompt = Prompt(build_messages(p, "concise", "vision"), p)
    since = probe.stat().st_size
    body = {**chat_body(settings, prompt.sent(side), SMALL_PLAN), "return_token_ids": True}
    reply = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=300).json()
    assert probed(probe, since) == fingerprints(p, side)  # each image once, in the question's order
    ids = reply["prompt_token_ids"]
    tokenizer = AutoTokenizer.from_pretrained(str(server.model_dir))
    seen = with_blocks(tokenizer.decode(ids, skip_special_tokens=False))
    pieces, _ = FITTING[pid]
    assert "[IMG]".join(piece.strip() for piece in pieces) in seen and seen.count("[IMG]") == len(p.images)
    assert "<image>" not in seen  # every image token is inside a block at a marker
    assert ids.count(tokenizer.convert_tokens_to_ids("<image>")) == IMAGE_SEQ_LEN * len(p.images)
    assert reply["usage"]["prompt_tokens"] == len(ids) == _count(settings, prompt.messages, p)


def test_generate_sends_what_fits_and_dead_letters_the_rest_without_a_request(served, tmp_path):
    server, probe = served
    settings = _settings(server, tmp_path)
    fitting = [_problem(pid, "generate") for pid in FITTING]
    four = image_problem("v/four", ["a", "b", "c", "d", "?"], [(64, 64)] * 4)
    long = None
    for repeat in range(1, 2000):  # the shortest question that fits without its images and not with them
        candidate = image_problem("v/long", ["Count. " * repeat, "and", "and", "?"], [(64, 64)] * 3)
        tokens = _count(settings, build_messages(candidate, "concise", "vision"), candidate)
        if tokens + SMALL_PLAN.max_tokens > CONTEXT:
            long = candidate
            assert tokens - 3 * (IMAGE_SEQ_LEN + 2) + SMALL_PLAN.max_tokens <= CONTEXT
            break
    assert long is not None
    problems = [*fitting, four, long]
    since = probe.stat().st_size
    p = TestPipeline()
    generated = p | beam.Create([planned_small(x) for x in problems]) | GenerateChains(Endpoint(settings, settings.cache_url))
    out, counters = _run(p, "generate", chains=generated.chains, dead=generated[DEAD_LETTER])
    assert sorted((r.row_id, r.reason) for r in out["dead"]) == [
        ("v/four", "teacher_too_many_images"), ("v/long", "teacher_over_context")]
    assert sorted(c.planned.problem.id for c in out["chains"]) == sorted(x.id for x in fitting)
    assert counters["requests"] == len(fitting) * SMALL_PLAN.n  # greedy: one sample per request
    assert counters["refused_too_many_images"] == counters["refused_over_context"] == 1  # once per prompt, nothing sent
    for chains in out["chains"]:
        x = chains.planned.problem
        expected = _count(settings, build_messages(x, SMALL_PLAN.prompt_style, "vision"), x)
        assert [g.prompt_tokens for g in chains.generations] == [expected] * SMALL_PLAN.n, x.id
    side = image_side(settings.image_max_side, settings.limits.processor_path)
    received = probed(probe, since)
    assert all(f in received for x in fitting for f in fingerprints(x, side))  # later samples: vLLM's cache
    assert not any(f in received for x in (four, long) for f in fingerprints(x, side))
    # the server's own limit is real: the four-image prompt the budget held back is refused when sent
    refused = httpx.post(f"{server.base_url}/chat/completions", timeout=300, json=chat_body(
        settings, Prompt(build_messages(four, "concise", "vision"), four).sent(side), SMALL_PLAN))
    assert refused.status_code == 400 and "image" in refused.text


def test_the_judge_scores_from_the_pictures(served, tmp_path):
    server, probe = served
    settings = _settings(server, tmp_path)
    x = _problem("v/two", "judge")
    since = probe.stat().st_size
    p = TestPipeline()
    judged = p | beam.Create([(x, Assessment(x.id, 0.5, "metadata"))]) | Judge(JudgeSettings(), Endpoint(settings, settings.cache_url))
    out, counters = _run(p, "judge", pairs=judged)
    (_, assessment), = out["pairs"]
    assert assessment.judge_model == VISION_MODEL_NAME and assessment.judge_error is None, assessment.judge_error
    assert all(1 <= s <= 5 for s in (assessment.vision_score, assessment.text_score, assessment.integration_score))
    side = image_side(settings.image_max_side, settings.limits.processor_path)
    assert probed(probe, since) == fingerprints(x, side)  # S_v from a model that saw them (a retry: vLLM's cache)
    assert counters["tokens_in"] == counters["requests"] * _count(settings, judge_messages(x, "vision"), x)


def test_repair_and_the_scorer_send_the_images_and_the_answer_judge_only_text(served, tmp_path):
    server, probe = served
    settings = _settings(server, tmp_path)
    endpoint = Endpoint(settings, settings.cache_url)
    x, y = _problem("v/two", "repair"), _problem("v/two", "score")  # pixels of its own for each stage
    wrong = [generation(i, correct=False, tokens=9, content="<think>two and two</think> \\boxed{7}", pid=x.id)
             for i in range(2)]
    chains = ProblemChains(planned=planned_small(x), generations=wrong)
    side = image_side(settings.image_max_side, settings.limits.processor_path)

    since = probe.stat().st_size
    p = TestPipeline()
    repaired = p | beam.Create([chains]) | RepairChains(RepairSettings(enabled=True, max_tokens=24), endpoint,
                                                        VerifyConfig(require_reasoning=False))
    out, counters = _run(p, "repair", chains=repaired)
    (after,) = out["chains"]
    rewrite = after.generations[-1]
    assert len(after.generations) == 3 and rewrite.provenance == "repair" and rewrite.verdict is not None
    assert rewrite.prompt_tokens == _count(settings, repair_messages(chains, wrong[0], "vision"), x)
    assert counters["requests"] == 1 and probed(probe, since) == fingerprints(x, side)

    after = dataclasses.replace(after, planned=dataclasses.replace(after.planned, problem=y))
    since = probe.stat().st_size
    p = TestPipeline()
    scored = p | beam.Create([after]) | ScoreChains(ScorerSettings(chains="decided"), endpoint)
    out, counters = _run(p, "score", chains=scored)
    (final,) = out["chains"]
    decided = [g for g in final.generations if g.verdict and not g.verdict.unverifiable]
    assert decided and all(g.scorer == VISION_MODEL_NAME and 0 <= g.chain_score <= 5 for g in decided)
    limit = ScorerSettings().max_chain_chars
    expected = sum(_count(settings, score_messages(y, g, "vision", limit), y) for g in decided)
    assert counters["tokens_in"] == expected and counters["requests"] == len(decided)
    assert probed(probe, since) == fingerprints(y, side)  # once: the other chains' requests meet vLLM's cache

    unsure = dataclasses.replace(chains, generations=[generation(0, correct=False, tokens=5, reasons=["unverifiable"],
                                                                 content="seven-ish", pid=x.id)])
    since = probe.stat().st_size
    p = TestPipeline()
    decided_chains = p | beam.Create([unsure]) | AnswerJudge(AnswerJudgeSettings(), endpoint)
    out, counters = _run(p, "answer_judge", chains=decided_chains)
    (judged,) = out["chains"]
    assert judged.generations[0].verdict.decided_by == "judge" and not judged.generations[0].verdict.unverifiable
    messages = answer_messages(x, unsure.generations[0].verdict.extracted_answer or "")
    assert counters["tokens_in"] == counters["requests"] * _count(settings, messages, x)
    assert probed(probe, since) == []  # no picture: comparing answers needs the question, not the image
