"""Runner presets, and the Dask runner fixes (tagged outputs, finish_bundle outputs, every sink, side inputs, shuffles spread)."""
from __future__ import annotations

import hashlib
import json
import threading

import apache_beam as beam
import pytest
from apache_beam.transforms.window import GlobalWindows

from pipelines.dask_runner import PARTITIONS_PER_THREAD
from pipelines.runners import DASK_RUNNER, pipeline_options


class _Split(beam.DoFn):
    """Main output for x % 3 == 1, tag "three" for multiples of 3, the rest held to finish_bundle."""

    def start_bundle(self):
        self.held = []

    def process(self, x):
        if x % 3 == 0:
            yield beam.pvalue.TaggedOutput("three", x)
        elif x % 3 == 1:
            yield x
        else:
            self.held.append(x)

    def finish_bundle(self):
        for x in self.held:
            yield beam.pvalue.TaggedOutput("held", GlobalWindows.windowed_value(x))


def _write_sorted(directory, name):
    def write(keyed):
        _, values = keyed
        (directory / f"{name}.json").write_text(json.dumps(sorted(values)))

    return write


@pytest.mark.integration  # a LocalCluster of worker processes
def test_dask_runner_routes_each_output_to_its_own_consumer_and_runs_every_sink(tmp_path):
    with pipeline_options(["--runner", "dask"]) as options:
        assert options.get_all_options()["runner"] == DASK_RUNNER
        p = beam.Pipeline(options=options)
        out = p | beam.Create(range(12)) | beam.ParDo(_Split()).with_outputs("three", "held", main="main")
        for name in ("main", "three", "held"):
            (out[name] | f"Key_{name}" >> beam.Map(lambda x: (0, x)) | f"Group_{name}" >> beam.GroupByKey()
             | f"Write_{name}" >> beam.Map(_write_sorted(tmp_path, name)))
        p.run().wait_until_finish()
    result = {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in ("main", "three", "held")}
    assert result == {"main": [1, 4, 7, 10], "three": [0, 3, 6, 9], "held": [2, 5, 8, 11]}


class _Counted(beam.DoFn):
    """Yields its input, appending each element to ``log``; holds a lock once set up (a lock cannot be pickled)."""

    def __init__(self, log):
        self.log = str(log)

    def setup(self):
        self.lock = threading.Lock()

    def process(self, x):
        with self.lock, open(self.log, "a") as fh:
            fh.write(f"{x}\n")
        yield x


@pytest.mark.integration  # a LocalCluster of worker processes
def test_dask_runner_computes_each_side_input_once_without_repickling_set_up_dofns(tmp_path):
    with pipeline_options(["--runner", "dask"]) as options:
        p = beam.Pipeline(options=options)
        counted = p | "Numbers" >> beam.Create(range(6)) | "Counted" >> beam.ParDo(_Counted(tmp_path / "log"))
        squares = counted | "Squares" >> beam.Map(lambda x: (x, x * x))
        total = counted | "Total" >> beam.Map(lambda x, sq: sq[x] + len(sq), beam.pvalue.AsDict(squares))
        both = (p | "Keys" >> beam.Create([1, 4])
                | "Look" >> beam.Map(lambda k, xs, sq, tot: (k, sorted(xs), sq[k], sorted(tot)),
                                     beam.pvalue.AsList(counted), beam.pvalue.AsDict(squares), beam.pvalue.AsList(total)))
        counted | "Sink" >> beam.Map(lambda x: x)  # the side input's producer has a consumer of its own as well
        (both | "One" >> beam.Map(lambda kv: (0, kv)) | "Group" >> beam.GroupByKey()
         | "Write" >> beam.Map(lambda kv: (tmp_path / "out.json").write_text(json.dumps(sorted(kv[1])))))
        p.run().wait_until_finish()
    totals = [x * x + 6 for x in range(6)]  # a side input computed from another side input
    assert json.loads((tmp_path / "out.json").read_text()) == [[1, list(range(6)), 1, totals], [4, list(range(6)), 16, totals]]
    assert sorted(int(x) for x in (tmp_path / "log").read_text().split()) == list(range(6))  # each element once


class _BundleSizes(beam.DoFn):
    """Appends each bundle's element count to ``log``, one line per bundle."""

    def __init__(self, log):
        self.log = str(log)

    def start_bundle(self):
        self.count = 0

    def process(self, x):
        self.count += 1
        yield x

    def finish_bundle(self):
        with open(self.log, "a") as fh:
            fh.write(f"{self.count}\n")


@pytest.mark.integration  # a LocalCluster of worker processes
def test_dask_runner_spreads_reshuffle_and_group_by_key_over_the_cluster(tmp_path):
    partitions = PARTITIONS_PER_THREAD * 2  # pipeline_options' local cluster: 2 workers of 1 thread
    with pipeline_options(["--runner", "dask"]) as options:
        p = beam.Pipeline(options=options)
        chunks = p | beam.Create([0, 1, 2]) | beam.Reshuffle() | "Spread" >> beam.ParDo(_BundleSizes(tmp_path / "spread"))
        groups = (chunks | beam.FlatMap(lambda c: range(c * 100, c * 100 + 100)) | beam.Map(lambda x: (x % 30, x))
                  | beam.GroupByKey() | "Groups" >> beam.ParDo(_BundleSizes(tmp_path / "groups")))
        groups | beam.Map(lambda kv: (tmp_path / f"g{kv[0]}.json").write_text(json.dumps(sorted(kv[1]))))
        p.run().wait_until_finish()
    assert {k: json.loads((tmp_path / f"g{k}.json").read_text()) for k in range(30)} == {
        k: sorted(x for x in range(300) if x % 30 == k) for k in range(30)}
    spread = [int(n) for n in (tmp_path / "spread").read_text().split()]
    groups = [int(n) for n in (tmp_path / "groups").read_text().split()]
    assert len(spread) == partitions and sorted(spread)[-3:] == [1, 1, 1]  # 3 elements, no longer one partition of 3
    assert len(groups) == partitions and sum(groups) == 30 and max(groups) < 30


DASK_CHILD = """
import json, sys
from pathlib import Path
import apache_beam as beam
from pipelines.runners import pipeline_options
out = Path(sys.argv[1])
with pipeline_options(["--runner", "dask"]) as options:
    p = beam.Pipeline(options=options)
    (p | beam.Create(range(60)) | beam.Map(lambda x: (x % 4, x)) | beam.GroupByKey()
     | beam.Map(lambda kv: (out / f"g{kv[0]}.json").write_text(json.dumps(sorted(kv[1])))))
    p.run().wait_until_finish()
print(json.dumps(sorted(m for m in ("dask.dataframe", "dask.array", "scipy") if m in sys.modules)))
"""


@pytest.mark.integration  # a LocalCluster of worker processes
def test_dask_translation_groups_without_importing_dask_dataframe(tmp_path):
    """Bag.groupby picks its shuffle by asking dask.dataframe about pyarrow unless one is named; the runner names
    ``tasks`` (what it picks for a distributed client), so the launcher never loads dask.dataframe, dask.array, SciPy."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", DASK_CHILD, str(tmp_path)], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(root)}, timeout=300, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    assert {k: json.loads((tmp_path / f"g{k}.json").read_text()) for k in range(4)} == {
        k: [x for x in range(60) if x % 4 == k] for k in range(4)}


def test_presets_expand_to_beam_options():
    with pipeline_options(["--runner", "portable", "--job_name=x"]) as options:
        opts = options.get_all_options()
        assert opts["runner"] == "PortableRunner" and opts["job_endpoint"] == "embed"
        assert opts["environment_type"] == "LOOPBACK" and opts["job_name"] == "x"
    with pipeline_options(["--runner=direct-mp"]) as options:
        opts = options.get_all_options()
        assert opts["direct_running_mode"] == "multi_processing" and opts["direct_num_workers"] == 2
    with pipeline_options([]) as options:
        assert options.get_all_options()["runner"] == "DirectRunner"
    dataflow = ["--project=p", "--region=us-central1", "--temp_location=gs://b/tmp"]
    with pipeline_options(["--runner", "DataflowRunner", *dataflow]) as options:
        assert options.get_all_options()["runner"] == "DataflowRunner"
    with pipeline_options(["--runner", "dataflow", *dataflow]) as options:
        assert options.get_all_options()["runner"] == "DataflowRunner" and options.get_all_options()["project"] == "p"
    with pipeline_options(["--runner", "flink", "--flink_master=flink-host:8081"]) as options:
        assert options.get_all_options()["runner"] == "FlinkRunner"


@pytest.mark.integration  # a LocalCluster of worker processes
def test_dask_workers_write_the_same_run_figures_as_direct(tmp_path):
    from schemas.figures import SAMPLE_FILE, ShardFigures, loads
    from tests.data_cards.test_card_publish import _config, fake_records
    from tests.support.helpers import write_run_records

    for runner in ("direct", "dask"):
        write_run_records(_config(tmp_path / runner), *fake_records(), beam_args=("--runner", runner))
    direct, dask = tmp_path / "direct", tmp_path / "dask"
    for name in ("_meta/funnel.json", "_meta/chains.json", SAMPLE_FILE):
        assert (dask / name).read_text() == (direct / name).read_text(), name
    shards = [loads(ShardFigures, (out / "_meta/shards.json").read_text()) for out in (direct, dask)]
    assert [(s.path, s.rows) for s in shards[0].shards] == [(s.path, s.rows) for s in shards[1].shards]
    assert shards[0].sets == shards[1].sets and shards[0].curriculum == shards[1].curriculum
    for shard in shards[1].shards:  # each hash is of the file the Dask worker wrote
        assert hashlib.sha256((dask / shard.path).read_bytes()).hexdigest() == shard.sha256
