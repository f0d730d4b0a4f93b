"""A row as read from a source, before validation."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class SourceRow:
    """One input row with its columns mapped to mmcot's field names.

    ``fields`` holds whatever the source had under each mapped name (unvalidated);
    ``image_root`` is the directory relative image paths resolve against (None: no paths allowed);
    ``file`` and ``index`` (1-based row number) say where the row was read, which decides which of
    two rows with one id keeps it.
    """

    row_id: str
    source: str
    split: str
    fields: dict[str, Any]
    image_root: str | None
    file: str = ""
    index: int = 0


@dataclass
class ReadCount:
    """How many rows one source file yielded (the ``read`` side of the accounting identity).

    ``sampled_out`` counts the rows the source's ``weight`` left out (never read, so not in ``rows``).
    """

    file: str
    rows: int
    source: str = ""
    sampled_out: int = 0
