"""Tests for the synthetic problem generator: determinism, validity, exact ground truth, writers."""
from __future__ import annotations

import io
import json
import math
import re
from collections import Counter
from fractions import Fraction
from pathlib import Path
from statistics import mean

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from transforms.synth import FAMILIES, SynthProblem, bar_chart, clock, generate, geometry, grid_points, problem, write_jsonl, write_parquet
from transforms.synth.draw import PALETTE
from transforms.synth.writers import png_bytes

SAMPLE = list(generate(300, seed=11))


def _chosen(p: SynthProblem) -> str:
    """The answer as text: the selected option for multiple choice, else the numeric string."""
    return p.choices["ABCD".index(p.answer)] if p.answer_type == "multiple_choice" else p.answer


def _num(value: Fraction | int) -> str:
    value = Fraction(value)
    return str(value.numerator) if value.denominator == 1 else str(float(value))


def _key(p: SynthProblem) -> tuple[object, ...]:
    return p.id, p.question, p.choices, p.answer, p.answer_type, p.caption, p.difficulty


def _mask(p: SynthProblem, rgb: tuple[int, int, int]) -> np.ndarray:
    """Pixels of exactly this colour (shapes, bars, dots and hands are drawn without anti-aliasing)."""
    return np.all(np.asarray(p.image) == rgb, axis=-1)


def _components(mask: np.ndarray) -> list[np.ndarray]:
    """8-connected components of a boolean mask, as arrays of (row, col)."""
    todo = set(map(tuple, np.argwhere(mask).tolist()))
    found = []
    while todo:
        stack, comp = [todo.pop()], []
        while stack:
            y, x = stack.pop()
            comp.append((y, x))
            for nb in ((y + dy, x + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)):
                if nb in todo:
                    todo.remove(nb)
                    stack.append(nb)
        found.append(np.array(comp))
    return found


# --- determinism and stream structure -------------------------------------------------------


def test_same_seed_same_problems_and_pixels() -> None:
    a, b = list(generate(25, seed=3)), list(generate(25, seed=3))
    assert list(map(_key, a)) == list(map(_key, b))
    assert [png_bytes(p) for p in a] == [png_bytes(p) for p in b]


def test_different_seed_different_problems() -> None:
    a, b = list(generate(25, seed=3)), list(generate(25, seed=4))
    assert sum(png_bytes(x) != png_bytes(y) for x, y in zip(a, b)) >= 20
    assert [p.caption for p in a] != [p.caption for p in b]


def test_problem_i_does_not_depend_on_n() -> None:
    short, long = list(generate(12, seed=5)), list(generate(40, seed=5))[:12]
    assert list(map(_key, short)) == list(map(_key, long))
    assert png_bytes(short[-1]) == png_bytes(long[-1])


def test_ids_round_robin_and_difficulty_range() -> None:
    names = list(FAMILIES)
    assert len({p.id for p in SAMPLE}) == len(SAMPLE)
    for i, p in enumerate(SAMPLE):
        assert p.id == f"synth-{p.family}-11-{i}"
        assert p.family == names[i % len(names)]
        assert 0.0 <= p.difficulty <= 1.0
    narrow = list(generate(20, seed=1, families=["clock"], difficulty=(0.3, 0.4)))
    assert {p.family for p in narrow} == {"clock"}
    assert all(0.3 <= p.difficulty <= 0.4 for p in narrow)


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError):
        next(generate(1, seed=0, families=["nope"]))
    with pytest.raises(ValueError):
        next(generate(1, seed=0, difficulty=(0.8, 0.2)))


# --- record validity --------------------------------------------------------------------------


def test_every_family_has_both_answer_types_and_a_subject() -> None:
    types = {f: set() for f in FAMILIES}
    for p in SAMPLE:
        types[p.family].add(p.answer_type)
        assert p.subject == FAMILIES[p.family].SUBJECT
    assert types == {f: {"multiple_choice", "numeric"} for f in FAMILIES}
    assert len({FAMILIES[f].SUBJECT for f in FAMILIES}) == len(FAMILIES)


def test_answers_are_well_formed() -> None:
    for p in SAMPLE:
        assert p.question and p.caption
        if p.answer_type == "multiple_choice":
            assert len(p.choices) == 4 and len(set(p.choices)) == 4, p.choices
            assert p.answer in "ABCD" and len(p.answer) == 1
        else:
            assert p.choices == []
            assert re.fullmatch(r"-?(0|[1-9]\d*)(\.\d*[1-9])?", p.answer), p.answer  # canonical decimal


def test_answer_positions_are_spread() -> None:
    letters = Counter(p.answer for p in SAMPLE if p.answer_type == "multiple_choice")
    assert set(letters) == set("ABCD")
    assert min(letters.values()) > 0.1 * sum(letters.values())


def test_images_are_clean_rgb_of_sensible_size() -> None:
    for p in SAMPLE[: len(FAMILIES) * 2]:
        assert p.image.mode == "RGB"
        assert all(256 <= side <= 512 for side in p.image.size)
        colours = len(p.image.getcolors(maxcolors=1 << 16) or [])
        assert 2 < colours < 4000  # drawn figure, not noise


# --- ground truth: answer re-derived from the caption, picture checked against the facts -------


def _bar_truth(p: SynthProblem) -> str:
    bars = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", p.caption)}
    q = p.question
    if "tallest" in q or "shortest" in q:
        return (max if "tallest" in q else min)(bars, key=bars.__getitem__)
    names = re.findall(r"for (\w+)", q) + re.findall(r"and (\w+)\?", q)
    if q.startswith("What is the value"):
        return str(bars[names[0]])
    if q.startswith("How much greater"):
        return str(bars[names[0]] - bars[names[1]])
    return str(bars[names[0]] + bars[names[1]])


def _bar_pixels(p: SynthProblem) -> None:
    """Each bar's blue column height equals its value in axis units."""
    bars = p.params["bars"]
    x0, x1 = bar_chart.LEFT, bar_chart.WIDTH - bar_chart.RIGHT
    unit = (bar_chart.HEIGHT - bar_chart.BOTTOM - bar_chart.TOP) / bar_chart.AXIS_MAX
    blue = _mask(p, PALETTE["blue"])
    slot = (x1 - x0) / len(bars)
    for i, value in enumerate(bars.values()):
        column = blue[:, int(x0 + slot * (i + 0.5))]
        assert abs(column.sum() / unit - value) < 0.1, (p.id, i, value)


def _geometry_truth(p: SynthProblem) -> str:
    s = {k: Fraction(v) for k, v in re.findall(r"(\w[\w -]*?) = ([\d.]+) cm", p.caption.split("side labels: ")[1])}
    area = "area" in p.question
    if p.caption.startswith("A rectangle"):
        value = s["bottom"] * s["right"] if area else 2 * (s["bottom"] + s["right"])
    elif p.caption.startswith("A right triangle"):
        assert s["base"] ** 2 + s["height"] ** 2 == s["hypotenuse"] ** 2
        value = s["base"] * s["height"] / 2 if area else sum(s.values())
    elif p.caption.startswith("An L-shaped"):
        w, h = s["cut-out width"], s["cut-out height"]
        value = s["bottom"] * s["left"] - w * h if area else 2 * (s["bottom"] + s["left"])
    else:
        assert p.caption.startswith("A right trapezoid")
        assert (s["bottom"] - s["top"]) ** 2 + s["left"] ** 2 == s["slanted side"] ** 2
        value = (s["bottom"] + s["top"]) * s["left"] / 2 if area else sum(s.values())
    return _num(value)


def _geometry_pixels(p: SynthProblem) -> None:
    """The filled figure's bounding box has the proportions of its labelled sides (drawn to scale)."""
    sides = {k: Fraction(v) for k, v in p.params["sides"].items()}
    width = sides.get("bottom", sides.get("base"))
    height = next(sides[k] for k in ("right", "height", "left") if k in sides)
    scale = (geometry.SIZE - 2 * geometry.MARGIN) / float(max(width, height))
    rows, cols = np.nonzero(_mask(p, geometry.FILL))
    for extent, length in ((np.ptp(cols), width), (np.ptp(rows), height)):
        expected = float(length) * scale  # the outline hides a few edge pixels, more at sharp corners
        assert abs(extent - expected) <= 4 + 0.03 * expected, (p.id, extent, length)


def _counting_items(p: SynthProblem) -> list[tuple[str, str]]:
    return [tuple(item.split(" ")) for item in p.caption.split("from top to bottom: ")[1].rstrip(".").split(", ")]


def _counting_truth(p: SynthProblem) -> str:
    items, q = _counting_items(p), p.question
    if q.startswith("Which colour"):
        return Counter(c for c, _ in items).most_common(1)[0][0]
    words = q.removeprefix("How many ").split(" are there")[0].split()
    colour = next((w for w in words if w in PALETTE), None)
    form = next((w[:-1] for w in words if w[:-1] in ("circle", "square", "triangle")), None)
    return str(sum((colour in (None, c)) and (form in (None, s)) for c, s in items))


def _counting_pixels(p: SynthProblem) -> None:
    """Connected regions of each palette colour, classified by fill ratio, match the object list."""
    seen = Counter()
    for name, rgb in PALETTE.items():
        for comp in _components(_mask(p, rgb)):
            height, width = np.ptp(comp, axis=0) + 1
            fill = len(comp) / (height * width)
            seen[(name, "triangle" if fill < 0.65 else "circle" if fill < 0.9 else "square")] += 1
    assert seen == Counter(_counting_items(p)), p.id


def _clock_truth(p: SynthProblem) -> str:
    hour, minute = map(int, re.search(r"shows (\d+):(\d\d)", p.caption).groups())
    q = p.question
    if q.startswith("What time"):
        return f"{hour}:{minute:02d}"
    if "past the hour" in q:
        return str(minute)
    if "until the next full hour" in q:
        return str(60 - minute)
    h0, m0 = map(int, re.search(r"since (\d+):(\d\d)", q).groups())
    return str((hour * 60 + minute - h0 * 60 - m0) % 720)


def _angle(rows: np.ndarray, cols: np.ndarray) -> float:
    """Clockwise angle from 12 o'clock of the mean of these pixels around the dial centre."""
    return math.degrees(math.atan2(cols.mean() - clock.CENTRE, clock.CENTRE - rows.mean())) % 360


def _clock_pixels(p: SynthProblem) -> None:
    """The red minute hand and the black hour hand point where the stored time says."""
    hour, minute = p.params["hour"], p.params["minute"]
    rows, cols = np.nonzero(_mask(p, PALETTE["red"]))
    tip = np.hypot(rows - clock.CENTRE, cols - clock.CENTRE) > clock.RADIUS * 0.6
    assert abs((_angle(rows[tip], cols[tip]) - minute * 6 + 180) % 360 - 180) < 2, p.id
    rows, cols = np.nonzero(_mask(p, (0, 0, 0)))
    dist = np.hypot(rows - clock.CENTRE, cols - clock.CENTRE)
    ring = (dist > clock.RADIUS * 0.2) & (dist < clock.RADIUS * 0.45)
    expected = (hour % 12 + minute / 60) * 30
    assert abs((_angle(rows[ring], cols[ring]) - expected + 180) % 360 - 180) < 2, p.id


def _grid_truth(p: SynthProblem) -> str:
    pts = {k: (int(x), int(y)) for k, x, y in re.findall(r"([A-E]) at \((-?\d+), (-?\d+)\)", p.caption)}
    names = re.findall(r"point[s]? ([A-E])(?: and ([A-E]))?", p.question)[0]
    (ax, ay), q = pts[names[0]], p.question
    if q.startswith("What are the coordinates"):
        return f"({ax}, {ay})"
    if "x-coordinate" in q or "y-coordinate" in q:
        return str(ax if "x-coordinate" in q else ay)
    bx, by = pts[names[1]]
    return str(abs(ax - bx) if "horizontal" in q else abs(ay - by))


def _grid_pixels(p: SynthProblem) -> None:
    """Red dot centres, mapped back through the grid layout, are exactly the stored points."""
    low, high = p.params["range"]
    unit = (grid_points.SIZE - 2 * grid_points.MARGIN) / (high - low)
    bottom = grid_points.SIZE - grid_points.MARGIN
    found = set()
    for comp in _components(_mask(p, PALETTE["red"])):
        row, col = comp.mean(axis=0)
        found.add((round((col - grid_points.MARGIN) / unit + low), round((bottom - row) / unit + low)))
    assert found == {tuple(v) for v in p.params["points"].values()}, p.id


CHECKS = {
    "bar_chart": (_bar_truth, _bar_pixels),
    "geometry": (_geometry_truth, _geometry_pixels),
    "counting": (_counting_truth, _counting_pixels),
    "clock": (_clock_truth, _clock_pixels),
    "grid_points": (_grid_truth, _grid_pixels),
}


def test_checks_cover_every_family() -> None:
    assert set(CHECKS) == set(FAMILIES)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_answer_rederived_from_caption(family: str) -> None:
    truth, _ = CHECKS[family]
    for p in SAMPLE:
        if p.family == family:
            assert _chosen(p) == truth(p), (p.id, p.question, p.caption, p.choices, p.answer)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_picture_matches_stored_facts(family: str) -> None:
    _, check = CHECKS[family]
    for p in [p for p in SAMPLE if p.family == family][:25]:
        check(p)


# --- difficulty knob ------------------------------------------------------------------------

COMPLEXITY = {
    "bar_chart": lambda p: len(p.params["bars"]) + (not p.params["value_labels"]),
    "geometry": lambda p: len(p.params["sides"]) + sum("." in v for v in p.params["sides"].values()),
    "counting": lambda p: len(p.params["objects"]),
    "clock": lambda p: p.params["minute"] % 15 != 0,
    "grid_points": lambda p: len(p.params["points"]) + (p.params["range"][0] < 0),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_difficulty_knob_makes_problems_harder(family: str) -> None:
    easy = [problem(family, 2, i, (0.0, 0.1)) for i in range(40)]
    hard = [problem(family, 2, i, (0.9, 1.0)) for i in range(40)]
    score = COMPLEXITY[family]
    assert mean(map(score, hard)) > mean(map(score, easy)) + 0.25


# --- writers ----------------------------------------------------------------------------------

COLUMNS = ["id", "question", "images", "choices", "answer", "answer_type", "subject", "caption", "metadata"]


def _same_pixels(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b))


def test_jsonl_round_trip(tmp_path: Path) -> None:
    problems = SAMPLE[:12]
    path = write_jsonl(problems, tmp_path / "out")
    assert path == tmp_path / "out" / "problems.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(problems)
    for row, p in zip(rows, problems):
        assert list(row) == COLUMNS
        assert row["images"] == [f"images/{p.id}.png"]
        with Image.open(path.parent / row["images"][0]) as image:
            assert image.format == "PNG" and _same_pixels(image, p.image)
        assert (row["id"], row["question"], row["choices"], row["answer"]) == (p.id, p.question, p.choices, p.answer)
        assert (row["answer_type"], row["subject"], row["caption"]) == (p.answer_type, p.subject, p.caption)
        assert row["metadata"]["family"] == p.family and row["metadata"]["difficulty"] == p.difficulty


def test_parquet_round_trip(tmp_path: Path) -> None:
    problems = SAMPLE[:12]
    path = write_parquet(problems, tmp_path / "sub" / "synth.parquet")
    table = pq.read_table(path)
    assert table.column_names == COLUMNS
    assert str(table.schema.field("images").type) == "list<element: struct<bytes: binary, path: string>>"
    assert str(table.schema.field("metadata").type) == "string"
    for row, p in zip(table.to_pylist(), problems):
        [image] = row["images"]
        assert image["path"] == f"{p.id}.png"
        with Image.open(io.BytesIO(image["bytes"])) as decoded:
            assert _same_pixels(decoded, p.image)
        meta = json.loads(row["metadata"])
        assert meta["family"] == p.family and meta["difficulty"] == p.difficulty
        assert (row["id"], row["choices"], row["answer"], row["caption"]) == (p.id, p.choices, p.answer, p.caption)
