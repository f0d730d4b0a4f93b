"""Problems and checks shared by the vision integration tests (the plumbing vision teacher on vLLM).

Every image of a problem is one flat colour at its own size, so what the model's image processor
received (the probe in ``tests/support/vision_probe``) tells which image it was. The colours come from the
problem id: vLLM's processor cache answers for pixels it has processed before, so a check that needs
to see the processor at work sends a problem id (and so pixels) of its own.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
from pathlib import Path

from PIL import Image

from schemas.plan import PlannedProblem, SamplingPlan
from schemas.problem import IMAGE_MARKER, ImageMeta, ImageRef, Problem
from tests.support.factories import planned, problem
from transforms.teachers.budget import fit_within

PROBE_DIR = Path(__file__).parent / "vision_probe"
IMAGE_BLOCK = re.compile(r"<fake_token_around_image><global-img>(?:<image>)+<fake_token_around_image>")
SMALL_PLAN = SamplingPlan(n=2, max_tokens=12, temperature=0.0, top_p=1.0, repetition_penalty=1.0,
                          prompt_style="concise", length_budget=12, policy="token_budget", band="easy")


def _colour(pid: str, index: int) -> tuple[int, int, int]:
    digest = hashlib.sha256(f"{pid}#{index}".encode()).digest()
    return digest[0], digest[1], digest[2]


def _png(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def image_problem(pid: str, pieces: list[str], sizes: list[tuple[int, int]], answer: str = "3") -> Problem:
    """A problem whose question is ``pieces`` joined by image markers, one flat-colour image per size."""
    colours = [_colour(pid, i) for i in range(len(sizes))]
    data = [_png(size, colour) for size, colour in zip(sizes, colours)]
    question = pieces[0] + "".join(IMAGE_MARKER + piece for piece in pieces[1:])
    return dataclasses.replace(
        problem(pid=pid, question=question, answer=answer),
        images=[ImageRef(bytes=d, path=f"{i}.png") for i, d in enumerate(data)],
        image_meta=[ImageMeta(w, h, "PNG", hashlib.sha256(d).hexdigest(), "0" * 16) for (w, h), d in zip(sizes, data)],
    )


def planned_small(p: Problem, plan: SamplingPlan = SMALL_PLAN) -> PlannedProblem:
    return dataclasses.replace(planned(p), plan=plan)


def fingerprints(p: Problem, max_side: int | None) -> list[list]:
    """What the probe records for the problem's images sent at ``max_side``, in the problem's order: size and
    centre colour."""
    return [[*fit_within(m.width, m.height, max_side), list(_colour(p.id, i))] for i, m in enumerate(p.image_meta)]


def probed(log: Path, since: int) -> list[list]:
    """Every image the processor received after byte ``since`` of the probe's log, in order."""
    with open(log) as fh:
        fh.seek(since)
        return [image for line in fh if line.strip() for image in json.loads(line)]


def with_blocks(text: str) -> str:
    """A decoded prompt with every image's token block shown as ``[IMG]``."""
    return IMAGE_BLOCK.sub("[IMG]", text)


def probed_calls(log: Path, since: int) -> list[list]:
    """The images of each call of the processor after byte ``since`` of the probe's log, one list per call."""
    with open(log) as fh:
        fh.seek(since)
        return [json.loads(line) for line in fh if line.strip()]
