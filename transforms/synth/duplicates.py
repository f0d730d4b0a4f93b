"""Planted duplicates for evaluating dedup: disguised copies among near-misses whose answers coincide.

Two kinds of originals:

* generated problems (:func:`~transforms.synth.registry.generate`), whose same-family
  near-misses often share a picture's perceptual hash and an answer;
* templated sibling groups: several questions over **one shared picture** that differ only in
  their numbers (decimals, fractions, percentages, negatives, thousands) or only in one option,
  and all have **the same answer** (a number, ``yes``, or the same option letter) — what only
  the quantities and options guards can tell apart.

A share of the originals get one or two disguised copies, each with a random non-empty
combination of :data:`DISGUISES`: case, spacing, a few reworded words, punctuation, numbers
rewritten to an equal value (``1000`` → ``1,000``, ``0.5`` → ``\\frac{1}{2}``, ``15%`` →
``15 percent``), options shuffled and re-cased, and the picture resized 0.5–1.5× and re-encoded
as JPEG at quality 75–95. Ground truth is content, not ids: two problems are duplicates when
their family, original question, drawing parameters, option set and answer value agree, so
duplicates the generators happen to draw count too.
"""
from __future__ import annotations

import dataclasses
import io
import json
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from PIL import Image

from transforms.synth.answers import fmt_number
from transforms.synth.record import SynthProblem
from transforms.synth.registry import generate

SYNONYMS = (
    ("What is", "Find"), ("How many", "Count how many"), ("Which", "What"), ("tallest", "highest"),
    ("shortest", "lowest"), ("figure", "shape"), ("centimetres", "centimeters"), ("colour", "color"),
    ("value", "amount"), ("greater", "larger"), ("show", "display"), ("there", "in the picture"),
    ("points", "dots"), ("costs", "is priced at"), ("litres", "liters"), ("people", "residents"),
    ("rectangle", "oblong"), ("temperature", "reading"), ("Is", "Is it true that"), ("in total", "altogether"),
)


def _outside_latex(text: str, change: Callable[[str], str]) -> str:
    """``change`` applied to the text between LaTeX commands (``\\frac`` stays ``\\frac``)."""
    return "".join(part if part.startswith("\\") else change(part) for part in re.split(r"(\\[A-Za-z]+)", text))


def recase(text: str, rng: random.Random) -> str:
    """Upper-, lower- or title-cased text."""
    return _outside_latex(text, rng.choice((str.upper, str.lower, str.title, str.swapcase)))


def respace(text: str, rng: random.Random) -> str:
    """Spaces doubled, tabs and newlines between words, a space before punctuation."""
    words = text.split(" ")
    seps = [rng.choice(("  ", " ", "\t", "\n ", "   ")) for _ in words[1:]]
    out = words[0] + "".join(sep + w for sep, w in zip(seps, words[1:]))
    return re.sub(r"(?<=\D)([?.!])(\s|$)", r" \1\2", out)


def reword(text: str, rng: random.Random) -> str:
    """One to three wording swaps from :data:`SYNONYMS` (a prefix when none applies)."""
    usable = [pair for pair in SYNONYMS if re.search(rf"\b{re.escape(pair[0])}\b", text)]
    if not usable:
        return "Please answer: " + text
    for old, new in rng.sample(usable, min(len(usable), rng.randint(1, 3))):
        text = re.sub(rf"\b{re.escape(old)}\b", new, text, count=1)
    return text


def repunctuate(text: str, rng: random.Random) -> str:
    """Punctuation away from digits changed: the question mark, commas, a colon or dash added."""
    text = re.sub(r"(?<![\d{]),(?![\d}])", rng.choice(("", " ;", ",")), text)
    text = re.sub(r"\?\s*$", rng.choice(("", "??", "?!", " ?", ".")), text)
    first, _, rest = text.partition(" ")
    return f"{first}{rng.choice((':', ' -', '...', ''))} {rest}" if rest else text


def _alt_number(match: re.Match, rng: random.Random) -> str:
    raw = match.group()
    value = Fraction(raw)
    if value.denominator == 1 and value >= 1000:
        return rng.choice((f"{int(value):,}", f"{int(value):,}".replace(",", "{,}")))
    if value.denominator == 1:
        return rng.choice((raw, f"{raw}.0"))
    return rng.choice((f"{raw}0", f"\\frac{{{value.numerator}}}{{{value.denominator}}}", f"{value.numerator}/{value.denominator}"))


def renumber(text: str, rng: random.Random) -> str:
    """Numbers rewritten to equal values: thousands separators, trailing zeros, fractions, ``%`` spelled out."""
    text = re.sub(r"(?<![\d.,{/])\d+(?:\.\d+)?(?![\d.,}/]|\s*%)", lambda m: _alt_number(m, rng), text)
    text = re.sub(r"(?<=\d)%", lambda _: rng.choice(("\\%", " percent", " %")), text)
    return re.sub(r"(?<![\w)])-(?=\d)", "\u2212", text)


def degrade_image(image: Image.Image, scale: float = 0.7, quality: int = 75) -> Image.Image:
    """The image resized by ``scale`` and round-tripped through JPEG at ``quality``."""
    size = (max(8, round(image.width * scale)), max(8, round(image.height * scale)))
    small = image.convert("RGB").resize(size, Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _text(change: Callable[[str, random.Random], str]) -> Callable[[SynthProblem, random.Random], SynthProblem]:
    return lambda p, rng: dataclasses.replace(p, question=change(p.question, rng))


def shuffle_options(choices: list[str], answer: str, rng: random.Random) -> tuple[list[str], str]:
    """The options shuffled (about half of them re-cased) and the letter that now names the correct one."""
    order = list(range(len(choices)))
    rng.shuffle(order)
    shuffled = [recase(choices[i], rng) if rng.random() < 0.5 else choices[i] for i in order]
    return shuffled, chr(ord("A") + order.index(ord(answer) - ord("A")))


def _options(p: SynthProblem, rng: random.Random) -> SynthProblem:
    choices, answer = shuffle_options(p.choices, p.answer, rng)
    return dataclasses.replace(p, choices=choices, answer=answer)


def _image(p: SynthProblem, rng: random.Random) -> SynthProblem:
    return dataclasses.replace(p, image=degrade_image(p.image, rng.uniform(0.5, 1.5), rng.randint(75, 95)))


Disguise = Callable[[SynthProblem, random.Random], SynthProblem]
DISGUISES: dict[str, Disguise] = {
    "reword": _text(reword),
    "renumber": _text(renumber),
    "repunctuate": _text(repunctuate),
    "recase": _text(recase),
    "respace": _text(respace),
    "options": _options,
    "image": _image,
}


def disguise(p: SynthProblem, kinds: list[str], rng: random.Random) -> SynthProblem:
    """``p`` with the disguises ``kinds`` applied in :data:`DISGUISES` order (rewording before re-casing)."""
    for kind in DISGUISES:
        if kind in kinds:
            p = DISGUISES[kind](p, rng)
    return p


def _mc(correct: str, distractors: list[str], letter: int) -> tuple[list[str], str]:
    choices = list(distractors[:3])
    choices.insert(letter, correct)
    return choices, "ABCD"[letter]


def _perimeter(rng, k):
    total = rng.randint(8, 40)
    for _ in range(k):
        a = Fraction(rng.randint(2, 2 * total - 2), 2)
        question = f"A rectangle is {fmt_number(a)} cm wide and {fmt_number(total - a)} cm tall. What is its perimeter in cm?"
        yield question, [], fmt_number(2 * total)


def _compare(rng, k):
    for _ in range(k):
        b = rng.randint(-50, 50)
        yield f"The thermometer read {b} °C at dawn and {b + rng.randint(1, 30)} °C at noon. Was it warmer at noon?", [], \
            "yes"


def _discount(rng, k):
    for _ in range(k):
        price, pct = rng.randint(20, 400), rng.choice((5, 10, 12.5, 15, 20, 25, 30, 40))
        sale = Fraction(price) * (1 - Fraction(str(pct)) / 100)
        yield (f"A coat costs ${price} and is discounted by {pct}%. Is the sale price below ${int(sale) + rng.randint(1, 9)}?",
               [], "yes")


def _fraction_of(rng, k):
    amount = rng.choice((6, 12, 18, 24, 30))
    parts = [(num, den) for den in (2, 3, 4, 5, 6, 8) for num in range(1, den)
             if math.gcd(num, den) == 1 and (amount * den) % num == 0]
    for _ in range(k):
        num, den = rng.choice(parts)
        yield (f"The tank in the figure holds {amount * den // num} litres when full and is \\frac{{{num}}}{{{den}}} full. "
               "How many litres are in it?", [], str(amount))


def _population(rng, k):
    now = rng.randint(20, 90) * 1000
    for _ in range(k):
        moved = rng.randint(1, 19) * 500
        yield f"A town had {now - moved} people and {moved} more moved in. How many people live there now?", [], str(now)


def _sum_options(rng, k):
    letter = rng.randrange(4)
    for _ in range(k):
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        s = a + b
        choices, answer = _mc(str(s), [str(s + d) for d in rng.sample((-10, -2, -1, 1, 2, 10), 3)], letter)
        yield f"What is {a} + {b}, as read from the figure?", choices, answer


def _prime_options(rng, k):
    letter = rng.randrange(4)
    for _ in range(k):
        prime = rng.choice((7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47))
        choices, answer = _mc(str(prime), [str(c) for c in rng.sample((4, 6, 8, 9, 10, 12, 14, 15, 16, 18, 21, 25), 3)], letter)
        yield "Which of the numbers shown under the figure is prime?", choices, answer


def _shape_options(rng, k):
    shapes = ["the circle", "the square", "the triangle", "the hexagon", "the pentagon", "the star", "the oval"]
    correct = shapes.pop(rng.randrange(len(shapes)))
    letter = rng.randrange(4)
    for _ in range(k):
        choices, answer = _mc(correct, rng.sample(shapes, 3), letter)
        yield "Which shape in the figure has the largest area?", choices, answer


def _decimal_scale(rng, k):
    for _ in range(k):
        value = rng.choice(("0.5", "0.05", "5", "50", "1.5", "15", "0.15", "-0.5", "-5", "1/4", "\\frac{3}{4}", "2.5"))
        yield f"The bar in the figure is {value} m long. Is it drawn to scale?", [], "yes"


# Sibling generators: (rng, k) → k (question, choices, answer) that differ in numbers or one option, one answer.
def _colour_counts(rng, k):
    colours = rng.sample(("red", "blue", "green", "yellow", "orange", "purple", "black", "pink"), k)
    answer = str(rng.randint(2, 9))
    for colour in colours:
        yield f"How many {colour} shapes are there in the picture?", [], answer


def _measures(rng, k):
    start = rng.randrange(3)
    for i in range(k):
        measure, unit = (("area", "square centimetres"), ("perimeter", "centimetres"), ("volume", "cubic centimetres"))[(start + i) % 3]
        yield f"What is the {measure} of the figure, in {unit}?", [], "24"


TEMPLATES: dict[str, Callable] = {
    "perimeter": _perimeter, "compare": _compare, "discount": _discount, "fraction_of": _fraction_of,
    "population": _population, "sum_options": _sum_options, "prime_options": _prime_options,
    "shape_options": _shape_options, "decimal_scale": _decimal_scale, "colour_counts": _colour_counts,
    "measures": _measures,
}


def templated(n: int, seed: int) -> list[SynthProblem]:
    """About ``n`` problems in sibling groups of 3–6 over one shared picture each, answers equal within a group."""
    rng = random.Random(seed)
    pictures = list(generate(max(1, n // 3), seed + 1))
    out: list[SynthProblem] = []
    for g in range(len(pictures)):
        name = list(TEMPLATES)[g % len(TEMPLATES)]
        picture = pictures[g]
        for i, (question, choices, answer) in enumerate(TEMPLATES[name](rng, rng.randint(3, 6))):
            out.append(SynthProblem(
                id=f"tpl-{seed}-{g}-{i}", family=f"template_{name}", question=question, image=picture.image,
                choices=choices, answer=answer,
                answer_type="multiple_choice" if choices else "free_form" if answer == "yes" else "numeric",
                subject="templated", caption="", difficulty=0.5, params={"picture": picture.id},
            ))
    return out[:n]


def content_key(problem: SynthProblem) -> str:
    """What makes two problems the same: family, question, drawing parameters, option set, answer value."""
    answer = problem.choices[ord(problem.answer) - ord("A")] if problem.choices else problem.answer
    return json.dumps([problem.family, problem.question, problem.params, sorted(problem.choices), answer],
                      sort_keys=True, default=str)


@dataclass
class PlantedSet:
    """Problems (originals, disguised copies, near-misses, shuffled), each one's content group,
    and the disguises each copy carries."""

    problems: list[SynthProblem]
    group: dict[str, str]
    disguises: dict[str, tuple[str, ...]]

    def expected_drops(self) -> int:
        """Problems that must go: every group member but one."""
        return len(self.group) - len(set(self.group.values()))


def planted(n: int, seed: int, duplicate_share: float = 0.3) -> PlantedSet:
    """``n`` originals (half generated, half templated) plus one or two disguised copies for
    ``duplicate_share`` of them, each copy with a random non-empty combination of disguises."""
    rng = random.Random(seed)
    base = list(generate(n - n // 2, seed)) + templated(n // 2, seed)
    problems = list(base)
    group = {p.id: content_key(p) for p in base}
    kinds: dict[str, tuple[str, ...]] = {}
    for original in rng.sample(base, int(len(base) * duplicate_share)):
        for copy in range(rng.choice((1, 1, 2))):
            usable = [k for k in DISGUISES if k != "options" or original.choices]
            chosen = tuple(rng.sample(usable, rng.randint(1, min(4, len(usable)))))
            variant = dataclasses.replace(disguise(original, list(chosen), rng), id=f"{original.id}-copy{copy}")
            problems.append(variant)
            group[variant.id] = group[original.id]
            kinds[variant.id] = chosen
    rng.shuffle(problems)
    return PlantedSet(problems=problems, group=group, disguises=kinds)
