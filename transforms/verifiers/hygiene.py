"""Chain hygiene: text a student's tokenizer would read as control, kept out of training text (``verify.hygiene``).

Hugging Face tokenizers split special tokens out of plain text, so a chain holding ``<|im_end|>``
teaches the student to end its turn mid-chain. What is found, and its reason word:

- ``reserved_token``: the special tokens of the chat templates of the student families people train
  (:data:`DEFAULT_TOKENS`, :data:`DEFAULT_PATTERNS`: Qwen2/2.5/3 and their VL models, Llama 3,
  Mistral, Gemma 2/3, InternVL, DeepSeek, Phi, SmolLM/SmolVLM), ``extra_tokens``, the named
  ``student_tokenizer``'s special and added tokens, and mmcot's own ``<think>``/``</think>`` (a
  row wraps the reasoning in exactly one pair);
- ``media_marker``: ``<image>``, ``<video>``, ``<audio>`` and the placeholder forms mmcot's
  normalize reads as images (``<image 1>``, ``<Image_2>`` …, see ``transforms/image_markers.py``),
  and ``mmcot-image:`` references;
- ``control_chars``: NUL and every other control character (C0, DEL, C1) but tab and newline;
- ``bad_text``: lone surrogates.

``policy: drop`` (default) fails the chain with those words; ``escape`` keeps it with each find
made inert by :func:`escape`, reversibly (:func:`unescape`): U+2060 WORD JOINER (``ESC``) already
in the text is doubled, a token or marker gets one ``ESC`` after its first character (so no
tokenizer matches it), and a control character ``c`` becomes ``ESC`` + ``chr(0xE000 + c)`` (a
private-use character). A lone surrogate cannot be stored as UTF-8 at all: ``bad_text`` fails the
chain under either policy. Pure functions; the tokenizer is read once per process, offline.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator

from schemas.settings import Settings

ESC = "\u2060"
_PRIVATE = 0xE000
THINK_TAGS = ("<think>", "</think>")
IMAGE_MARKER = "<image>"

DEFAULT_TOKENS: tuple[str, ...] = (
    # mmcot's own reasoning tags (also Qwen3's and DeepSeek-R1's)
    *THINK_TAGS,
    # Qwen2 / 2.5 / 3 and their VL models (the <|...|> ones are covered by the first pattern)
    "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>",
    # Mistral (sentencepiece and Tekken templates, Pixtral)
    "<s>", "</s>", "<unk>", "[INST]", "[/INST]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[TOOL_CALLS]",
    "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]", "[IMG]", "[IMG_BREAK]",
    "[IMG_END]",
    # Gemma 2 / 3
    "<bos>", "<eos>", "<pad>", "<mask>", "<start_of_turn>", "<end_of_turn>", "<start_of_image>", "<end_of_image>",
    "<image_soft_token>",
    # InternVL (and InternLM2's <|...|> tokens)
    "<img>", "</img>", "<IMG_CONTEXT>", "<quad>", "</quad>", "<ref>", "</ref>", "<box>", "</box>",
    # SmolLM / SmolLM2 / SmolVLM
    "<repo_name>", "<reponame>", "<file_sep>", "<filename>", "<gh_stars>", "<issue_start>", "<issue_comment>",
    "<issue_closed>", "<jupyter_start>", "<jupyter_text>", "<jupyter_code>", "<jupyter_output>",
    "<jupyter_script>", "<empty_output>", "<fake_token_around_image>", "<global-img>", "<end_of_utterance>",
)
DEFAULT_PATTERNS: tuple[str, ...] = (
    r"<\|[^|<>\s]{1,64}\|>",  # <|im_end|>, <|eot_id|>, <|start_header_id|>, <|endoftext|>, <|image_pad|>, <|end|> …
    r"<｜[^｜<>]{1,64}｜>",  # DeepSeek's full-width bars: <｜end▁of▁sentence｜>, <｜Assistant｜> …
    r"<unused\d{1,4}>",  # Gemma
    r"\[control_\d{1,4}\]",  # Mistral
    r"<row_\d{1,3}_col_\d{1,3}>",  # SmolVLM's image grid
)
MEDIA_PATTERN = r"<\s*(?:image|video|audio)[\s_-]*\d*\s*>|mmcot-image:"
_CONTROL = "\x00-\x08\x0b-\x1f\x7f-\x9f"
REASONS = {"reserved": "reserved_token", "media": "media_marker", "control": "control_chars", "surrogate": "bad_text"}


class HygieneSettings(Settings):
    """``verify.hygiene``: what a kept chain may not hold, and what happens to one that does (see the module)."""

    policy: Literal["drop", "escape"] = "drop"
    tokens: tuple[str, ...] = DEFAULT_TOKENS
    patterns: tuple[str, ...] = DEFAULT_PATTERNS
    extra_tokens: tuple[str, ...] = ()
    student_tokenizer: str | None = Field(default=None, min_length=1)

    @field_validator("tokens", "extra_tokens")
    @classmethod
    def _plain_tokens(cls, tokens: tuple[str, ...]) -> tuple[str, ...]:
        bad = [t for t in tokens if not t.strip() or not 2 <= len(t) <= 200]
        if bad:
            raise ValueError(f"a token must be 2 to 200 characters and not only whitespace, got {bad[:3]!r}")
        return tokens

    @field_validator("patterns")
    @classmethod
    def _compiling(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} is not a regular expression: {exc}") from None
        return patterns


@functools.lru_cache(maxsize=8)
def student_tokens(path: str) -> tuple[str, ...]:
    """The special and added tokens of the tokenizer at ``path`` (a local directory or a cached Hub name), read with
    transformers offline; ValueError naming the path when it cannot be read."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ValueError(f"verify.hygiene.student_tokenizer {path!r} cannot be read offline: {exc}"[:500]) from None
    return tuple(sorted({*tokenizer.all_special_tokens, *tokenizer.get_added_vocab()}))


def _alternation(literals: Iterable[str], patterns: Iterable[str]) -> str:
    """Literal tokens (behind a look-ahead for their first characters: most positions then fail at once, ten times
    faster than trying each token) or any of ``patterns``."""
    ordered = sorted(set(literals), key=len, reverse=True)  # the longest token wins where two start alike
    leads = "".join(sorted({re.escape(t[0]) for t in ordered}))
    branches = [f"(?=[{leads}])(?:{'|'.join(re.escape(t) for t in ordered)})"] if ordered else []
    return "|".join([*branches, *patterns]) or "(?!)"


@dataclass(frozen=True)
class Hygiene:
    """A compiled hygiene list (one regular expression with a named group per reason) and its policy."""

    pattern: re.Pattern
    policy: str

    def finds(self, text: str) -> list[str]:
        """The reason words of what ``text`` holds, in order of first appearance."""
        words: list[str] = []
        for match in self.pattern.finditer(text):
            word = REASONS[match.lastgroup]
            if word not in words:
                words.append(word)
                if len(words) == len(REASONS):
                    break
        return words

    def escape(self, text: str) -> str:
        """``text`` with every find but lone surrogates made inert, reversibly (see the module)."""
        return self.pattern.sub(_inert, text.replace(ESC, ESC + ESC))


def _inert(match: re.Match) -> str:
    found = match.group()
    if match.lastgroup == "control":
        return ESC + chr(_PRIVATE + ord(found))
    if match.lastgroup == "surrogate":
        return found
    return found[0] + ESC + found[1:]


_UNESCAPE = re.compile(f"{ESC}({ESC}|[{chr(_PRIVATE)}-{chr(_PRIVATE + 0x9F)}])?")


def unescape(text: str) -> str:
    """The text :meth:`Hygiene.escape` was given."""
    def one(match: re.Match) -> str:
        after = match.group(1)
        if after is None:
            return ""
        return ESC if after == ESC else chr(ord(after) - _PRIVATE)

    return _UNESCAPE.sub(one, text)


@functools.lru_cache(maxsize=16)
def hygiene(settings: HygieneSettings) -> Hygiene:
    """The compiled list for ``settings`` (once per process; the student tokenizer's tokens included)."""
    media = re.compile(MEDIA_PATTERN, re.IGNORECASE)
    literals = {*settings.tokens, *settings.extra_tokens}
    if settings.student_tokenizer:
        literals |= set(student_tokens(settings.student_tokenizer))
    literals = {t for t in literals if len(t) >= 2 and t.strip() and not media.fullmatch(t)}  # markers: their own reason
    pattern = (f"(?P<reserved>{_alternation(literals, settings.patterns)})"
               f"|(?P<media>(?i:{MEDIA_PATTERN}))|(?P<control>[{_CONTROL}])|(?P<surrogate>[\ud800-\udfff])")
    return Hygiene(re.compile(pattern), settings.policy)


def pieces_finds(pieces: Iterable[str], check: Hygiene) -> list[str]:
    """The reason words over several texts (each checked alone, so no find spans two), in order of first appearance."""
    words: list[str] = []
    for piece in pieces:
        words += [w for w in check.finds(piece) if w not in words]
    return words
