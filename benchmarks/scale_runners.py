"""Memory and speed on multi-worker runners: dedup and the sample pipeline on direct, direct-mp and Dask.

Each (job, size, runner) runs in a fresh subprocess that samples, every 0.2 s with psutil, the RSS
of itself (the launcher) and of every process it starts (DirectRunner's multi-processing SDK
workers, the Dask cluster's processes), and reports the launcher's peak (sampled, and its exact high-water mark,
VmHWM, where Linux gives it), the largest worker's peak and the wall time. ``dask`` here is a LocalCluster of 2 worker processes with
``--dask-memory-limit`` each (Dask pauses, spills, then restarts a worker past it), started in a
process of its own as a real cluster would be: the launcher is a client that submits and waits, and
the scheduler's peak is reported apart.

``dedup``: benchmarks/dedup_scaling.py's synthetic problems (templated questions, precomputed
pHashes, 20 % planted duplicates) through DedupProblems; precision and recall printed.
``pipeline``: the sample pipeline (configs/sample.yaml, k=2) on synthetic problems with images
against a ZERO-LATENCY STUB OpenAI server on loopback (benchmarks/stub_openai.py, instantly, given the
problems' answers: right on a problem's first ask and wrong on its second, so every problem is kept
at pass rate 1/2 and also gives an RL row and a preference pair, and every output set gets rows), so
the figure is the pipeline's own cost, not a teacher's.
``--trainers`` sets ``output.trainers`` (default: all three); each pipeline row also gives the bytes
written per problem read (every set, and the sets carrying images) and the time ``mmcot card``,
``mmcot view`` and ``mmcot publish --dry-run`` take on the output afterwards.

    PYTHONPATH=. python3 benchmarks/scale_runners.py --job dedup --sizes 10000 --runners direct direct-mp dask
    PYTHONPATH=. python3 benchmarks/scale_runners.py --job pipeline --sizes 10000 100000 --runners dask
    PYTHONPATH=. python3 benchmarks/scale_runners.py --job pipeline --sizes 10000 --runners dask --trainers verl
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402


class RssSampler:
    """Peak RSS of this process and, per process, of all its descendants (sampled)."""

    def __init__(self, interval_s: float = 0.2):
        self._interval = interval_s
        self._me = psutil.Process()
        self.launcher = 0
        self.workers: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                self.launcher = max(self.launcher, self._me.memory_info().rss)
                for child in self._me.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        rss = child.memory_info().rss
                        self.workers[child.pid] = max(self.workers.get(child.pid, 0), rss)
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


CLUSTER = """
import sys
from distributed import LocalCluster
with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit=sys.argv[1],
                  dashboard_address=None) as cluster:
    print(cluster.scheduler_address, flush=True)
    sys.stdin.read()
"""


@contextlib.contextmanager
def runner_args(runner: str, memory_limit: str):
    """Beam flags for ``runner`` and the pid of the Dask scheduler's process (None: no cluster); for ``dask`` a
    LocalCluster of 2 memory-limited worker processes in a process of its own."""
    if runner != "dask":
        yield ["--runner", runner], None
        return
    cluster = subprocess.Popen([sys.executable, "-c", CLUSTER, memory_limit], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        address = cluster.stdout.readline().strip()
        yield ["--runner", "dask", f"--dask_client_address={address}"], cluster.pid
    finally:
        cluster.stdin.close()
        cluster.wait(timeout=120)


def dedup_job(n: int, args: list[str]) -> dict:
    from benchmarks.dedup_scaling import run_mmcot, scores, truth

    n_originals = round(n / 1.2)
    drops = run_mmcot(n, n_originals, argparse.Namespace(runner=args[1], beam_args=tuple(args[2:])))
    precision, recall, _ = scores(drops, truth(n, n_originals))
    return {"precision": round(precision, 4), "recall": round(recall, 4)}


IMAGE_SETS = ("problems", "sft", "rl", "preference", "sft_trl", "rl_trl", "preference_trl")


def _seconds(command: list[str]) -> float:
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return round(time.monotonic() - started, 1)


def pipeline_job(n: int, args: list[str], stub_url: str, data_dir: Path, trainers: list[str]) -> dict:
    from pipelines.config import load_config
    from pipelines.run import run_pipeline

    tmp = Path(tempfile.mkdtemp(prefix="scale-run-"))
    config = load_config(ROOT / "configs" / "sample.yaml", {
        "run.output_dir": str(tmp / "out"), "source.path": str(data_dir / "problems.jsonl"),
        "teacher.base_url": stub_url, "teacher.cache_url": str(tmp / "cache"), "length.samples": 2,
        "teacher.max_in_flight": 64, "output.trainers": trainers})
    manifest = run_pipeline(config, args, command="benchmark")
    by_set = {name: sum(s.bytes for s in manifest.shards if s.config == name) for name in manifest.rows}
    return {"read": manifest.counts.read, "chains": int(manifest.stats.get("chains", 0)),
            "balanced": manifest.counts.balanced(), "rows": sum(manifest.rows.values()),
            "bytes_per_problem": round(sum(by_set.values()) / manifest.counts.read),
            "image_set_bytes_per_problem": round(sum(by_set.get(n, 0) for n in IMAGE_SETS) / manifest.counts.read),
            "by_set": {name: round(b / manifest.counts.read) for name, b in by_set.items() if b},
            "trainers": "+".join(trainers), "out": str(tmp / "out")}


def after_run(out: str, keep: bool) -> dict:
    """Seconds `mmcot card`, `mmcot view` and `mmcot publish --dry-run` take on a finished output (fresh processes),
    and the size of the report; the output is removed unless ``keep``."""
    cli = [sys.executable, "-m", "pipelines.cli"]
    figures = {"card_s": _seconds([*cli, "card", out]), "view_s": _seconds([*cli, "view", out]),
               "publish_dry_run_s": _seconds([*cli, "publish", out, "--repo-id", "me/bench", "--dry-run"]),
               "report_mb": round(Path(out, "report.html").stat().st_size / 2**20, 1)}
    if keep:
        figures["out"] = out
    else:
        shutil.rmtree(Path(out).parent, ignore_errors=True)
    return figures


def high_water_mb() -> int | None:
    """This process's exact peak RSS (the kernel's VmHWM; None off Linux): the sampler can miss a peak shorter than its
    interval."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    return None


def one(job: str, n: int, runner: str, memory_limit: str, stub_url: str, data_dir: str, trainers: list[str],
        keep: bool = False) -> dict:
    """Run one job in this process and measure it."""
    started = time.monotonic()
    with RssSampler() as rss, runner_args(runner, memory_limit) as (args, scheduler):
        extra = dedup_job(n, args) if job == "dedup" else pipeline_job(n, args, stub_url, Path(data_dir), trainers)
    wall = round(time.monotonic() - started, 1)
    launcher_hwm = high_water_mb()  # before the card, view and publish figures below add anything
    workers = sorted((rss for pid, rss in rss.workers.items() if pid != scheduler), reverse=True)
    after = after_run(extra.pop("out"), keep) if job == "pipeline" else {}
    return {"job": job, "n": n, "runner": runner, "wall_s": wall,
            "launcher_peak_mb": round(rss.launcher / 2**20), "launcher_hwm_mb": launcher_hwm,
            "worker_peak_mb": round(workers[0] / 2**20) if workers else 0,
            "scheduler_peak_mb": round(rss.workers.get(scheduler, 0) / 2**20), "processes": len(workers),
            **extra, **after}


@contextlib.contextmanager
def stub_server(answers: Path | None = None):
    """The zero-latency stub on loopback (with ``answers``: right on every other ask of a known caption)."""
    port = 18000 + os.getpid() % 1000 + 100
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.stub_openai", "--port", str(port),
                             *(["--answers", str(answers)] if answers else [])], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        import httpx

        for _ in range(100):
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)
                break
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", choices=("dedup", "pipeline"), required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000])
    parser.add_argument("--runners", nargs="+", default=["direct", "direct-mp", "dask"])
    parser.add_argument("--dask-memory-limit", default="4GiB", help="per Dask worker process")
    parser.add_argument("--timeout", type=float, default=900, help="seconds one run may take")
    parser.add_argument("--trainers", nargs="+", default=["verl", "trl", "llamafactory"], help="output.trainers")
    parser.add_argument("--keep", action="store_true", help="keep each pipeline run's output (its path is printed)")
    parser.add_argument("--one", nargs=5, help=argparse.SUPPRESS)  # n runner memory_limit stub_url data_dir
    args = parser.parse_args()
    if args.one:
        n, runner, limit, stub, data = args.one
        print(json.dumps(one(args.job, int(n), runner, limit, stub, data, args.trainers, args.keep)))
        return
    print(f"job {args.job}, sizes {args.sizes}, runners {args.runners}, dask memory limit {args.dask_memory_limit}/worker")
    rows = []
    with tempfile.TemporaryDirectory(prefix="scale-data-") as data:
        for n in args.sizes:
            answers = None
            if args.job == "pipeline":
                from transforms.synth import generate, write_jsonl

                answers = write_jsonl(generate(n, 0), Path(data) / str(n))
            with stub_server(answers) as stub:
                rows += run_size(args, n, stub, Path(data) / str(n))
    print_tables(args, rows)


def run_size(args: argparse.Namespace, n: int, stub: str, data: Path) -> list[dict]:
    """Every runner at size ``n``, each in a fresh subprocess; the rows printed as they come."""
    rows = []
    for runner in args.runners:
        cmd = [sys.executable, __file__, "--job", args.job, "--trainers", *args.trainers, *(["--keep"] * args.keep),
               "--one", str(n), runner, args.dask_memory_limit, stub, str(data)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
            row = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else {
                "n": n, "runner": runner, "error": proc.stderr.strip().splitlines()[-1:]}
        except subprocess.TimeoutExpired:
            row = {"n": n, "runner": runner, "error": f"cut off after {args.timeout:.0f} s"}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def print_tables(args: argparse.Namespace, rows: list[dict]) -> None:
    """The rows as the docs' tables (docs/scale.md)."""
    print("\n| job | n | runner | wall s | launcher peak RSS MB (VmHWM) | largest worker peak RSS MB | "
          "scheduler peak RSS MB | worker processes | check |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        if "error" in r:
            print(f"| {args.job} | {r['n']:,} | {r['runner']} | {r['error']} | | | | | |")
            continue
        check = (f"precision {r['precision']}, recall {r['recall']}" if args.job == "dedup"
                 else f"read {r['read']:,}, chains {r['chains']:,}, rows {r['rows']:,}, balanced {r['balanced']}")
        hwm = f" ({r['launcher_hwm_mb']:,})" if r.get("launcher_hwm_mb") else ""
        print(f"| {args.job} | {r['n']:,} | {r['runner']} | {r['wall_s']} | {r['launcher_peak_mb']:,}{hwm} | "
              f"{r['worker_peak_mb']:,} | {r['scheduler_peak_mb'] or '—'} | {r['processes']} | {check} |")
    if args.job == "pipeline":
        print("\n| n | runner | trainers | bytes written per problem | of which sets with images | report.html MB | "
              "mmcot card s | mmcot view s | mmcot publish --dry-run s |")
        print("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in (r for r in rows if "error" not in r):
            print(f"| {r['n']:,} | {r['runner']} | {r['trainers']} | {r['bytes_per_problem']:,} | "
                  f"{r['image_set_bytes_per_problem']:,} | {r['report_mb']} | {r['card_s']} | {r['view_s']} | "
                  f"{r['publish_dry_run_s']} |")
        print("\nbytes written per problem read, by set: " + "; ".join(
            f"{r['n']:,} {r['trainers']}: " + ", ".join(f"{k} {v:,}" for k, v in r["by_set"].items())
            for r in rows if "error" not in r))

if __name__ == "__main__":
    main()
