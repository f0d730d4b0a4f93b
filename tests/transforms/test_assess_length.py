"""Difficulty prior, clarity, and the token-budget plan."""
from __future__ import annotations

import io

import pytest
from PIL import Image, ImageFilter
from pydantic import ValidationError

from schemas.plan import Assessment
from tests.support.factories import problem
from tests.support.helpers import png_bytes
from transforms.assess import AssessSettings, assess, clarity, heuristic_difficulty
from transforms.bands import Band, band_for
from transforms.length import LengthSettings, plan_for


def test_difficulty_comes_from_metadata_when_valid_else_the_heuristic():
    assert assess(problem(metadata='{"difficulty": 0.8}'), AssessSettings()).difficulty_source == "metadata"
    assert assess(problem(metadata='{"difficulty": 0.8}'), AssessSettings()).difficulty == 0.8
    for meta in ('{"difficulty": 3}', '{"difficulty": "hard"}', "{}"):
        a = assess(problem(metadata=meta), AssessSettings())
        assert a.difficulty_source == "heuristic" and 0.0 <= a.difficulty <= 1.0
    forced = assess(problem(metadata='{"difficulty": 0.8}'), AssessSettings(difficulty_from="heuristic"))
    assert forced.difficulty_source == "heuristic"


def test_heuristic_rates_long_open_questions_harder_than_short_multiple_choice():
    short_mc = problem(question="Which bar is tallest?", choices=["a", "b", "c", "d"])
    long_open = problem(question=" ".join(["word"] * 70) + " compute the area")
    assert heuristic_difficulty(long_open) > heuristic_difficulty(short_mc)


def test_blurred_image_is_less_clear():
    sharp = png_bytes((128, 128))
    blurred = io.BytesIO()
    Image.open(io.BytesIO(sharp)).filter(ImageFilter.GaussianBlur(4)).save(blurred, format="PNG")
    assert clarity(sharp, 500.0) > clarity(blurred.getvalue(), 500.0)


def test_plan_follows_the_band_of_the_difficulty():
    settings = LengthSettings()
    easy = plan_for(Assessment("s/1", 0.1, "metadata"), settings)
    hard = plan_for(Assessment("s/1", 0.9, "metadata"), settings)
    assert (easy.band, easy.prompt_style, hard.band, hard.prompt_style) == ("easy", "concise", "hard", "thorough")
    assert easy.max_tokens < hard.max_tokens and easy.n == hard.n == settings.samples
    assert band_for(0.34, settings.bands).name == "easy" and band_for(0.3400001, settings.bands).name == "medium"


def test_bands_must_be_sorted_and_cover_the_hardest_problems():
    with pytest.raises(ValidationError, match="bands"):
        LengthSettings(bands=[Band(name="a", max_difficulty=0.5, max_tokens=10)])
    with pytest.raises(ValidationError, match="bands"):
        LengthSettings(bands=[Band(name="b", max_difficulty=1.0, max_tokens=10), Band(name="a", max_difficulty=0.5, max_tokens=5)])
