"""The image path through vLLM's in-process engine (``teacher.backend: vllm``) and its batch runner (``vllm_batch``),
on the plumbing vision teacher.

The batch test runs first, before the module's engine is loaded, so one vLLM runs at a time. Both
carry a probe on the image processor (in this process for the engine; through ``PYTHONPATH`` for the
``run_batch`` process): the images must reach it in marker order, the prompt the engine built must
hold one image block at each marker, and every prompt-token count must equal the budget's. A problem
over the engine's image limit is dead-lettered by the budget; sent anyway, the engine refuses it.
"""
from __future__ import annotations

import collections
import json
import os

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from vllm import SamplingParams

from pipelines.vision_teacher import IMAGE_SEQ_LEN, VISION_MODEL_NAME, prepare_vision_teacher
from tests.support import vision_cases as cases
from tests.support.vision_cases import SMALL_PLAN, fingerprints
from transforms.generate import GenerateChains
from transforms.tags import DEAD_LETTER
from transforms.teacher_calls import Prompt
from transforms.teachers.budget import PromptBudget, image_side
from transforms.teachers.engine_inputs import engine_conversation
from transforms.teachers.messages import build_messages
from transforms.teachers.registry import Endpoint, engine_limits
from transforms.teachers.settings import BatchSettings, TeacherSettings
from transforms.teachers.vllm_engine import close_shared_engine, shared_engine

pytestmark = pytest.mark.integration

CONTEXT = 1024
PIECES = {1: ["How many dots are in", "?"], 2: ["Compare", "with", "?"], 3: ["First", "then", "and last", "?"],
          4: ["a", "b", "c", "d", "?"]}
SIZES = {1: [(300, 200)], 2: [(128, 256), (700, 350)], 3: [(90, 60), (512, 512), (200, 640)], 4: [(64, 64)] * 4}
MOST_IMAGES = 3  # the engine's limit_mm_per_prompt: the most images the problems it should take have
_SEEN: dict[str, list] = {}


def _keep(item, label: str) -> None:
    _SEEN.setdefault(label, []).append(item)


def _problem(images: int, tag: str):
    return cases.image_problem(f"e/{images}-{tag}", PIECES[images], SIZES[images])


def _complete(settings: TeacherSettings) -> TeacherSettings:
    """Settings as the launcher completes a local engine's: limits from its max_model_len and model directory."""
    return settings.model_copy(update={"limits": engine_limits(settings, None)})


def _count(settings: TeacherSettings, problem) -> int:
    messages = build_messages(problem, SMALL_PLAN.prompt_style, "vision")
    side = image_side(settings.image_max_side, settings.limits.processor_path)
    return PromptBudget(settings.limits).prompt_tokens(messages, Prompt(messages, problem).image_sizes(side))


def _generate(settings: TeacherSettings, problems):
    """Run Generate over ``problems``; (chains by id, dead letters, generate counters)."""
    p = TestPipeline()
    out = p | beam.Create([cases.planned_small(x) for x in problems]) | GenerateChains(Endpoint(settings, settings.cache_url))
    _SEEN.update(chains=[], dead=[])
    out.chains | "KeepChains" >> beam.Map(_keep, "chains")
    out[DEAD_LETTER] | "KeepDead" >> beam.Map(_keep, "dead")
    result = p.run()
    result.wait_until_finish()
    found = result.metrics().query(MetricsFilter().with_namespace("generate"))["counters"]
    counters = collections.Counter({r.key.metric.name: r.result for r in found})
    return {c.planned.problem.id: c for c in _SEEN.pop("chains")}, _SEEN.pop("dead"), counters


def test_vllm_batch_carries_each_problems_images_in_marker_order(tmp_path, monkeypatch):
    probe = tmp_path / "processor.jsonl"
    probe.touch()
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(cases.PROBE_DIR), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("MMCOT_PROBE_LOG", str(probe))  # run_batch inherits the environment
    settings = _complete(TeacherSettings(
        backend="vllm_batch", model=VISION_MODEL_NAME, modality="vision", cache_url=str(tmp_path / "cache"),
        engine={"model_path": str(prepare_vision_teacher()), "max_model_len": CONTEXT}, limits={"max_images": 2},
        batch=BatchSettings(linger_s=0.5, poll_s=1.0)))
    problems = [_problem(1, "batch"), _problem(2, "batch")]
    chains, dead, counters = _generate(settings, problems)
    assert not dead and sorted(chains) == sorted(x.id for x in problems) and counters["requests"] == 2 * SMALL_PLAN.n
    for x in problems:
        assert [g.prompt_tokens for g in chains[x.id].generations] == [_count(settings, x)] * SMALL_PLAN.n
    (batch,) = (tmp_path / "cache" / "_batches").glob("*.output.jsonl")
    assert all(json.loads(line)["response"]["status_code"] == 200 for line in batch.read_text().splitlines())
    side = image_side(settings.image_max_side, settings.limits.processor_path)
    ours = {str(fingerprints(x, side)) for x in problems}
    calls = [c for c in cases.probed_calls(probe, 0) if any(f in c for x in problems for f in fingerprints(x, side))]
    assert all(str(c) in ours for c in calls)  # each call: one problem's images, all of them, in marker order
    assert {str(c) for c in calls} == ours


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """(settings, probe log): the in-process engine on the plumbing vision teacher, its image processor probed."""
    from tests.support.vision_probe.sitecustomize import install

    probe = tmp_path_factory.mktemp("probe") / "processor.jsonl"
    probe.touch()
    undo = install(str(probe))
    settings = _complete(TeacherSettings(
        backend="vllm", model=VISION_MODEL_NAME, modality="vision", cache_url=str(tmp_path_factory.mktemp("cache")),
        engine={"model_path": str(prepare_vision_teacher()), "max_model_len": CONTEXT}, limits={"max_images": MOST_IMAGES}))
    try:
        yield settings, probe
    finally:
        undo()
        close_shared_engine(settings)


def test_the_engine_gets_each_image_at_its_marker_and_counts_it(engine):
    from transformers import AutoTokenizer

    settings, probe = engine
    side = image_side(settings.image_max_side, settings.limits.processor_path)
    loop = shared_engine(settings)
    tokenizer = AutoTokenizer.from_pretrained(settings.engine.model_path)
    for images in (1, 3):
        x = _problem(images, "order")
        prompt = Prompt(build_messages(x, SMALL_PLAN.prompt_style, "vision"), x)
        since = probe.stat().st_size
        output = loop.submit(engine_conversation(prompt.sent(side)), SamplingParams(max_tokens=1)).result(timeout=600)
        assert cases.probed(probe, since) == fingerprints(x, side)
        ids = list(output.prompt_token_ids)
        seen = cases.with_blocks(tokenizer.decode(ids, skip_special_tokens=False))
        assert "[IMG]".join(piece.strip() for piece in PIECES[images]) in seen and "<image>" not in seen
        assert ids.count(tokenizer.convert_tokens_to_ids("<image>")) == IMAGE_SEQ_LEN * images
        assert len(ids) == _count(settings, x)
    too_many = _problem(4, "order")
    sent = Prompt(build_messages(too_many, "concise", "vision"), too_many).sent(side)
    with pytest.raises(Exception, match="image"):  # the engine's own limit is real
        loop.submit(engine_conversation(sent), SamplingParams(max_tokens=1)).result(timeout=600)


def test_generate_on_the_engine_sends_what_fits_and_dead_letters_the_rest(engine):
    settings, _ = engine
    fitting = [_problem(1, "generate"), _problem(3, "generate")]
    chains, dead, counters = _generate(settings, [*fitting, _problem(4, "generate")])
    assert [(r.row_id, r.reason) for r in dead] == [("e/4-generate", "teacher_too_many_images")]
    assert sorted(chains) == sorted(x.id for x in fitting) and counters["requests"] == 2 * SMALL_PLAN.n
    for x in fitting:
        assert [g.prompt_tokens for g in chains[x.id].generations] == [_count(settings, x)] * SMALL_PLAN.n
        assert all(g.completion_tokens > 0 for g in chains[x.id].generations)
