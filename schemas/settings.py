"""Base class for the per-stage settings that ``configs/*.yaml`` are validated into."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Settings(BaseModel):
    """Strict, immutable settings: an unknown key or a wrong type is an error naming the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)
