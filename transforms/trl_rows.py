"""The TRL twins of the SFT, RL and preference rows: prompt text split at its ``<image>`` tags into typed parts.

TRL's vision collators and ``prepare_multimodal_messages`` fill ``{"type": "image"}`` parts with
``images`` in order and wrap plain strings as text parts, inserting image parts of their own before a
string prompt; a literal ``<image>`` left in the text then reaches the processor as text and breaks
it. Splitting at the tags keeps each image where the question had it. The select stage builds these
twins and checks every row, twins included, against ``transforms/row_invariant.py`` before writing any.
"""
from __future__ import annotations

from schemas.outputs import (
    IMAGE_TAG,
    ContentPart,
    Message,
    PartsMessage,
    PreferenceRow,
    RLRow,
    SFTRow,
    TRLPreferenceRow,
    TRLRLRow,
    TRLSFTRow,
)


def content_parts(text: str) -> list[ContentPart]:
    """``text`` as typed parts: one ``image`` part per ``<image>`` tag, the text between (as it is) as ``text`` parts.

    Blank pieces (between adjacent tags, or before a leading tag) are left out.
    """
    parts: list[ContentPart] = []
    for i, piece in enumerate(text.split(IMAGE_TAG)):
        if i:
            parts.append(ContentPart("image"))
        if piece.strip():
            parts.append(ContentPart("text", piece))
    return parts


def parts_message(message: Message) -> PartsMessage:
    return PartsMessage(message.role, content_parts(message.content))


def trl_sft_row(row: SFTRow) -> TRLSFTRow:
    """The SFT row in TRL's conversational vision layout."""
    messages = [parts_message(m) for m in row.messages]
    return TRLSFTRow(id=row.id, source=row.source, images=row.images, messages=messages, difficulty=row.difficulty,
                     pass_rate=row.pass_rate, assessment=row.assessment, chain_score=row.chain_score, scorer=row.scorer)


def trl_preference_row(row: PreferenceRow) -> TRLPreferenceRow:
    """The preference pair in TRL's conversational DPO layout."""
    prompt = [parts_message(m) for m in row.messages]
    return TRLPreferenceRow(id=row.id, prompt=prompt, images=row.images, chosen=[parts_message(row.chosen)],
                            rejected=[parts_message(row.rejected)], rejected_reason=row.rejected_reason,
                            difficulty=row.difficulty, pass_rate=row.pass_rate, assessment=row.assessment,
                            chosen_score=row.chosen_score, rejected_score=row.rejected_score, scorer=row.scorer)


def trl_rl_row(row: RLRow) -> TRLRLRow:
    """The RL row with its prompt as typed parts, for TRL's GRPOTrainer (same reward columns)."""
    prompt = [parts_message(m) for m in row.prompt]
    return TRLRLRow(data_source=row.data_source, prompt=prompt, images=row.images, ability=row.ability,
                    reward_model=row.reward_model, extra_info=row.extra_info)
