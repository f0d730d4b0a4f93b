"""Exact dedup: normalization, the key, and the survivor rule."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from tests.factories import problem
from transforms.dedup import ExactDedup, exact_key, normalize_text
from transforms.tags import DROPPED


def test_normalize_text_folds_case_spacing_latex_spacing_and_punctuation():
    assert normalize_text("What is  $x\\,+\\;1$ ?\n") == normalize_text("what is $x + 1$?")
    assert normalize_text("Area = 12") != normalize_text("Area = 13")


def test_key_covers_question_choices_and_images():
    base = problem()
    assert exact_key(base) == exact_key(problem(pid="s/2", question="how many DOTS ?"))
    assert exact_key(base) != exact_key(problem(image_hash="cd" * 32))
    assert exact_key(problem(choices=["1", "2"])) != exact_key(problem(choices=["1", "3"]))


def test_duplicates_are_dropped_naming_the_smallest_id_as_survivor():
    rows = [problem(pid="s/3"), problem(pid="s/1", question="How many dots"), problem(pid="s/2"),
            problem(pid="s/9", image_hash="ee" * 32)]
    with TestPipeline() as p:
        out = p | beam.Create(rows) | ExactDedup()
        assert_that(out.kept | beam.Map(lambda pr: pr.id), equal_to(["s/1", "s/9"]), label="unique")
        assert_that(out[DROPPED] | beam.Map(lambda r: (r.row_id, r.reason, r.survivor_id)),
                    equal_to([("s/2", "duplicate", "s/1"), ("s/3", "duplicate", "s/1")]), label="dropped")
