"""The prompt budget, in the test process: its token count against the real Idefics3 processor's own expansion
(a tiny processor built here, with and without image splitting, so an image's tokens depend on its size), its two
refusals at their exact boundaries, and the ask path refusing before any request (the scripted backend records
every call). The count against vLLM's own is tested on the live server (test_vision_server)."""
from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.support.factories import PLAN, planned
from tests.support.tiny_idefics3 import IMAGE_SEQ_LEN, save_tiny_processor, tiny_processor
from tests.support.vision_cases import image_problem
from transforms.generate import GenerateChains
from transforms.tags import DEAD_LETTER
from transforms.teachers.base import TeacherError
from transforms.teachers.budget import LimitSettings, PromptBudget, fit_within, template_view
from transforms.teachers.messages import build_messages, sent_image_sizes
from transforms.teachers.registry import Endpoint
from transforms.teachers.scripted import Script, scripted_settings

_PROCESSORS = {}
_SEEN: list = []  # what a pipeline emitted (in-process runner: the module is shared)


def _keep_chains(chains) -> None:
    _SEEN.append(chains.planned.problem.id)


def _keep_dead(row) -> None:
    _SEEN.append((row.row_id, row.reason))


def _processor_dir(tmp_path_factory, splitting: bool) -> str:
    if splitting not in _PROCESSORS:
        _PROCESSORS[splitting] = save_tiny_processor(tmp_path_factory.mktemp(f"tiny-{splitting}"), splitting)
    return _PROCESSORS[splitting]


def processor_count(processor, messages, sizes) -> int:
    """What the processor itself makes of the rendered prompt and images of these sizes: its input_ids."""
    text = processor.apply_chat_template(template_view(messages), tokenize=False, add_generation_prompt=True)
    images = [Image.new("RGB", size) for size in sizes]
    return len(processor(text=text, images=images or None)["input_ids"][0])


sizes_st = st.lists(st.tuples(st.integers(1, 300), st.integers(1, 300)), min_size=0, max_size=4)
pieces_st = st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=30), min_size=5, max_size=5)


@pytest.mark.parametrize("splitting", [False, True])
@settings(max_examples=40, deadline=None)
@given(sizes=sizes_st, pieces=pieces_st, max_side=st.sampled_from([None, 40, 150]))
def test_the_count_is_the_processors_own_at_the_size_each_image_is_sent(tmp_path_factory, splitting, sizes, pieces,
                                                                       max_side):
    budget = PromptBudget(LimitSettings(processor_path=_processor_dir(tmp_path_factory, splitting)))
    p = image_problem("v/1", pieces[:len(sizes) + 1], sizes)
    messages = build_messages(p, "standard", "vision")
    sent = sent_image_sizes(messages, p, max_side)
    assert sent == [fit_within(w, h, max_side) for w, h in sizes]
    assert budget.prompt_tokens(messages, sent) == processor_count(tiny_processor(splitting), messages, sent)


def test_without_splitting_every_image_costs_the_same_and_with_splitting_its_tiles_decide(tmp_path_factory):
    flat = PromptBudget(LimitSettings(processor_path=_processor_dir(tmp_path_factory, False)))
    split = PromptBudget(LimitSettings(processor_path=_processor_dir(tmp_path_factory, True)))
    messages = build_messages(image_problem("v/1", ["a", "b", "c"], [(20, 20), (20, 20)]), "standard", "vision")
    square, wide = [(20, 20), (20, 20)], [(20, 20), (300, 30)]  # resized to 96 px: 3 x 3 tiles, 1 x 3 tiles
    assert flat.prompt_tokens(messages, wide) == flat.prompt_tokens(messages, square)
    assert split.prompt_tokens(messages, square) - split.prompt_tokens(messages, wide) == 6 * (IMAGE_SEQ_LEN + 2) + 2  # 6 tiles, 2 rows
    one = build_messages(image_problem("v/1", ["a", "b"], [(20, 20)]), "standard", "vision")
    text_only = flat.prompt_tokens(one, [])
    assert flat.prompt_tokens(one, [(20, 20)]) - text_only == IMAGE_SEQ_LEN + 3 - 1  # 3 around it; the marker was one


def test_refusals_at_their_exact_boundaries(tmp_path_factory):
    path = _processor_dir(tmp_path_factory, False)
    messages = build_messages(image_problem("v/1", ["q", "x", "y", "z"], [(50, 40)] * 3), "standard", "vision")
    sizes = [(50, 40)] * 3
    tokens = PromptBudget(LimitSettings(processor_path=path)).prompt_tokens(messages, sizes)
    PromptBudget(LimitSettings(context_tokens=tokens + 10, max_images=3, processor_path=path)).check(messages, sizes, 10)
    with pytest.raises(TeacherError) as over:
        PromptBudget(LimitSettings(context_tokens=tokens + 9, processor_path=path)).check(messages, sizes, 10)
    assert over.value.reason == "over_context" and f"{tokens} prompt tokens (3 images)" in over.value.detail
    with pytest.raises(TeacherError) as many:
        PromptBudget(LimitSettings(context_tokens=10**6, max_images=2, processor_path=path)).check(messages, sizes, 10)
    assert many.value.reason == "too_many_images" and "3 images; the model takes at most 2" in many.value.detail
    # no processor: the image count is still checked, the context cannot be
    PromptBudget(LimitSettings(context_tokens=16, max_images=3)).check(messages, sizes, 10**6)
    with pytest.raises(TeacherError, match="too_many_images"):
        PromptBudget(LimitSettings(context_tokens=16, max_images=2)).check(messages, sizes, 1)


def test_a_problem_over_the_budget_is_dead_lettered_without_any_request(tmp_path_factory, tmp_path):
    path = _processor_dir(tmp_path_factory, False)
    fits = planned(image_problem("v/fits", ["How many dots?", "."], [(30, 30)]))
    many = planned(image_problem("v/many", ["Compare", "with", "and", "."], [(30, 30)] * 3))
    long = planned(image_problem("v/long", ["Count the dots. " * 40, "."], [(30, 30)]))
    budget = PromptBudget(LimitSettings(processor_path=path))
    context = budget.prompt_tokens(build_messages(fits.problem, PLAN.prompt_style, "vision"), [(30, 30)]) + PLAN.max_tokens
    script = Script()
    limits = LimitSettings(context_tokens=context, max_images=2, processor_path=path)
    endpoint = Endpoint(scripted_settings(script, modality="vision", limits=limits), str(tmp_path / "cache"))
    p = TestPipeline()
    out = p | beam.Create([fits, many, long]) | GenerateChains(endpoint)
    _SEEN.clear()
    out.chains | "Chains" >> beam.Map(_keep_chains)
    out[DEAD_LETTER] | "Dead" >> beam.Map(_keep_dead)
    p.run().wait_until_finish()
    assert sorted(_SEEN, key=str) == sorted(["v/fits", ("v/many", "teacher_too_many_images"),
                                            ("v/long", "teacher_over_context")], key=str)
    assert len(script.calls) == PLAN.n and all("How many dots?" in c.text for c in script.calls)


def test_fit_within_keeps_the_aspect_and_never_grows():
    assert fit_within(2048, 1024, 512) == (512, 256)
    assert fit_within(300, 200, 512) == (300, 200)
    assert fit_within(1000, 3, 500) == (500, 2)
    assert fit_within(3, 1000, 10) == (1, 10)
    assert fit_within(640, 480, None) == (640, 480)
