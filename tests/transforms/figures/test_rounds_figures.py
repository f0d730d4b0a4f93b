"""The cross-round figures (``transforms/figures/rounds.py``) against a plain recomputation, on finished-run layouts
written here (manifest plus id columns of ``sft``/``sft_trl``, ``dropped``, ``dead_letter``), any outcomes."""
from __future__ import annotations

import json
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.figures import RoundsFigures
from transforms.figures.rounds import ComputeRoundsFigures, RoundRun

IDS = [f"s/q{i}" for i in range(12)]
OUTCOME = st.sampled_from(["kept", "no_correct_chain", "dead_letter", "front", None])  # None: not in the round


def _write_run(root: Path, outcomes: dict[str, str], kept_set: str) -> str:
    trainers = ["llamafactory"] if kept_set == "sft" else ["trl"]
    root.mkdir(parents=True)
    (root / "manifest.json").write_text(json.dumps({"config": {"output": {"trainers": trainers}}}))
    kept = [pid for pid, o in outcomes.items() if o == "kept"]
    dropped = [pid for pid, o in outcomes.items() if o == "no_correct_chain"]
    dead = [(pid, "generate" if o == "dead_letter" else "dedup") for pid, o in outcomes.items() if o in ("dead_letter", "front")]
    tables = {kept_set: pa.table({"id": kept, "pass_rate": [0.5] * len(kept)}),
              "dropped": pa.table({"row_id": dropped, "reason": ["no_correct_chain"] * len(dropped)}),
              "dead_letter": pa.table({"row_id": [d[0] for d in dead], "stage": [d[1] for d in dead]})}
    for name, table in tables.items():
        (root / name).mkdir()
        half = table.num_rows // 2  # two shards each, one maybe empty
        pq.write_table(table.slice(0, half), root / name / "train-00000-of-00002.parquet")
        pq.write_table(table.slice(half), root / name / "train-00001-of-00002.parquet")
    return str(root)


def _expected(rounds: list[dict[str, str]], takes: list[int | None]) -> RoundsFigures:
    kept = [{pid for pid, o in r.items() if o == "kept"} for r in rounds]
    left = [{pid: o for pid, o in r.items() if o != "front"} for r in rounds]  # front dead letters have no outcome
    rescued = {f"r{i}": sum(1 for pid in kept[i] if pid in left[t] and left[t][pid] != "kept")
               for i, t in enumerate(takes) if t is not None}
    return RoundsFigures(rescued=rescued, kept_total=len(set().union(*kept)))


@settings(max_examples=12, deadline=None)
@given(rounds=st.lists(st.fixed_dictionaries({pid: OUTCOME for pid in IDS}), min_size=1, max_size=3),
       picks=st.lists(st.integers(min_value=0, max_value=2), min_size=3, max_size=3), trl=st.booleans())
def test_rescued_and_kept_total_are_counted_as_a_plain_recomputation_counts_them(tmp_path_factory, rounds, picks, trl):
    base = tmp_path_factory.mktemp("rounds")
    rounds = [{pid: o for pid, o in r.items() if o is not None} for r in rounds]
    takes = [None if i == 0 or picks[i] % 2 else picks[i] % i for i in range(len(rounds))]  # an earlier round or none
    dirs = [_write_run(base / f"r{i}", r, "sft_trl" if trl and i % 2 else "sft") for i, r in enumerate(rounds)]
    runs = [RoundRun(f"r{i}", d, None if t is None else dirs[t]) for i, (d, t) in enumerate(zip(dirs, takes))]
    with beam.Pipeline() as p:
        assert_that(p | ComputeRoundsFigures(runs), equal_to([_expected(rounds, takes)]))
