"""Runner presets: short names for the runners mmcot supports, and any Beam runner by name.

``direct`` (default), ``direct-mp`` (DirectRunner, multi-processing), ``dask`` (a local
``distributed`` cluster; pass ``--dask_client_address`` to use an existing one), ``portable``
(PortableRunner with an embedded job server and loopback workers), ``dataflow`` and ``flink``.
Dataflow and Flink (by preset or by class name) have their required options checked before
anything is built; any other runner is passed to Beam unchanged.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.ipython_probe import lean_ipython_probe
from pipelines.storage import is_local

DASK_RUNNER = "pipelines.dask_runner.FixedDaskRunner"
PRESETS = ("direct", "direct-mp", "dask", "portable", "dataflow", "flink")
RUNNER_CLASSES = {"dataflow": "DataflowRunner", "flink": "FlinkRunner"}
# options a remote runner cannot start without, and what each is for
REQUIRED = {
    "DataflowRunner": {"project": "the Google Cloud project that runs the job",
                       "region": "the Dataflow region, e.g. us-central1",
                       "temp_location": "a gs:// folder for Dataflow's temporary and staged files"},
    "FlinkRunner": {"flink_master": "the Flink cluster's REST address, host:8081"},
}


class RunnerOptionsError(ValueError):
    """A runner's options are incomplete; the message names every missing or wrong option."""


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


def runner_class(options: PipelineOptions) -> str:
    """The runner's class name without its module (``DataflowRunner``, ``FixedDaskRunner`` …)."""
    return str(options.get_all_options().get("runner") or "DirectRunner").rsplit(".", 1)[-1]


def validate_runner_options(options: PipelineOptions, args: list[str]) -> None:
    """Raise :class:`RunnerOptionsError` naming each required option of the runner that is missing or wrong."""
    runner = runner_class(options)
    values = options.get_all_options()
    problems = [f"--{name} is missing: {what}" for name, what in REQUIRED.get(runner, {}).items()
                if not values.get(name) or (name == "flink_master" and not _has(args, "--flink_master"))]
    temp = values.get("temp_location")
    if runner == "DataflowRunner" and temp and is_local(temp):
        problems.append(f"--temp_location {temp} is a local path: Dataflow needs a gs:// folder")
    if problems:
        raise RunnerOptionsError(f"--runner {runner}: " + "; ".join(problems))


def _expand(beam_args: list[str]) -> list[str]:
    """``beam_args`` with the runner preset replaced by the flags it stands for."""
    runner, rest = _runner_name(beam_args)
    if runner == "direct":
        return ["--runner=DirectRunner", *rest]
    if runner == "direct-mp":
        extra = [] if _has(rest, "--direct_num_workers") else ["--direct_num_workers=2"]
        return ["--runner=DirectRunner", "--direct_running_mode=multi_processing", *extra, *rest]
    if runner == "portable":
        return ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK", *rest]
    if runner == "dask":
        return [f"--runner={DASK_RUNNER}", *rest]
    return [f"--runner={RUNNER_CLASSES.get(runner, runner)}", *rest]


def parse_options(beam_args: list[str]) -> PipelineOptions:
    """PipelineOptions for ``beam_args`` with the preset expanded and required options checked (nothing started); from
    here on Beam checks for IPython without importing it (:mod:`pipelines.ipython_probe`)."""
    lean_ipython_probe()
    args = _expand(beam_args)
    options = PipelineOptions(args)
    validate_runner_options(options, args)
    return options


@contextlib.contextmanager
def pipeline_options(beam_args: list[str], dask_workers: int = 2) -> Iterator[PipelineOptions]:
    """PipelineOptions for ``beam_args``, starting (and afterwards stopping) a local Dask cluster if asked."""
    options = parse_options(beam_args)
    args = _expand(beam_args)
    if runner_class(options) != "FixedDaskRunner" or _has(args, "--dask_client_address"):
        yield options
        return
    from distributed import LocalCluster

    with LocalCluster(n_workers=dask_workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield PipelineOptions([*args, f"--dask_client_address={cluster.scheduler_address}"])


def worker_processes(options: PipelineOptions) -> int | None:
    """How many processes run a job's DoFns at once, where the runner states it (None where it does not).

    DirectRunner: ``direct_num_workers`` in multi-processing mode, else 1 (threads share the process);
    a loopback environment: 1; Dask: the cluster's workers (one process each); Flink and other
    portable runners: ``parallelism`` when set. Dataflow runs an SDK process per worker vCPU, which
    depends on the machine type: None (set the endpoint's ``rate_limit.workers``).
    """
    values = options.get_all_options()
    runner = runner_class(options)
    if runner == "DirectRunner":
        multi = values.get("direct_running_mode") == "multi_processing"
        return int(values.get("direct_num_workers") or 1) if multi else 1
    if values.get("environment_type") == "LOOPBACK":
        return 1
    if runner == "FixedDaskRunner":
        address = values.get("dask_client_address") or values.get("address")
        if not address:
            return None
        from distributed import Client

        with Client(address, timeout=30) as client:
            return len(client.scheduler_info()["workers"]) or None
    parallelism = values.get("parallelism")
    return int(parallelism) if parallelism and int(parallelism) > 0 else None
