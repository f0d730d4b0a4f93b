"""What an endpoint's tokens cost: optional prices per million input and output tokens.

Costs are counted as integer picodollars (Beam counters are integers; a price with up to six
decimals per million tokens is a whole number of picodollars per token, so sums are exact).
"""
from __future__ import annotations

from pydantic import Field

from schemas.settings import Settings

PICO = 10**12


class PriceSettings(Settings):
    """``<section>.price``: US dollars per million input (prompt) and output (completion) tokens, as the
    endpoint charges them in the mode configured (a batch endpoint's price is its batch price)."""

    input_per_million: float = Field(
        ge=0,
        description="US dollars per million input (prompt) tokens, as the endpoint charges them in this mode.",
    )
    output_per_million: float = Field(
        ge=0,
        description="US dollars per million output (completion) tokens, as the endpoint charges them in this mode.",
    )

    def picodollars(self, tokens_in: int, tokens_out: int) -> int:
        """The cost of ``tokens_in`` prompt and ``tokens_out`` completion tokens, in picodollars."""
        return tokens_in * round(self.input_per_million * 10**6) + tokens_out * round(self.output_per_million * 10**6)


def dollars(picodollars: int) -> float:
    """Picodollars as dollars."""
    return picodollars / PICO
