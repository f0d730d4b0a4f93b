"""Area and perimeter of labelled figures drawn to scale.

Difficulty unlocks harder figures (rectangle, right triangle, then an L-shape whose missing
sides must be inferred, then a right trapezoid) and half-centimetre side lengths.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from fractions import Fraction

from PIL import Image, ImageDraw

from transforms.synth.answers import fmt_number, numeric_answer
from transforms.synth.draw import BLACK, canvas, label
from transforms.synth.record import Draft

SUBJECT = "geometry"
SIZE, MARGIN = 448, 75
HALF = Fraction(1, 2)
TRIPLES = ((3, 4, 5), (6, 8, 10), (5, 12, 13), (8, 15, 17), (9, 12, 15))
FILL = (225, 235, 250)
Pixel = tuple[float, float]


@dataclass
class Figure:
    """A polygon (counter-clockwise, y up, in cm) with the edges that carry labels.

    ``description`` says in words what the picture shows; ``labels`` maps an edge index
    (edge i runs from vertex i to i+1) to its name in the caption.
    ``slips`` are typical wrong answers per quantity, used as distractors.
    """

    name: str
    description: str
    vertices: list[tuple[Fraction, Fraction]]
    labels: dict[int, str]
    area: Fraction
    perimeter: Fraction
    slips: dict[str, list[Fraction]]

    def edge(self, i: int) -> Fraction:
        """Exact length of edge ``i``."""
        (x0, y0), (x1, y1) = self.vertices[i], self.vertices[(i + 1) % len(self.vertices)]
        return abs(x1 - x0) + abs(y1 - y0) if x0 == x1 or y0 == y1 else _hypot(x1 - x0, y1 - y0)


def make(rng: random.Random, difficulty: float) -> Draft:
    """One area or perimeter problem."""
    halves = rng.random() < difficulty * 0.8
    builders = (_rectangle, _right_triangle, _l_shape, _right_trapezoid)
    figure = rng.choice(builders[: 2 + round(difficulty * 2)])(rng, halves)
    quantity = rng.choice(("area", "perimeter"))
    unit = "square centimetres" if quantity == "area" else "centimetres"
    value = getattr(figure, quantity)
    choices, answer = numeric_answer(rng, value, figure.slips[quantity], minimum=1)
    sides = {name: fmt_number(figure.edge(i)) for i, name in figure.labels.items()}
    caption = f"{figure.description} Drawn to scale; side labels: " + ", ".join(
        f"{name} = {length} cm" for name, length in sides.items()) + ". Right angles are marked."
    params = {"shape": figure.name, "quantity": quantity, "sides": sides}
    question = f"What is the {quantity} of the figure, in {unit}?"
    return Draft(question, _render(figure), caption, choices, answer, params)


def _hypot(dx: Fraction, dy: Fraction) -> Fraction:
    """Exact length of a Pythagorean-triple edge."""
    square = dx * dx + dy * dy
    root = Fraction(math.isqrt(square.numerator), math.isqrt(square.denominator))
    if root * root != square:
        raise ValueError("edge length is not rational")
    return root


def _side(rng: random.Random, low: int, high: int, halves: bool) -> Fraction:
    """A whole number of cm in [low, high], plus half a cm half the time when ``halves``."""
    return rng.randint(low, high) + (HALF if halves and rng.random() < 0.5 else 0)


def _triple(rng: random.Random, halves: bool) -> tuple[Fraction, Fraction, Fraction]:
    """Legs (horizontal, vertical) and hypotenuse of a right triangle with exact sides."""
    scale = rng.choice((1, Fraction(3, 2), 2)) if halves else Fraction(1)
    a, b, c = (scale * s for s in rng.choice(TRIPLES[:3] if halves else TRIPLES))
    return (a, b, c) if rng.random() < 0.5 else (b, a, c)


def _rectangle(rng: random.Random, halves: bool) -> Figure:
    w, h = _side(rng, 3, 12, halves), _side(rng, 2, 9, halves)
    return Figure("rectangle", "A rectangle.", [(0, 0), (w, 0), (w, h), (0, h)], {0: "bottom", 1: "right"},
                  w * h, 2 * (w + h), {"area": [2 * (w + h), w + h], "perimeter": [w * h, w + h]})


def _right_triangle(rng: random.Random, halves: bool) -> Figure:
    a, b, c = _triple(rng, halves)
    description = "A right triangle with a horizontal base and a vertical height."
    labels = {0: "base", 1: "hypotenuse", 2: "height"}
    slips = {"area": [a * b, a * c / 2, a + b + c], "perimeter": [a + b, a * b / 2]}
    return Figure("right triangle", description, [(0, 0), (a, 0), (0, b)], labels, a * b / 2, a + b + c, slips)


def _l_shape(rng: random.Random, halves: bool) -> Figure:
    """A rectangle with its top-right corner cut away; only four sides are labelled."""
    W, H = _side(rng, 7, 12, halves), _side(rng, 6, 10, halves)
    w, h = _side(rng, 3, int(W) - 3, halves), _side(rng, 3, int(H) - 3, halves)
    vertices = [(0, 0), (W, 0), (W, H - h), (W - w, H - h), (W - w, H), (0, H)]
    labels = {0: "bottom", 2: "cut-out width", 3: "cut-out height", 5: "left"}
    slips = {"area": [W * H, W * H - 2 * w * h, W * H - w * h + w], "perimeter": [W + H + w + h, 2 * (W + H) - w - h]}
    description = "An L-shaped figure: a rectangle with a smaller rectangle cut from its top-right corner."
    return Figure("L-shape", description, vertices, labels, W * H - w * h, 2 * (W + H), slips)


def _right_trapezoid(rng: random.Random, halves: bool) -> Figure:
    """A rectangle with a right triangle joined to its right side."""
    a = _side(rng, 2, 6, halves)
    b, h, c = _triple(rng, halves)
    vertices = [(0, 0), (a + b, 0), (a, h), (0, h)]
    labels = {0: "bottom", 1: "slanted side", 2: "top", 3: "left"}
    area, perimeter = a * h + b * h / 2, 2 * a + b + h + c
    slips = {"area": [(a + b) * h, a * h + b * h, area + c], "perimeter": [perimeter - c, perimeter - h]}
    description = "A right trapezoid: a rectangle with a right triangle joined to its right side."
    return Figure("right trapezoid", description, vertices, labels, area, perimeter, slips)


def _render(figure: Figure) -> Image.Image:
    image, draw = canvas(SIZE, SIZE)
    xs, ys = zip(*figure.vertices)
    scale = (SIZE - 2 * MARGIN) / float(max(max(xs), max(ys)))
    ox = (SIZE - float(max(xs)) * scale) / 2
    oy = (SIZE + float(max(ys)) * scale) / 2

    def px(x: Fraction, y: Fraction) -> Pixel:
        return ox + float(x) * scale, oy - float(y) * scale

    points = [px(x, y) for x, y in figure.vertices]
    draw.polygon(points, fill=FILL, outline=BLACK, width=2)
    n = len(points)
    for i in range(n):
        _right_angle_mark(draw, points[i - 1], points[i], points[(i + 1) % n])
    for i in figure.labels:
        (x0, y0), (x1, y1) = points[i], points[(i + 1) % n]
        length = math.hypot(x1 - x0, y1 - y0)
        nx, ny = -(y1 - y0) / length, (x1 - x0) / length  # outward: vertices run clockwise on screen
        horizontal = "l" if nx > 0.3 else "r" if nx < -0.3 else "m"  # anchor so the text grows away from the edge
        vertical = "t" if ny > 0.3 else "b" if ny < -0.3 else "m"
        anchor = horizontal + vertical
        text = f"{fmt_number(figure.edge(i))} cm"
        label(draw, ((x0 + x1) / 2 + nx * 6, (y0 + y1) / 2 + ny * 6), text, 16, anchor=anchor)
    return image


def _right_angle_mark(draw: ImageDraw.ImageDraw, prev: Pixel, corner: Pixel, nxt: Pixel) -> None:
    """A small square inside ``corner`` when it is a convex right angle."""
    ux, uy = prev[0] - corner[0], prev[1] - corner[1]
    vx, vy = nxt[0] - corner[0], nxt[1] - corner[1]
    lu, lv = math.hypot(ux, uy), math.hypot(vx, vy)
    if abs(ux * vx + uy * vy) > 1e-6 * lu * lv or ux * vy - uy * vx < 0:
        return
    s = 12
    a = (corner[0] + ux / lu * s, corner[1] + uy / lu * s)
    b = (corner[0] + vx / lv * s, corner[1] + vy / lv * s)
    draw.line([a, (a[0] + b[0] - corner[0], a[1] + b[1] - corner[1]), b], fill=BLACK, width=1)
