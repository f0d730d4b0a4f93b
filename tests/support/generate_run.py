"""The Generate stage run in a test on the in-process runner: what it emitted and what it counted."""
from __future__ import annotations

from collections import Counter

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline

from pipelines.metrics import query_metrics
from transforms.generate import GenerateChains
from transforms.tags import DEAD_LETTER
from transforms.teachers.registry import Endpoint

_SEEN: dict[str, list] = {}  # what the pipeline emitted, by label (in-process runner: the module is shared)


def _keep(item, label: str):
    _SEEN.setdefault(label, []).append(item)


def run_generate(endpoint: Endpoint, items: list) -> tuple[dict, list, Counter]:
    """Generate over ``items`` (PlannedProblems): (chains by problem id, dead letters, the stage's counters)."""
    p = TestPipeline()
    out = p | beam.Create(items) | GenerateChains(endpoint)
    for label in ("chains", "dead"):
        _SEEN[label] = []
    out.chains | "KeepChains" >> beam.Map(_keep, "chains")
    out[DEAD_LETTER] | "KeepDead" >> beam.Map(_keep, "dead")
    result = p.run()
    result.wait_until_finish()
    chains = {c.planned.problem.id: c for c in _SEEN.pop("chains")}
    return chains, _SEEN.pop("dead"), Counter(query_metrics(result, "TestPipeline").stages["generate"].counters)
