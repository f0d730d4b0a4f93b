"""Runner presets: short names for the runners that work here, and any Beam runner by name.

``direct`` (default), ``direct-mp`` (DirectRunner, multi-processing), ``dask`` (a local
``distributed`` cluster; pass ``--dask_client_address`` to use an existing one), ``portable``
(PortableRunner with an embedded job server and loopback workers). Anything else, such as
``DataflowRunner`` or ``FlinkRunner`` with their own options, is passed to Beam unchanged.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

from apache_beam.options.pipeline_options import PipelineOptions

DASK_RUNNER = "pipelines.dask_runner.FixedDaskRunner"
PRESETS = ("direct", "direct-mp", "dask", "portable")


def _runner_name(args: list[str]) -> tuple[str, list[str]]:
    """The ``--runner`` value (default ``direct``) and the other arguments."""
    rest, runner, i = [], "direct", 0
    while i < len(args):
        arg = args[i]
        if arg == "--runner" and i + 1 < len(args):
            runner, i = args[i + 1], i + 2
            continue
        if arg.startswith("--runner="):
            runner = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    return runner, rest


def _has(args: list[str], flag: str) -> bool:
    return any(a == flag or a.startswith(flag + "=") for a in args)


@contextlib.contextmanager
def pipeline_options(beam_args: list[str], dask_workers: int = 2) -> Iterator[PipelineOptions]:
    """PipelineOptions for ``beam_args``, starting (and afterwards stopping) a local Dask cluster if asked."""
    runner, rest = _runner_name(beam_args)
    if runner == "direct":
        yield PipelineOptions(["--runner=DirectRunner", *rest])
    elif runner == "direct-mp":
        extra = [] if _has(rest, "--direct_num_workers") else ["--direct_num_workers=2"]
        yield PipelineOptions(["--runner=DirectRunner", "--direct_running_mode=multi_processing", *extra, *rest])
    elif runner == "portable":
        yield PipelineOptions(["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK", *rest])
    elif runner == "dask" and _has(rest, "--dask_client_address"):
        yield PipelineOptions([f"--runner={DASK_RUNNER}", *rest])
    elif runner == "dask":
        from distributed import LocalCluster

        with LocalCluster(n_workers=dask_workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            yield PipelineOptions([f"--runner={DASK_RUNNER}", f"--dask_client_address={cluster.scheduler_address}", *rest])
    else:
        yield PipelineOptions([f"--runner={runner}", *rest])
