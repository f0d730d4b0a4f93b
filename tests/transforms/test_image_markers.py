"""The multi-image contract: canonical ``<image>`` markers after normalize (images reordered to
numbered placeholders), mismatches dead-lettered, and every prompt consistent with the markers."""
from __future__ import annotations

import dataclasses

import pytest

from schemas.problem import ImageMeta, ImageRef
from schemas.source import SourceRow
from tests.support.factories import chains, generation, problem
from tests.support.helpers import png_bytes
from transforms.image_markers import MarkerError, canonical_markers
from transforms.images import ImageSettings, normalize_image
from transforms.normalize import NormalizeSettings, RowError, to_problem
from transforms.rows import preference_row, rl_row, sft_row
from transforms.teachers.messages import IMAGE_URL_PREFIX, build_messages, student_prompt


@pytest.mark.parametrize("question,count,expected,order", [
    ("Compare <image1> and <image2>: which is larger?", 2, "Compare <image> and <image>: which is larger?", [0, 1]),
    ("Is <image 2> brighter than <image 1>?", 2, "Is <image> brighter than <image>?", [1, 0]),
    ("<Image_3> then <image_1> then <image-2>", 3, "<image> then <image> then <image>", [2, 0, 1]),
    ("<image 1> vs <image 0>", 2, "<image> vs <image>", [1, 0]),  # 0-based numbering
    ("<image>Find x.", 1, "<image>Find x.", [0]),
    ("Find x. < image >", 1, "Find x. <image>", [0]),
    ("How many dots?", 2, "<image><image>How many dots?", [0, 1]),  # no markers: prepended
    ("Text only.", 0, "Text only.", []),
])
def test_placeholders_become_one_marker_per_image_in_cited_order(question, count, expected, order):
    assert canonical_markers(question, count) == (expected, order)


@pytest.mark.parametrize("question,count", [
    ("<image> and <image>", 1),          # more markers than images
    ("<image>", 2),                      # fewer
    ("<image 1> and <image 1>", 2),      # the same image cited twice
    ("<image 1> and <image 3>", 2),      # out of range
    ("<image 1> and <image>", 2),        # numbered and unnumbered mixed
    ("Look: <image>", 0),                # a marker with no image
])
def test_markers_that_do_not_fit_the_images_are_an_error(question, count):
    with pytest.raises(MarkerError):
        canonical_markers(question, count)


def _row(tmp_path, question, images, **fields):
    for name, colour in images:
        (tmp_path / name).write_bytes(png_bytes(color=colour))
    base = {"question": question, "answer": "3", "images": [name for name, _ in images], **fields}
    return SourceRow(row_id="s/1", source="s", split="train", fields=base, image_root=str(tmp_path))


def test_normalize_reorders_images_to_the_question_and_dead_letters_mismatches(tmp_path):
    p = to_problem(_row(tmp_path, "Is <image2> redder than <image1>?", [("a.png", (10, 10, 200)), ("b.png", (200, 10, 10))]),
                   NormalizeSettings())
    assert p.question == "Is <image> redder than <image>?" and [i.path for i in p.images] == ["b.png", "a.png"]
    expected = [normalize_image((tmp_path / name).read_bytes(), name, ImageSettings())[1].sha256 for name in ("b.png", "a.png")]
    assert [m.sha256 for m in p.image_meta] == expected  # the facts follow their images
    with pytest.raises(RowError) as err:
        to_problem(_row(tmp_path, "<image> and <image> and <image>", [("a.png", (1, 1, 1)), ("b.png", (2, 2, 2))]), NormalizeSettings())
    assert err.value.reason == "image_marker_mismatch"


def test_text_only_problems_pass_when_the_source_does_not_require_images(tmp_path):
    row = SourceRow(row_id="t/1", source="t", split="train", fields={"question": "What is 2 + 3?", "answer": "5"}, image_root=None)
    assert to_problem(row, NormalizeSettings(require_images=False)).question == "What is 2 + 3?"
    with pytest.raises(RowError, match="missing_image"):
        to_problem(row, NormalizeSettings())


def _two_images(question="Is <image> redder than <image>?"):
    p = problem(question=question, caption="left: red dots; right: blue dots")
    meta = ImageMeta(64, 48, "PNG", "cd" * 32, "1" * 16)
    return dataclasses.replace(p, images=[*p.images, ImageRef(png_bytes(color=(0, 0, 200)), "b.png")],
                               image_meta=[*p.image_meta, meta])


def test_vision_request_puts_each_image_at_its_marker():
    p = _two_images()
    (msg,) = build_messages(p, "standard", "vision")
    parts = [(c["type"], c.get("text") or c["image_url"]["url"]) for c in msg["content"]]
    assert parts[:4] == [("text", "Is"), ("image_url", IMAGE_URL_PREFIX + "ab" * 32),
                         ("text", "redder than"), ("image_url", IMAGE_URL_PREFIX + "cd" * 32)]


def test_text_request_labels_markers_for_the_caption_and_keeps_no_marker():
    (msg,) = build_messages(_two_images(), "standard", "text")
    assert "<image>" not in msg["content"] and "Is (image 1) redder than (image 2)?" in msg["content"]
    (single,) = build_messages(problem(question="<image>How many dots?"), "standard", "text")
    assert single["content"].split("\n\n")[1] == "How many dots?"


def test_student_prompt_keeps_markers_in_place_in_every_row():
    p = _two_images()
    assert student_prompt(p).startswith("Is <image> redder than <image>?") and student_prompt(p).count("<image>") == 2
    assert student_prompt(problem()).startswith("<image>How many dots?")  # no markers: prepended once
    text_only = dataclasses.replace(problem(question="What is 2 + 3?"), images=[], image_meta=[])
    assert "<image>" not in student_prompt(text_only)
    c = chains([generation(0, True, 10), generation(1, False, 12)], p)
    rows = [sft_row(c, c.generations[0], "length_fit").messages[0].content, rl_row(c).prompt[0].content,
            preference_row(c, c.generations[0], c.generations[1], "wrong").messages[0].content]
    assert all(r.count("<image>") == 2 and r.startswith("Is <image> redder") for r in rows)


def test_a_problem_whose_markers_do_not_fit_its_images_is_refused_by_the_prompt_builders():
    with pytest.raises(ValueError, match="3 image marker"):
        student_prompt(_two_images("<image><image><image>?"))
