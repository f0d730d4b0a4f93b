"""The value an answer sentence names: ``The largest $n$ is 34.`` -> ``34``.

An answer marker (``Final Answer:``, ``The answer is``), an ``<answer>`` block or a concluding
sentence (``So the area is 12.``) may hold a sentence rather than a value. :func:`answer_phrase`
reads it:

1. a trailing clause is cut (``yes, because both sides are equal`` -> ``yes``; ``5 since 2+3=5``);
2. with a copula outside math (``is``, ``are``, ``equals``, ``was``; in a sentence of more than
   two prose words also ``=``): the part after the last one (``The largest $n$ is 34`` -> ``34``,
   ``n is 34`` -> ``34``), unless only the part before it has math in it (``12 is the answer``
   -> ``12``);
3. text with at most two prose words outside math (``5 cm``, ``x = 5``, ``x^2 + y^2 = 1``,
   ``12 apples``) is the value;
4. otherwise the sentence's one math span or one number, if it has exactly one;
5. otherwise the whole text (a free-form phrase: ``the Eiffel Tower in Paris``).

Math spans (``$…$``, ``\\(…\\)``) are values, never cut inside; the value keeps the span's content.
:func:`concluding_value` finds the value of a final part's last sentence when it starts with a
conclusion word (``So``, ``Thus``, ``Therefore``, ``Hence``, ``In conclusion``) and names one.
"""
from __future__ import annotations

import re

from transforms.verifiers.answer_types import looks_mathy

_MATH_SPAN_RE = re.compile(r"\$\$.+?\$\$|\$[^$]+\$|\\\(.+?\\\)|\\\[.+?\\\]", re.S)
_CLAUSE_RE = re.compile(
    r",?\s+(?:because|since|as\s+(?:it|this|they|the|we|shown)|which|where|so\s+that|given\s+that)\b"
    r"|,\s+(?:so|thus|hence|therefore|but)\b", re.I)
_PROSE_WORD_RE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")
_WORD_COPULA_RE = re.compile(r"\s(?:is|are|was|were|equals|becomes|will\s+be|would\s+be|must\s+be)\s", re.I)
#: In a sentence ``=`` is a copula too (``the total = 12 apples``); in a value it is math (``x^2 + y^2 = 1``).
_COPULA_RE = re.compile(_WORD_COPULA_RE.pattern + r"|\s=\s", re.I)
_FILLER_RE = re.compile(r"^(?:(?:equal|equivalent)\s+to|approximately|about|exactly|just|then|therefore|thus|"
                        r"simply|precisely|given\s+by|:)\s*", re.I)
_NUMBER_RE = re.compile(r"(?<![\w.])[-+]?\d+(?:[.,]\d+)*(?:\s*%)?(?![\w.])")
_CONCLUSION_RE = re.compile(r"^(?:so|thus|therefore|hence|finally|in\s+conclusion|overall|consequently)\b[,:]?\s*",
                            re.I)
_SENTENCE_END_RE = re.compile(r"\.(?=\s|$)|\n+")
#: Prose words a value may carry (``12 apples``, ``5 square units``).
MAX_VALUE_WORDS = 2


def _masked(text: str) -> str:
    """``text`` with each math span's content replaced by ``#`` (same length), so searches skip math."""
    return _MATH_SPAN_RE.sub(lambda m: "#" * len(m.group()), text)


def _unwrap_spans(text: str) -> str:
    """Math spans replaced by their content: ``$34$ units`` -> ``34 units``."""
    def content(m: re.Match) -> str:
        s = m.group()
        cut = 2 if s.startswith(("$$", "\\(", "\\[")) else 1
        return s[cut:-cut].strip()
    return _MATH_SPAN_RE.sub(content, text).strip()


def _has_math(text: str) -> bool:
    return bool(_MATH_SPAN_RE.search(text)) or looks_mathy(_masked(text).replace("#", ""))


def answer_phrase(text: str) -> str:
    """The value ``text`` names (see the module docstring); ``text`` itself when it is a value."""
    text = text.strip()
    masked = _masked(text)
    cut = _CLAUSE_RE.search(masked)
    if cut and cut.start() > 0:
        text, masked = text[:cut.start()].strip(), masked[:cut.start()]
    sentence = len(_PROSE_WORD_RE.findall(masked)) > MAX_VALUE_WORDS
    copulas = list((_COPULA_RE if sentence else _WORD_COPULA_RE).finditer(masked))
    if copulas:
        head, tail = text[:copulas[0].start()], text[copulas[-1].end():]
        tail = _FILLER_RE.sub("", tail.strip()).strip()
        if tail and (_has_math(tail) or not _has_math(head)):
            return _unwrap_spans(tail)
        if _has_math(head):
            return _unwrap_spans(head)
    if not sentence:
        return text
    spans = _MATH_SPAN_RE.findall(text)
    if len(spans) == 1:
        return _unwrap_spans(spans[0])
    numbers = _NUMBER_RE.findall(masked)
    if not spans and len(numbers) == 1:
        return numbers[0].strip()
    return text


def concluding_value(final: str) -> str | None:
    """The value named by the last sentence of ``final`` when it starts with a conclusion word and
    names one (a copula or a math span in it): ``So the area is $12$ cm^2.`` -> ``12 cm^2``."""
    sentence = _last_sentence(final)
    m = _CONCLUSION_RE.match(sentence) if sentence else None
    if not m:
        return None
    rest = sentence[m.end():]
    if not (_COPULA_RE.search(_masked(rest)) or _MATH_SPAN_RE.search(rest)):
        return None
    return answer_phrase(rest) or None


def _last_sentence(text: str) -> str | None:
    """The last sentence of ``text`` (a full stop before a space or the end, or a line break,
    outside math spans ends one), without its full stop."""
    text = text.rstrip()
    ends = list(_SENTENCE_END_RE.finditer(_masked(text)))
    stop = len(text)
    if ends and ends[-1].end() == len(text):
        stop = ends.pop().start()
    start = ends[-1].end() if ends else 0
    return text[start:stop].strip() or None
