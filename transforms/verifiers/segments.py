"""Split a model output into its reasoning block and its final answer part."""
from __future__ import annotations

from dataclasses import dataclass

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


@dataclass(frozen=True)
class Segments:
    """Where the reasoning and the final answer part of one output are.

    ``reasoning`` is None when there is no reasoning block at all. ``final`` is the only text an
    answer may be extracted from. ``well_formed`` is False for unbalanced or repeated ``<think>``
    tags, or tags inside ``output`` when the reasoning already came as a separate field.
    """

    reasoning: str | None
    final: str
    well_formed: bool

    @property
    def has_block(self) -> bool:
        return self.reasoning is not None


def split_output(
    output: str, reasoning: str | None = None, *, allow_implicit_open: bool = True
) -> Segments:
    """Find the reasoning block and the final answer part.

    With a non-empty ``reasoning`` field (the server split it out), ``output`` is the final part;
    ``<think>`` tags inside it as well mean a second block (malformed; the answer is still read
    after the last ``</think>``). Otherwise ``output`` holds ``<think>…</think>`` then the answer;
    a lone ``</think>`` is accepted when ``allow_implicit_open`` (the opening tag was in the
    prompt). An unclosed ``<think>`` has no final part: an answer inside it does not count.
    """
    output = output or ""
    opens = output.count(OPEN_TAG)
    closes = output.count(CLOSE_TAG)
    last_close = output.rfind(CLOSE_TAG)
    after_last_close = output[last_close + len(CLOSE_TAG):] if closes else None

    if reasoning:
        if opens == 0 and closes == 0:
            return Segments(reasoning, output, True)
        final = after_last_close.split(OPEN_TAG, 1)[0] if after_last_close is not None else ""
        return Segments(reasoning, final, False)

    if opens == 0 and closes == 0:
        return Segments(None, output, True)
    if opens == 1 and closes == 1:
        start = output.find(OPEN_TAG)
        if start < last_close and not output[:start].strip():
            return Segments(output[start + len(OPEN_TAG):last_close], after_last_close, True)
    if opens == 0 and closes == 1 and allow_implicit_open:
        return Segments(output[:last_close], after_last_close, True)

    # Malformed: unbalanced, repeated, out of order, or text before the opening tag. The answer
    # is still only read after the last </think> (and before any <think> reopened after it).
    first_open = output.find(OPEN_TAG)
    body_start = first_open + len(OPEN_TAG) if first_open >= 0 else 0
    body_end = last_close if closes and last_close > body_start else len(output)
    final = after_last_close.split(OPEN_TAG, 1)[0] if after_last_close is not None else ""
    return Segments(output[body_start:body_end], final, False)
