"""Split a completion into reasoning and final answer text."""
from __future__ import annotations

_OPEN, _CLOSE = "<think>", "</think>"


def split_reasoning(content: str, reasoning: str | None) -> tuple[str, str]:
    """(reasoning, answer_text).

    The server's reasoning field wins when a reasoning parser filled it; else the text inside
    ``<think>…</think>`` is the reasoning and what follows the last ``</think>`` the answer;
    without a closed block there is no reasoning and the whole content is the answer text.
    """
    if reasoning:
        return reasoning.strip(), content.strip()
    close = content.rfind(_CLOSE)
    if close < 0:
        return "", content.strip()
    head = content[:close]
    open_at = head.find(_OPEN)
    body = head[open_at + len(_OPEN):] if open_at >= 0 else head
    return body.strip(), content[close + len(_CLOSE):].strip()
