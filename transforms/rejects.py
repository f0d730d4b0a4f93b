"""Reject rows (dead letters, drops) counted under the stage that made them, as ``<kind>_<reason>`` counters."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.outputs import RejectRow


def count_reject(row: RejectRow, kind: str) -> RejectRow:
    """Count ``row`` in its stage's namespace (``dropped_duplicate`` under ``dedup`` …) and pass it on."""
    Metrics.counter(row.stage, f"{kind}_{row.reason}").inc()
    return row


class CountRejects(beam.PTransform):
    """RejectRows → the same rows, each counted under its stage and reason."""

    def __init__(self, kind: str):
        super().__init__()
        self._kind = kind

    def expand(self, rows):
        return rows | "Count" >> beam.Map(count_reject, self._kind)
