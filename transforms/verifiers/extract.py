"""Find the final answer in the final answer part of an output.

Precedence, first found wins:

1. R1V's ``<answer>…</answer>`` block: when the final part has one, the last block is the only
   place searched (an empty or unclosed block means *no answer*); inside it the rules below apply,
   and when nothing in it marks an answer, the value its text names is the answer;
2. the last top-level ``\\boxed{}`` / ``\\fbox{}`` (an empty or unclosed last box means *no
   answer*, not a fallback);
3. the last answer marker (``Final Answer:``, ``The answer is``, ``Answer:``, ``The correct option
   is``, ``答案是``, ``故选``), its value read by ``phrases.answer_phrase`` (``Final Answer: The
   largest $n$ is 34.`` -> ``34``; ``yes, because …`` -> ``yes``);
4. a concluding last sentence (``So the area is 12.``, ``Therefore, $x = 5$.``): the value it names;
5. for multiple choice, the last option mention (``option B``, ``(B)``, ``**B**``, ``选B``) or a
   final line equal to an option's text;
6. a short single-line final part is the answer itself when it has math in it or (free form) is
   a few words.

When the gold lists several solutions (``several``), the boxes of the answer's last paragraph
that holds a box are all taken (``x = \\boxed{2}`` or ``x = \\boxed{-3}`` -> ``2, -3``).

Everything is a single left-to-right pass (braces are matched with a stack, not a regex), so a
100 KB adversarial output costs milliseconds.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from transforms.verifiers.answer_types import looks_mathy
from transforms.verifiers.config import DEFAULT_CONFIG, VerifyConfig
from transforms.verifiers.normalize import (
    choice_letter_for_text,
    clean_answer,
    letter_of,
    number_rule,
    option_letters,
)
from transforms.verifiers.phrases import answer_phrase, concluding_value
from transforms.verifiers.segments import split_output
from transforms.verifiers.solutions import join_solutions

#: A final part this short and on one line is taken as the answer when nothing marks one.
BARE_ANSWER_MAX_CHARS = 80
BARE_ANSWER_MAX_WORDS = 3

_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_BRACE_TOKEN_RE = re.compile(r"\\.|[{}]", re.S)
_BARE_BOX_ARG_RE = re.compile(r"[ \t]+([^\s${}\\]+|\\[A-Za-z]+)")


@dataclass(frozen=True)
class Box:
    """The last top-level box: ``status`` is ``ok``, ``empty`` or ``unclosed``."""

    status: str
    content: str = ""


def _match_braces(text: str) -> dict[int, int]:
    """Map each ``{`` position to its matching ``}`` (escaped ``\\{`` ``\\}`` ignored); one pass."""
    stack: list[int] = []
    pairs: dict[int, int] = {}
    for m in _BRACE_TOKEN_RE.finditer(text):
        tok = m.group()
        if tok == "{":
            stack.append(m.start())
        elif tok == "}" and stack:
            pairs[stack.pop()] = m.start()
    return pairs


def last_box(text: str) -> Box | None:
    """The last top-level ``\\boxed``/``\\fbox`` of ``text`` (None if there is none).

    Boxes nested in it are unwrapped (``\\boxed{\\boxed{5}}`` is ``5``); a box whose brace never
    closes is ``unclosed`` and swallows everything after it; ``\\boxed 5`` is accepted.
    """
    found = None
    for found, _ in top_level_boxes(text):  # noqa: B007 - the last box is the one kept
        pass
    return found


def top_level_boxes(text: str) -> Iterator[tuple[Box, int]]:
    """Every top-level box of ``text`` with its start, in order; an unclosed one ends the list."""
    if "\\boxed" not in text and "\\fbox" not in text:
        return
    pairs: dict[int, int] | None = None
    pos = 0
    while True:
        m = _BOX_RE.search(text, pos)
        if not m:
            return
        i = m.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == "{":
            if pairs is None:
                pairs = _match_braces(text)
            end = pairs.get(i)
            if end is None:
                yield Box("unclosed"), m.start()
                return
            start, stop = i + 1, end
            # Unwrap boxes that are the whole content of this one (O(1) per level).
            while True:
                inner = _BOX_RE.match(text, _skip_space(text, start, stop))
                if not inner:
                    break
                j = _skip_space(text, inner.end(), stop)
                if j < stop and text[j] == "{" and pairs.get(j) is not None and \
                        _skip_space(text, pairs[j] + 1, stop) == stop:
                    start, stop = j + 1, pairs[j]
                else:
                    break
            content = text[start:stop]
            yield (Box("ok", content) if content.strip() else Box("empty")), m.start()
            pos = end + 1
        else:
            bare = _BARE_BOX_ARG_RE.match(text, m.end())
            if not bare:
                yield Box("unclosed"), m.start()
                return
            yield Box("ok", bare.group(1)), m.start()
            pos = bare.end()


def _skip_space(text: str, i: int, stop: int) -> int:
    while i < stop and text[i].isspace():
        i += 1
    return i


_MARKER_RE = re.compile(
    r"(?:\bfinal\s+answer(?:\s+is)?|\banswer\s+is|\banswer\s*(?=[:：*])|\b(?:option|choice)\s+is"
    r"|答案\s*(?:是|为|為|应为|應為)?"
    r"|(?:故|应|應|所以|因此)选(?:择|擇)?)"
    r"[\s*_#:：]*",
    re.I,
)
_SENTENCE_END_RE = re.compile(r"(?<=\S)(?:\.(?=\s|$)|。)")


def marked_answer(text: str) -> str | None:
    """The value after the last answer marker: the rest of its line, or the next non-empty line
    when the marker ends its line, cut at the end of the sentence; a sentence gives the value it
    names (``phrases.answer_phrase``: ``Final Answer: The largest $n$ is 34.`` -> ``34``)."""
    last = None
    for last in _MARKER_RE.finditer(text):  # noqa: B007 - the last marker is the one kept
        pass
    if last is None:
        return None
    rest = text[last.end():]
    for line in rest.split("\n", 3)[:3]:
        line = line.strip()
        if line:
            break
    else:
        return None
    cut = _SENTENCE_END_RE.search(line)
    if cut:
        line = line[:cut.start()]
    # Markdown around the marker ("**Answer:** C", "Answer: **C**") may be left half-open.
    answer = clean_answer(answer_phrase(clean_answer(line).strip("*_ ")))
    return answer or None


_OPTION_MENTION_RE = re.compile(
    r"(?:\b(?:option|choice)\s*\(?([A-Z])\)?(?![A-Za-z])"
    r"|\(([A-Z])\)"
    r"|\*\*\(?([A-Z])\)?\*\*"
    r"|\\text(?:bf)?\{\(?([A-Z])\)?\}"
    r"|选项?\s*([A-Z])(?![A-Za-z]))",
    re.I,
)


def _last_option_mention(text: str, letters: str) -> str | None:
    found = None
    for m in _OPTION_MENTION_RE.finditer(text):
        letter = next(g for g in m.groups() if g)
        # Only the "option b" word form may be lower case; "(b)" in prose is too ambiguous.
        if letter.islower() and not m.group(1):
            continue
        letter = letter.upper()
        if letter in letters:
            found = letter
    return found


def _as_choice(candidate: str, choices: list[str] | None, letters: str, rule: dict) -> str:
    """A candidate answer for a multiple-choice problem: its letter when it names or equals one."""
    letter = letter_of(candidate, letters)
    if letter:
        return letter
    by_text = choice_letter_for_text(candidate, choices, **rule)
    return by_text or candidate


_ANSWER_OPEN_RE = re.compile(r"<answer>", re.I)
_ANSWER_CLOSE_RE = re.compile(r"</answer>", re.I)
#: The whole text of an ``<answer>`` block is the answer (when nothing in it marks one) up to this length.
BLOCK_ANSWER_MAX_CHARS = 300


def answer_block(final: str) -> str | None:
    """The text of the last ``<answer>…</answer>`` block; ``""`` for an empty or unclosed one;
    None when there is no ``<answer>`` tag."""
    if "<" not in final:
        return None
    opening = None
    for opening in _ANSWER_OPEN_RE.finditer(final):  # noqa: B007 - the last opening is the one kept
        pass
    if opening is None:
        return None
    closing = _ANSWER_CLOSE_RE.search(final, opening.end())
    return final[opening.end():closing.start()] if closing else ""


def several_boxes(text: str) -> str | None:
    """The contents of the boxes in the last paragraph holding a box, as one answer listing them
    (``solutions.join_solutions``); None unless there are two or more."""
    boxes = list(top_level_boxes(text))
    if len(boxes) < 2 or any(box.status != "ok" for box, _ in boxes):
        return None
    paragraph = text.rfind("\n\n", 0, boxes[-1][1])
    contents = [clean_answer(box.content) for box, start in boxes if start > paragraph]
    return join_solutions(contents) if len(contents) > 1 and all(contents) else None


def extract_from_final(final: str, answer_type: str | None = None, choices: list[str] | None = None,
                       config: VerifyConfig | None = None, several: bool = False) -> str | None:
    """Extract the answer from a final answer part (no reasoning in it).

    For multiple choice the result is the option letter when one can be determined, otherwise the
    raw answer (which then will not match the gold letter). ``config`` supplies the numeric rule
    used to match a number to an option's value; ``several``: the gold lists several solutions.
    """
    mc = answer_type == "multiple_choice" or (answer_type is None and bool(choices))
    letters = option_letters(choices)
    rule = number_rule(config or DEFAULT_CONFIG)

    block = answer_block(final)
    if block is not None:
        if not block.strip():
            return None
        final = block

    box = last_box(final)
    if box is not None:
        if box.status != "ok":
            return None
        candidate = (several and not mc and several_boxes(final)) or clean_answer(box.content)
        if not candidate:
            return None
        return _as_choice(candidate, choices, letters, rule) if mc else candidate

    candidate = marked_answer(final)
    if candidate:
        return _as_choice(candidate, choices, letters, rule) if mc else candidate
    if block is None:
        candidate = clean_answer(concluding_value(final) or "")
        if candidate and (mc or _looks_like_bare_answer(candidate, answer_type)):
            return _as_choice(candidate, choices, letters, rule) if mc else candidate

    stripped = final.strip()
    if mc:
        letter = letter_of(stripped, letters) if len(stripped) <= BARE_ANSWER_MAX_CHARS else None
        letter = letter or _last_option_mention(final, letters)
        if letter:
            return letter
        lines = [line for line in stripped.splitlines() if line.strip()]
        if lines and len(lines[-1]) <= BARE_ANSWER_MAX_CHARS:
            by_text = choice_letter_for_text(lines[-1], choices, **rule)
            if by_text:
                return by_text
    if block is not None:  # nothing marks an answer inside the block: the value the block names
        candidate = clean_answer(answer_phrase(stripped))
        if not candidate or len(candidate) > BLOCK_ANSWER_MAX_CHARS:
            return None
        return _as_choice(candidate, choices, letters, rule) if mc else candidate
    if stripped and len(stripped) <= BARE_ANSWER_MAX_CHARS and "\n" not in stripped:
        candidate = clean_answer(stripped)
        if candidate and not mc and _looks_like_bare_answer(candidate, answer_type):
            return candidate
    return None


_PROSE_WORD_RE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")


def _looks_like_bare_answer(candidate: str, answer_type: str | None) -> bool:
    """A short unmarked final part is an answer if it has math in it and at most two prose words
    (units: ``5 cm``), or, for a free-form problem, is at most ``BARE_ANSWER_MAX_WORDS`` words;
    sentences such as "I am not sure." or "To answer this, we note 5" are not answers."""
    if looks_mathy(candidate) and len(_PROSE_WORD_RE.findall(candidate)) <= 2:
        return True
    return answer_type == "free_form" and len(candidate.split()) <= BARE_ANSWER_MAX_WORDS


def extract_answer(text: str, answer_type: str | None = None,
                   choices: list[str] | None = None) -> str | None:
    """The final answer of a model output, or None.

    ``text`` is the full output: when it has a ``<think>`` block only the part after the last
    ``</think>`` is searched (an unclosed ``<think>`` leaves nothing to search), so an answer that
    appears only in the reasoning is not found. For ``multiple_choice`` (or when ``choices`` are
    given and the type is unknown) the answer is returned as its option letter when it names an
    option or equals an option's text.
    """
    segments = split_output(text or "")
    return extract_from_final(segments.final, answer_type, choices)
