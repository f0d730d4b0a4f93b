"""Curriculum order for RL rows (R1V3): the order rows are written in, across shards, and their ``extra_info.index``.

``pass_rate``: easiest first (highest teacher pass rate, then lowest difficulty); ``difficulty``:
lowest difficulty first (then highest pass rate); ``id``: by problem id. Ties end on the id, so the
order is total and the same on every runner. A trainer reading the shards in file order without
shuffling (verl: ``data.shuffle=False``) sees the curriculum.
"""
from __future__ import annotations

import dataclasses
from typing import Literal, TypeVar

from schemas.outputs import RLRow, TRLRLRow

RLOrder = Literal["id", "pass_rate", "difficulty"]
# One of the RL row types, the same in and out. Not ``RLRow | TRLRLRow``: Beam (2.78+) folds a union of
# dataclasses into one merged schema type that neither row type is consistent with.
AnyRLRow = TypeVar("AnyRLRow", RLRow, TRLRLRow)
ORDER_DESCRIPTIONS = {
    "id": "by problem id",
    "pass_rate": "easiest first: teacher pass rate high to low (ties: difficulty low to high, then id)",
    "difficulty": "difficulty low to high (ties: pass rate high to low, then id)",
}


def order_key(order: RLOrder):
    """The sort key function of ``order`` for RL rows (verl's or TRL's: both carry ``extra_info``)."""
    def key(row: AnyRLRow) -> tuple:
        info = row.extra_info
        if order == "pass_rate":
            return (-info.pass_rate, info.difficulty, info.id)
        if order == "difficulty":
            return (info.difficulty, -info.pass_rate, info.id)
        return (info.id,)
    return key


def with_index(row: AnyRLRow, index: int) -> AnyRLRow:
    """``row`` with ``extra_info.index`` set to its place in the written order."""
    return dataclasses.replace(row, extra_info=dataclasses.replace(row.extra_info, index=index))
