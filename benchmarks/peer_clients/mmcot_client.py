"""mmcot's Generate stage (the whole teacher-call DoFn: cache keys, response cache, retries) on DirectRunner.

It reads the planned problems the request file was built from (``--requests`` with ``.pkl``
for ``.jsonl``), so its requests are the other clients' requests, through a fresh response cache
under ``--work``. The pipeline reads that file itself, as a run reads its source: a ``beam.Create`` of
the problems would pickle and bz2-compress them into the pipeline, a sixth of the stage's CPU here,
which no run pays; chains and their tokens are summed from the stage's output in the pipeline.
``--samples-per-request`` is ``teacher.samples_per_request`` (1: one request per sample, as the
other clients send).
"""
from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import apache_beam as beam

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from common import Clock, arguments, report

from transforms.generate import GenerateChains
from transforms.teachers.registry import Endpoint
from transforms.teachers.settings import TeacherSettings


def main() -> None:
    args = arguments(__doc__.split("\n\n")[0], ("--samples-per-request", {"type": int, "default": 1}))
    problems = args.requests.with_suffix(".pkl")
    planned = pickle.loads(problems.read_bytes())
    cache = args.work / "cache"
    settings = TeacherSettings(model=args.model, base_url=args.base_url, max_in_flight=args.concurrency, timeout_s=3600,
                               samples_per_request=args.samples_per_request)
    totals = args.work / "totals.json"
    with Clock() as clock, beam.Pipeline(runner="DirectRunner") as p:
        chains = (p | beam.Create([str(problems)]) | beam.FlatMap(lambda path: pickle.loads(Path(path).read_bytes()))
                  | GenerateChains(Endpoint(settings, str(cache))))
        _ = (chains.chains
             | beam.FlatMap(lambda pc: [(1, g.completion_tokens) for g in pc.generations])
             | beam.CombineGlobally(lambda pairs: [sum(c) for c in zip(*pairs)] if pairs else [0, 0])
             | beam.Map(lambda sums: totals.write_text(json.dumps(list(sums)))))
    done, tokens = json.loads(totals.read_text())
    report(sum(pp.plan.n for pp in planned), done, tokens, clock)


if __name__ == "__main__":
    main()
