"""Difficulty bands: each a token budget, a target length for selection and a prompt style, and the band a
difficulty falls in.

Shared by the plan stage (the length policies) and evaluate (which groups its results by band).
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.settings import Settings

PromptStyle = Literal["concise", "standard", "thorough"]


class Band(Settings):
    """Problems with difficulty <= ``max_difficulty`` (and above the previous band) get this budget.

    ``target_tokens`` is the chain length selection aims for (default: half the budget).
    """

    name: str = Field(description="The band's name (recorded in each chain's plan).")
    max_difficulty: float = Field(
        ge=0.0, le=1.0,
        description="Highest difficulty in the band (inclusive; it starts above the previous band's).",
    )
    max_tokens: int = Field(gt=0, description="Token budget of a chain (the request's max_tokens).")
    target_tokens: int | None = Field(
        default=None, gt=0,
        description="Chain length selection aims for (select.strategy length_fit); null: half of max_tokens.",
    )
    prompt_style: PromptStyle = Field(default="standard", description="Instruction style: concise, standard or thorough.")

    @property
    def target(self) -> int:
        """The selection target length."""
        return self.target_tokens or self.max_tokens // 2


def band_for(difficulty: float, bands: list[Band]) -> Band:
    """The first band whose ``max_difficulty`` is at least ``difficulty``."""
    return next(b for b in bands if difficulty <= b.max_difficulty)
