"""Scaling of problem dedup (exact + MinHash-LSH near-duplicates in Beam) against datasketch's MinHashLSH.

Synthetic problems at each size: templated questions with random numbers (so same-template
near-misses abound), one image each, of which ``--dup-rate`` are planted duplicates of an
earlier original — re-spaced and re-cased, lightly paraphrased, image "re-encoded" (1-4 pHash
bits flipped, new pixel hash), or paraphrased and re-encoded. No image is rendered: problems
carry precomputed 64-bit perceptual hashes, which is all the dedup stage reads (rendering and
hashing 10^5 pictures would time the image stage, not dedup).

Each size runs in a fresh subprocess (peak RSS is that process's) through ``DedupProblems`` on
the chosen runner, and then the baseline runs in another: datasketch's single-process
``MinHashLSH`` over the same shingles, the same exact check on its candidates, and a union-find.
Prints wall time, peak RSS, the largest band group (what one worker must hold), precision and
recall per size, and the fitted exponent of time ~ n^k.

Run from the repository root::

    PYTHONPATH=. python3 benchmarks/dedup_scaling.py [--sizes 1000 10000 100000] [--runner direct]
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import apache_beam as beam  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from apache_beam.metrics.metric import MetricsFilter  # noqa: E402
from datasketch import MinHash, MinHashLSH  # noqa: E402

from pipelines.runners import pipeline_options  # noqa: E402
from schemas.outputs import REJECT_SCHEMA  # noqa: E402
from schemas.problem import ImageMeta, Problem  # noqa: E402
from transforms.dedup import DedupProblems, DedupSettings  # noqa: E402
from transforms.dedup.candidates import is_near_duplicate  # noqa: E402
from transforms.dedup.components import spanning_edges  # noqa: E402
from transforms.dedup.minhash import Fingerprinter, lsh_shape  # noqa: E402
from transforms.synth.duplicates import paraphrase, respace_recase  # noqa: E402
from transforms.tags import DROPPED  # noqa: E402
from transforms.write import WriteShards  # noqa: E402

TEMPLATES = (
    ("A shop sells {a} apples in the morning and {b} apples in the afternoon. How many apples does it sell in total?", "{s}"),
    ("In the triangle shown, angle A is {a} degrees and angle B is {b} degrees. What is the measure of angle C?", "{t}"),
    ("What is the area of the rectangle in the figure if its sides are {a} cm and {b} cm long?", "{p}"),
    ("The bar chart shows {w} sold over {a} days. How many {w} were sold on day {c} if day 1 saw {b}?", "{b}"),
    ("How many {w} are in the picture if each of the {a} boxes holds {b} of them?", "{p}"),
    ("The clock shows {a} minutes past {c}. How many minutes are left until the next full hour?", "{m}"),
    ("Which point on the graph has the largest y-coordinate, given x runs from {a} to {s}?", "{c}"),
)
WORDS = ("pears", "marbles", "books", "cups", "stamps", "coins", "shells", "cards", "pencils", "tickets")
KINDS = ("respaced", "paraphrased", "jpeg", "paraphrased_jpeg")
CHUNK = 2000


def _rng(*parts: int) -> random.Random:
    return random.Random(hash(parts) & 0xFFFFFFFF)


def original(i: int) -> Problem:
    """Original problem ``i``: a template filled with random numbers and a random image hash."""
    rng = _rng(1, i)
    template, answer = TEMPLATES[i % len(TEMPLATES)]
    a, b, c = rng.randint(2, 59), rng.randint(2, 99), rng.randint(1, 12)
    values = dict(a=a, b=b, c=c, w=rng.choice(WORDS), s=a + b, t=180 - a - b, p=a * b, m=60 - a)
    meta = ImageMeta(512, 384, "PNG", f"{rng.getrandbits(256):064x}", f"{rng.getrandbits(64):016x}")
    return Problem(id=f"o{i:07d}", source="bench", split="train", question=template.format(**values),
                   answer=answer.format(**values), answer_type="numeric", image_meta=[meta])


def duplicate(j: int, n_originals: int) -> tuple[Problem, int]:
    """Planted duplicate ``j`` and the index of its original."""
    rng = _rng(2, j)
    source = rng.randrange(n_originals)
    base, kind = original(source), KINDS[j % len(KINDS)]
    question = respace_recase(base.question) if kind == "respaced" else base.question
    question = paraphrase(question) if kind.startswith("paraphrased") else question
    meta = base.image_meta[0]
    if kind.endswith("jpeg"):
        flipped = int(meta.phash, 16)
        for bit in rng.sample(range(64), rng.randint(1, 4)):
            flipped ^= 1 << bit
        meta = ImageMeta(meta.width, meta.height, "JPEG", f"{rng.getrandbits(256):064x}", f"{flipped:016x}")
    return Problem(id=f"d{j:07d}", source="bench", split="train", question=question, answer=base.answer,
                   answer_type="numeric", image_meta=[meta]), source


def dataset_chunk(start: int, n: int, n_originals: int) -> list[Problem]:
    """Problems ``start`` … ``start + CHUNK`` of the size-``n`` set (originals first, then duplicates)."""
    return [original(i) if i < n_originals else duplicate(i - n_originals, n_originals)[0]
            for i in range(start, min(start + CHUNK, n))]


def truth(n: int, n_originals: int) -> dict[str, int]:
    """Problem id → its original's index."""
    group = {f"o{i:07d}": i for i in range(n_originals)}
    group.update({f"d{j:07d}": duplicate(j, n_originals)[1] for j in range(n - n_originals)})
    return group


def scores(drops: list[tuple[str, str]], group: dict[str, int]) -> tuple[float, float]:
    """Precision of (dropped, survivor) pairs and recall over the planted duplicates."""
    right = sum(group[row] == group[survivor] for row, survivor in drops)
    expected = len(group) - len(set(group.values()))
    return right / max(len(drops), 1), right / max(expected, 1)


def run_beam(n: int, n_originals: int, runner: str, extra_args: tuple[str, ...] = ()) -> dict:
    """The Beam dedup on ``n`` problems; returns time, drops and the largest band group."""
    out = tempfile.mkdtemp(prefix="dedup-bench-")
    started = time.monotonic()
    with pipeline_options(["--runner", runner, *extra_args]) as options:
        p = beam.Pipeline(options=options)
        problems = (p | beam.Create(range(0, n, CHUNK)) | "Spread" >> beam.Reshuffle()
                    | beam.FlatMap(dataset_chunk, n, n_originals))
        deduped = problems | DedupProblems(DedupSettings())
        deduped[DROPPED] | WriteShards(out, REJECT_SCHEMA, "row_id")
        result = p.run()
        result.wait_until_finish()
    wall = time.monotonic() - started
    try:
        sizes = result.metrics().query(MetricsFilter().with_name("band_group_size"))["distributions"]
        largest = max((d.committed.max for d in sizes if d.committed), default=0)
    except NotImplementedError:  # Beam's Dask runner collects no metrics
        largest = None
    rows = [r for f in Path(out).glob("*.parquet") for r in pq.read_table(f, columns=["row_id", "survivor_id"]).to_pylist()]
    return {"wall_s": wall, "drops": [(r["row_id"], r["survivor_id"]) for r in rows], "largest_group": largest}


def run_baseline(n: int, n_originals: int) -> dict:
    """datasketch's in-memory MinHashLSH, the same exact check on its candidates, and a union-find."""
    settings = DedupSettings()
    started = time.monotonic()
    fingerprint = Fingerprinter(settings.near_text)
    problems = [p for start in range(0, n, CHUNK) for p in dataset_chunk(start, n, n_originals)]
    fps = {p.id: fingerprint(p, (0, p.id)) for p in problems}
    permutations = MinHash(num_perm=settings.near_text.num_perm, seed=settings.near_text.seed).permutations
    lsh = MinHashLSH(num_perm=settings.near_text.num_perm, params=lsh_shape(settings.near_text))
    sketches = {}
    for pid, fp in fps.items():
        m = MinHash(num_perm=settings.near_text.num_perm, hashfunc=int, permutations=permutations, scheme="affine32")
        m.update_batch(np.fromiter(sorted(fp.shingles), dtype=np.uint64, count=len(fp.shingles)))
        sketches[pid] = m
        lsh.insert(pid, m)
    pairs = [(fps[a].node, fps[b].node) for a in sorted(fps) for b in lsh.query(sketches[a])
             if a < b and is_near_duplicate(fps[a], fps[b], settings.near_text, settings.images)]
    drops = [(node[1], root[1]) for root, node in spanning_edges(pairs)]
    return {"wall_s": time.monotonic() - started, "drops": drops, "largest_group": n}


def one(n: int, dup_rate: float, runner: str, baseline: bool) -> dict:
    """Measure one size in this process."""
    n_originals = round(n / (1 + dup_rate))
    result = run_baseline(n, n_originals) if baseline else run_beam(n, n_originals, runner)
    precision, recall = scores(result.pop("drops"), truth(n, n_originals))
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {**result, "n": n, "precision": precision, "recall": recall, "peak_rss_mb": max(own, children) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--dup-rate", type=float, default=0.2, help="planted duplicates per original")
    parser.add_argument("--runner", default="direct", help="a runner preset (direct, direct-mp, dask)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds one size may take before it is reported as cut off")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.dup_rate, args.runner, args.baseline)))
        return
    rows = {"beam": [], "baseline": []}
    print(f"runner {args.runner}, duplicate rate {args.dup_rate}, settings {DedupSettings().near_text.model_dump()}")
    print(f"{'impl':<9}{'n':>8}{'wall s':>9}{'peak MB':>9}{'largest group':>15}{'precision':>11}{'recall':>8}")
    for n in args.sizes:
        for impl in rows:
            cmd = [sys.executable, __file__, "--one", str(n), "--dup-rate", str(args.dup_rate), "--runner", args.runner]
            try:
                out = subprocess.run(cmd + (["--baseline"] if impl == "baseline" else []), capture_output=True, text=True,
                                     check=True, timeout=args.timeout)
            except subprocess.TimeoutExpired:
                print(f"{impl:<9}{n:>8}  cut off after {args.timeout:.0f} s", flush=True)
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rows[impl].append(r)
            print(f"{impl:<9}{n:>8}{r['wall_s']:>9.1f}{r['peak_rss_mb']:>9.0f}{r['largest_group']:>15}"
                  f"{r['precision']:>11.4f}{r['recall']:>8.4f}", flush=True)
    for impl, results in rows.items():
        if len(results) > 1:
            k = np.polyfit(np.log([r["n"] for r in results]), np.log([r["wall_s"] for r in results]), 1)[0]
            print(f"{impl}: time ~ n^{k:.2f} over n = {[r['n'] for r in results]}")


if __name__ == "__main__":
    main()
