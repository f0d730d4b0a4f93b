"""The response cache at scale: write and read throughput, and a resume's existence check.

``--problems`` problems x ``--samples`` samples (``--problems 25000 --samples 4``: 10^5 cached
samples) of ~``--chars`` characters each are written through ``ResponseCache.put`` from
``--threads`` threads (as the teacher stage's worker threads do), then a fresh cache object (a
resumed run: nothing in memory) asks ``get`` for every sample: that is all a resume does to find
what exists, and it reads the entries it finds. Each layout (``sample``: one object per sample;
``problem``: one per prompt) runs on the same entries in the same run, on local disk and on the
GCS emulator (``gcp-storage-emulator`` on loopback, ``STORAGE_EMULATOR_HOST``, gcsfs: named as
such, it is serial and in memory, so its figures measure request counts, not GCS's latency).

Run from the repository root::

    PYTHONPATH=. python3 benchmarks/cache_scale.py [--problems 25000] [--samples 4] [--target local,gcs]
"""
from __future__ import annotations

import argparse
import concurrent.futures
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import fsspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schemas.plan import SamplingPlan
from transforms.teachers.base import Completion
from transforms.teachers.cache import (
    LAYOUTS,
    ResponseCache,
    group_key,
    request_key,
    to_entry,
)

BUCKET = "mmcot-bench"


def _requests(problems: int, samples: int, chars: int) -> list[tuple[str, str, dict]]:
    """(key, group, entry) for every sample, problem by problem."""
    plan = SamplingPlan(n=samples, max_tokens=1024, temperature=0.8, top_p=0.95, repetition_penalty=1.0,
                        prompt_style="think", length_budget=1024, policy="token_budget", band="all")
    filler = ("Let the side be s; then the area is s^2 and the perimeter 4s. " * (chars // 60 + 1))[:chars]
    out = []
    for p in range(problems):
        messages = [{"role": "user", "content": f"Problem {p}: what is the area?"}]
        group = group_key("bench-model", messages, plan)
        for k in range(samples):
            entry = to_entry(Completion(f"The answer is \\boxed{{{p + k}}}.", filler, "stop", 120, chars // 4, 1.5))
            out.append((request_key("bench-model", messages, plan, k), group, entry))
    return out


def _run(pool, fn, items) -> float:
    t0 = time.perf_counter()
    list(pool.map(fn, items, chunksize=64))
    return time.perf_counter() - t0


def measure(url: str, layout: str, requests: list, threads: int, objects) -> dict:
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        writer = ResponseCache(url, layout)
        write_s = _run(pool, lambda r: writer.put(r[0], r[2], r[1]), requests)
        reader = ResponseCache(url, layout)  # a resumed run: nothing in memory
        found = []
        resume_s = _run(pool, lambda r: found.append(reader.get(r[0], r[1]) is not None), requests)
    assert all(found) and len(found) == len(requests), "a stored sample was not found"
    return {"write_s": write_s, "resume_s": resume_s, "objects": objects()}


def _emulator() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1", "--port",
                             str(port), "--in-memory", "--default-bucket", BUCKET],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("GCS emulator did not start") from None
            time.sleep(0.3)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=25_000)
    parser.add_argument("--samples", type=int, default=4, help="samples per problem")
    parser.add_argument("--chars", type=int, default=2000, help="reasoning characters per sample")
    parser.add_argument("--threads", type=int, default=32, help="concurrent cache calls (a stage's worker threads)")
    parser.add_argument("--target", default="local,gcs", help="comma-separated: local, gcs (the emulator)")
    parser.add_argument("--gcs-problems", type=int, default=None,
                        help="problems on the emulator (default --problems; it slows as it fills, see the README)")
    args = parser.parse_args(argv)
    logging.getLogger("gcsfs").setLevel(logging.ERROR)  # "could not determine bucket type" on every client
    print(f"response cache: {args.samples} samples of ~{args.chars} chars per problem, {args.threads} threads")
    header = f"{'target':7s} {'layout':8s} {'objects':>9s} {'write/s':>9s} {'resume: get all':>16s} {'reads/s':>9s}"
    print(header)
    print("-" * len(header))
    for target in args.target.split(","):
        problems = args.gcs_problems if target == "gcs" and args.gcs_problems else args.problems
        requests = _requests(problems, args.samples, args.chars)
        n = len(requests)
        print(f"{target}: {problems:,} problems, {n:,} entries")
        results = {}
        for layout in LAYOUTS:
            if target == "local":
                root = tempfile.mkdtemp(prefix="mmcot-cache-bench-")
                try:
                    results[layout] = measure(root, layout, requests, args.threads,
                                              lambda root=root: sum(len(f) for _, _, f in os.walk(root)))
                finally:
                    shutil.rmtree(root, ignore_errors=True)
            else:
                proc, host = _emulator()
                os.environ["STORAGE_EMULATOR_HOST"] = host
                try:
                    url = f"gs://{BUCKET}/cache-{layout}"
                    results[layout] = measure(url, layout, requests, args.threads,
                                              lambda url=url: len(fsspec.core.url_to_fs(url)[0].find(url)))
                finally:
                    proc.terminate()
                    proc.wait(timeout=30)
            r = results[layout]
            print(f"{target:7s} {layout:8s} {r['objects']:9,d} {n / r['write_s']:9,.0f} {r['resume_s']:15.1f}s "
                  f"{n / r['resume_s']:9,.0f}", flush=True)
        s, p = results["sample"], results["problem"]
        print(f"{target:7s} problem/sample: objects {p['objects'] / s['objects']:.2f}x, write {s['write_s'] / p['write_s']:.2f}x, "
              f"resume {s['resume_s'] / p['resume_s']:.2f}x faster")


if __name__ == "__main__":
    main()
