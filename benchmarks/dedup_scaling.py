"""Problem dedup side by side: mmcot (Beam) against datatrove's MinHash dedup and datasketch's MinHashLSH.

The same synthetic problems at each size for every implementation. Half the originals are
templated siblings — several questions over one shared picture that differ only in their
numbers or one option and share their answer (the generators of
:mod:`transforms.synth.duplicates`) — and half are templated questions with random numbers over
pictures of their own. ``--dup-rate`` of the problems are disguised copies of an earlier
original: any non-empty combination of re-casing, re-spacing, rewording, re-punctuation,
equal-valued numbers, shuffled options and a re-encoded picture (1-4 pHash bits flipped, new
pixel hash). No picture is rendered: problems carry precomputed 64-bit perceptual hashes, which
is all dedup reads. Ground truth is content (question, picture, option set, answer).

Implementations, each size and each one in a fresh subprocess (peak RSS is that process's, with
its children), stopped past ``--timeout`` seconds or ``--max-rss-gb`` resident (the machine is shared):

* ``mmcot``: ``DedupProblems`` (exact + near-duplicates with guards) on the chosen Beam runner;
* ``datasketch``: ``MinHashLSH`` over the question text (normalized, character 5-grams, as mmcot's),
  the library's usual dedup loop — query each problem against the kept ones, drop it on a hit,
  else insert it; at each of ``--datasketch-thresholds`` (0.5, its documentation's example, and 0.9);
* ``datatrove``: its four MinHash stages (signatures, buckets, clusters, filter) on a
  ``LocalPipelineExecutor`` over the question text, with its defaults (word 5-grams, 14 buckets
  x 8 hashes, the FineWeb setting; sha1 shingle hashes, since its xxhash path fails with xxhash 4)
  or ``--datatrove-ngrams``.

Peers see text only: they have no pictures, answers or numbers to compare, which is the point
of the comparison. Prints wall time, peak RSS, precision (a drop is right when the problem it is
attributed to — its survivor, for datatrove its cluster's kept document — has the same content)
and recall over the planted copies, and ``gone``: the share of the copies removed at all,
whatever they were attributed to.

Run from the repository root::

    flock /tmp/mmcot-heavy.lock env PYTHONPATH=. python3 benchmarks/dedup_scaling.py [--sizes 1000 10000 100000]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import apache_beam as beam
import pyarrow.parquet as pq
from datasketch import MinHash, MinHashLSH

from pipelines.runners import pipeline_options
from schemas.derive import arrow_schema
from schemas.outputs import RejectRow
from schemas.problem import ImageMeta, Problem
from transforms.dedup import DedupProblems, DedupSettings
from transforms.dedup.text import shingles
from transforms.synth.duplicates import TEMPLATES, recase, renumber, repunctuate, respace, reword, shuffle_options
from transforms.tags import DROPPED
from transforms.write import WriteShards

RANDOM_TEMPLATES = (
    "A shop sells {a} apples in the morning and {b} apples in the afternoon. How many apples does it sell in total?",
    "In the triangle shown, angle A is {a} degrees and angle B is {b} degrees. What is the measure of angle C?",
    "What is the area of the rectangle in the figure if its sides are {a} cm and {b} cm long?",
    "How many {w} are in the picture if each of the {a} boxes holds {b} of them?",
    "The clock shows {a} minutes past {c}. How many minutes are left until the next full hour?",
)
WORDS = ("pears", "marbles", "books", "cups", "stamps", "coins", "shells", "cards", "pencils", "tickets")
TEXT_DISGUISES = {"reword": reword, "renumber": renumber, "repunctuate": repunctuate, "recase": recase, "respace": respace}
SIBLINGS = 4
CHUNK = 2000


def _rng(*parts: int) -> random.Random:
    return random.Random(hash(parts) & 0xFFFFFFFF)


def _meta(rng: random.Random, phash: int) -> ImageMeta:
    return ImageMeta(512, 384, "PNG", f"{rng.getrandbits(256):064x}", f"{phash:016x}")


def original(i: int) -> Problem:
    """Original ``i``: even blocks of :data:`SIBLINGS` are sibling groups over one picture, odd ones random templates."""
    block, j = divmod(i, SIBLINGS)
    rng = _rng(1, block)
    if block % 2 == 0:
        name = list(TEMPLATES)[(block // 2) % len(TEMPLATES)]
        question, choices, answer = list(TEMPLATES[name](rng, SIBLINGS))[j]
        picture = rng.getrandbits(64)
    else:
        rng = _rng(1, block, j)
        a, b, c = rng.randint(2, 59), rng.randint(2, 99), rng.randint(1, 12)
        question = RANDOM_TEMPLATES[i % len(RANDOM_TEMPLATES)].format(a=a, b=b, c=c, w=rng.choice(WORDS))
        choices, answer, picture = [], str(rng.randint(1, 100)), rng.getrandbits(64)
    return Problem(id=f"o{i:07d}", source="bench", split="train", question=question, answer=answer,
                   answer_type="multiple_choice" if choices else "numeric", choices=choices,
                   image_meta=[_meta(_rng(3, picture), picture)])


def content(p: Problem) -> str:
    """What makes two originals the same problem."""
    return json.dumps([p.question, p.image_meta[0].phash, sorted(p.choices), p.answer if not p.choices else
                       p.choices[ord(p.answer) - 65]])


def duplicate(j: int, n_originals: int) -> tuple[Problem, int]:
    """Disguised copy ``j`` and the index of its original."""
    rng = _rng(2, j)
    source = rng.randrange(n_originals)
    base = original(source)
    kinds = rng.sample([*TEXT_DISGUISES, "image", "options"], rng.randint(1, 4))
    question, choices, answer, meta = base.question, base.choices, base.answer, base.image_meta[0]
    for kind, change in TEXT_DISGUISES.items():
        if kind in kinds:
            question = change(question, rng)
    if "options" in kinds and choices:
        choices, answer = shuffle_options(choices, answer, rng)
    if "image" in kinds:
        flipped = int(meta.phash, 16)
        for bit in rng.sample(range(64), rng.randint(1, 4)):
            flipped ^= 1 << bit
        meta = ImageMeta(meta.width, meta.height, "JPEG", f"{rng.getrandbits(256):064x}", f"{flipped:016x}")
    return Problem(id=f"d{j:07d}", source="bench", split="train", question=question, answer=answer,
                   answer_type=base.answer_type, choices=choices, image_meta=[meta]), source


def dataset_chunk(start: int, n: int, n_originals: int) -> list[Problem]:
    """Problems ``start`` … ``start + CHUNK`` of the size-``n`` set (originals first, then copies)."""
    return [original(i) if i < n_originals else duplicate(i - n_originals, n_originals)[0]
            for i in range(start, min(start + CHUNK, n))]


def dataset(n: int, n_originals: int) -> list[Problem]:
    return [p for start in range(0, n, CHUNK) for p in dataset_chunk(start, n, n_originals)]


def truth(n: int, n_originals: int) -> dict[str, str]:
    """Problem id → its content."""
    keys = [content(original(i)) for i in range(n_originals)]
    group = {f"o{i:07d}": key for i, key in enumerate(keys)}
    group.update({f"d{j:07d}": keys[duplicate(j, n_originals)[1]] for j in range(n - n_originals)})
    return group


def scores(drops: list[tuple[str, str]], group: dict[str, str]) -> tuple[float, float, float]:
    """Precision of (dropped, attributed-to) pairs, recall over the drops the content calls for, and the
    share of those drops made at all, whatever they were attributed to (``gone``)."""
    right = sum(group[row] == group[survivor] for row, survivor in drops)
    sizes = Counter(group.values())
    expected = len(group) - len(sizes)
    removed = Counter(group[row] for row, _ in drops)
    gone = sum(min(k, sizes[key] - 1) for key, k in removed.items())
    return right / max(len(drops), 1), right / max(expected, 1), gone / max(expected, 1)


def run_mmcot(n: int, n_originals: int, args) -> list[tuple[str, str]]:
    """``DedupProblems`` on the Beam runner; problems are generated inside the pipeline in chunks."""
    out = tempfile.mkdtemp(prefix="dedup-bench-")
    with pipeline_options(["--runner", args.runner, *getattr(args, "beam_args", ())]) as options:
        p = beam.Pipeline(options=options)
        problems = (p | beam.Create(range(0, n, CHUNK)) | "Spread" >> beam.Reshuffle()
                    | beam.FlatMap(dataset_chunk, n, n_originals))
        deduped = problems | DedupProblems(DedupSettings())
        deduped[DROPPED] | WriteShards(out, arrow_schema(RejectRow), "row_id")
        p.run().wait_until_finish()
    rows = [r for f in Path(out).glob("*.parquet") for r in pq.read_table(f, columns=["row_id", "survivor_id"]).to_pylist()]
    return [(r["row_id"].split("/")[-1], r["survivor_id"].split("/")[-1]) for r in rows]


def run_datasketch(n: int, n_originals: int, args) -> list[tuple[str, str]]:
    """MinHashLSH's dedup loop: query against the kept problems, drop on a hit, else insert."""
    lsh = MinHashLSH(threshold=args.datasketch_threshold, num_perm=128)
    drops = []
    for p in dataset(n, n_originals):
        m = MinHash(num_perm=128, seed=1)
        m.update_batch([s.encode() for s in shingles(p.question, "char", 5)])
        hits = lsh.query(m)
        if hits:
            drops.append((p.id, min(hits)))
        else:
            lsh.insert(p.id, m)
    return drops


def run_datatrove(n: int, n_originals: int, args) -> list[tuple[str, str]]:
    """datatrove's four MinHash stages on local executors; drops are attributed to their cluster's kept document."""
    from datatrove.data import Document
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.hashing import HashConfig

    root = Path(tempfile.mkdtemp(prefix="datatrove-bench-"))
    # sha1: datatrove 0.10.1's xxhash path passes str, which the installed xxhash 4 refuses
    config = MinhashConfig(n_grams=args.datatrove_ngrams, hash_config=HashConfig(precision=64, hash_fc="sha1"))
    docs = [Document(text=p.question, id=p.id) for p in dataset(n, n_originals)]
    stages = [
        ([docs, MinhashDedupSignature(output_folder=str(root / "sigs"), config=config)], 1),
        ([MinhashDedupBuckets(input_folder=str(root / "sigs"), output_folder=str(root / "buckets"), config=config)],
         config.num_buckets),
        ([MinhashDedupCluster(input_folder=str(root / "buckets"), output_folder=str(root / "remove"), config=config,
                              save_cluster_id=True)], 1),
        ([docs, MinhashDedupFilter(input_folder=str(root / "remove"), load_cluster_ids=True,
                                   exclusion_writer=JsonlWriter(str(root / "removed"), compression=None)),
          JsonlWriter(str(root / "kept"), compression=None)], 1),
    ]
    for i, (pipeline, tasks) in enumerate(stages):
        LocalPipelineExecutor(pipeline, tasks=tasks, workers=1, logging_dir=str(root / f"logs{i}")).run()

    def rows(folder: str):
        return [json.loads(line) for f in sorted((root / folder).glob("*.jsonl")) for line in f.open()]

    cluster_of = lambda r: r["metadata"]["minhash_cluster_id"]  # noqa: E731
    kept = {cluster_of(r): r["id"] for r in rows("kept") if cluster_of(r) != -1}
    return [(r["id"], kept.get(cluster_of(r), r["id"])) for r in rows("removed")]


IMPLS = {"mmcot": run_mmcot, "datasketch": run_datasketch, "datatrove": run_datatrove}


def one(impl: str, n: int, args) -> dict:
    """Measure one implementation at one size in this process."""
    n_originals = round(n / (1 + args.dup_rate))
    started = time.monotonic()
    drops = IMPLS[impl](n, n_originals, args)
    wall = time.monotonic() - started
    precision, recall, gone = scores(drops, truth(n, n_originals))
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"impl": impl, "n": n, "wall_s": wall, "peak_rss_mb": max(own, children) / 1024, "drops": len(drops),
            "precision": precision, "recall": recall, "gone": gone}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--impls", nargs="+", default=list(IMPLS), choices=list(IMPLS))
    parser.add_argument("--dup-rate", type=float, default=0.2, help="disguised copies per original")
    parser.add_argument("--runner", default="direct", help="mmcot's runner preset (direct, direct-mp, dask)")
    parser.add_argument("--datasketch-thresholds", type=float, nargs="+", default=[0.5, 0.9])
    parser.add_argument("--datasketch-threshold", type=float, default=0.5, help=argparse.SUPPRESS)
    parser.add_argument("--datatrove-ngrams", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=600, help="seconds one implementation may take at one size")
    parser.add_argument("--max-rss-gb", type=float, default=10, help="resident memory one implementation may use")
    parser.add_argument("--one", nargs=2, metavar=("IMPL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), args)))
        return
    print(f"duplicate rate {args.dup_rate}; mmcot: runner {args.runner}, {DedupSettings().near_text.model_dump()}, "
          f"images {DedupSettings().images.model_dump()}; datasketch: char 5-grams, num_perm 128, thresholds "
          f"{args.datasketch_thresholds}; datatrove: word {args.datatrove_ngrams}-grams, 14 buckets x 8 hashes, sha1")
    print(f"{'impl':<15}{'n':>8}{'wall s':>9}{'peak MB':>9}{'dropped':>9}{'precision':>11}{'recall':>8}{'gone':>8}")
    passthrough = ["--dup-rate", str(args.dup_rate), "--runner", args.runner, "--datatrove-ngrams", str(args.datatrove_ngrams)]
    runs = [(f"{impl} {t}" if impl == "datasketch" else impl, impl, ["--datasketch-threshold", str(t)])
            for impl in args.impls for t in (args.datasketch_thresholds if impl == "datasketch" else [0])]
    for n in args.sizes:
        for label, impl, extra in runs:
            cmd = [sys.executable, __file__, "--one", impl, str(n), *passthrough, *extra]
            r, stopped = _watched(cmd, args.timeout, args.max_rss_gb)
            if stopped:
                print(f"{label:<15}{n:>8}  {stopped}", flush=True)
                continue
            print(f"{label:<15}{n:>8}{r['wall_s']:>9.1f}{r['peak_rss_mb']:>9.0f}{r['drops']:>9}"
                  f"{r['precision']:>11.4f}{r['recall']:>8.4f}{r['gone']:>8.4f}", flush=True)


def _tree_rss_gb(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants (from /proc), in GB."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += int(Path(f"/proc/{current}/statm").read_text().split()[1]) * resource.getpagesize()
            todo += [int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 2**30


def _watched(cmd: list[str], timeout: float, max_rss_gb: float) -> tuple[dict | None, str]:
    """Run one measurement; stop it past ``timeout`` seconds or ``max_rss_gb`` (the machine is shared)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    started = time.monotonic()
    while proc.poll() is None:
        elapsed = time.monotonic() - started
        reason = (f"cut off after {timeout:.0f} s" if elapsed > timeout else
                  f"stopped above {max_rss_gb:.0f} GB resident after {elapsed:.0f} s" if _tree_rss_gb(proc.pid) > max_rss_gb else "")
        if reason:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return None, reason
        time.sleep(1)
    out = proc.stdout.read()
    if proc.returncode:
        return None, f"failed (exit {proc.returncode})"
    return json.loads(out.strip().splitlines()[-1]), ""

if __name__ == "__main__":
    main()
