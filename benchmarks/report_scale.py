"""How the run report scales: writing ``report.html``, opening it in Chromium, filtering and paging; and ``--serve``.

Builds a finished run of ``--n`` synthetic problems (real synthetic images from ``mmcot synth``'s
generator, PNG as the pipeline writes them; ``--k`` chains each of about ``--chain-chars``
characters; a third kept, the rest dropped as having no correct chain) through the run's own write
step (``pipelines.build.write_outputs`` on DirectRunner: shards, ``_meta/`` figures and the row
sample of ``output.sample_problems``), writes its manifest and card as ``mmcot run`` does, then measures:

- ``write_report`` wall time and the HTML size;
- headless Chromium (``/usr/bin/chromium``, playwright): load until the first page of problems is
  drawn, a band filter, the next page, a search, the JS heap after load;
- the same with ``ReportServer`` (``mmcot view --serve``): start-up (the index), and one page of
  the API.

Run from the repository root::

    PYTHONPATH=. python3 benchmarks/report_scale.py [--n 2000] [--k 4] [--chain-chars 1500] [--sample 200]
    PYTHONPATH=. python3 benchmarks/report_scale.py --run out/big      # the report of a finished run
"""
from __future__ import annotations

import argparse
import io
import json
import random
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import apache_beam as beam

from data_cards.report.problems import problem_index
from data_cards.report.render import sample_shards, write_report
from data_cards.report.serve import ReportServer
from pipelines.build import write_outputs
from pipelines.config import parse_config
from pipelines.run import write_run_report
from schemas.generation import Generation, Verdict
from schemas.output_sets import READ_COUNTS_SET
from schemas.outputs import Message, RejectRow, SFTRow
from schemas.plan import SamplingPlan
from schemas.problem import ImageRef
from schemas.source import ReadCount
from transforms import failures
from transforms.synth import generate

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
BANDS = (("easy", 0.34, 160), ("medium", 0.67, 256), ("hard", 1.0, 384))


def _png(image) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG")
    return buf.getvalue()


def build_run(out: Path, n: int, k: int, chain_chars: int, sample: int) -> str:
    """A finished run's shards, manifest and card (no report); returns a word of a question to search for."""
    rng = random.Random(0)
    gens, sft, dropped, word = [], [], [], ""
    for i, p in enumerate(generate(n, seed=0)):
        pid = f"synth/{p.id}"
        word = word or max(p.question.split(), key=len)
        band, _, max_tokens = next(b for b in BANDS if p.difficulty <= b[1])
        plan = SamplingPlan(n=k, max_tokens=max_tokens, temperature=0.8, top_p=0.95, repetition_penalty=1.0,
                            prompt_style="standard", length_budget=max_tokens // 2, policy="token_budget", band=band)
        kept = i % 3 == 0
        for j in range(k):
            correct = kept and j == 0
            text = " ".join(rng.choice(("the", "bar", "is", "taller", "so", "we", "count", "again")) for _ in range(chain_chars // 5))
            gens.append(Generation(pid, "t", j, text, "", text + " \\boxed{B}", "stop", 120, rng.randint(20, max_tokens), 0.5,
                                   plan, p.difficulty, f"k{i}-{j}",
                                   verdict=Verdict(correct, "B" if correct else "C", {"answer_match": correct},
                                                   [] if correct else ["wrong_answer"])))
        if kept:
            sft.append(SFTRow(pid, "synth", [ImageRef(_png(p.image), f"{p.id}.png")],
                              [Message("user", "<image>" + p.question), Message("assistant", gens[-k].answer_text)],
                              p.answer, p.answer_type, p.difficulty, 1 / k, "t", gens[-k].completion_tokens, "length_fit"))
        else:
            dropped.append(RejectRow(pid, "synth", "select", "no_correct_chain"))
        if (i + 1) % 5000 == 0:
            print(f"  built {i + 1} problems", flush=True)
    config = parse_config({"run": {"name": "report-scale", "output_dir": str(out)},
                           "source": {"kind": "jsonl", "path": "x.jsonl", "name": "synth"},
                           "output": {"trainers": ["llamafactory"], "sample_problems": sample}})
    with beam.Pipeline(runner="DirectRunner") as p:
        failures.collect(p)
        sets = {"generations": gens, "sft": sft, "dropped": dropped, "rl": [], "preference": [],
                READ_COUNTS_SET.name: [ReadCount("x.jsonl", n, "synth")]}
        write_outputs(p, {name: p | f"Create_{name}" >> beam.Create(rows) for name, rows in sets.items()}, [], config)
    write_run_report(config, "benchmark", 0.0, "bench")
    return word


def browse(url: str, word: str, band: str = "hard") -> dict[str, float]:
    """Seconds to first page, ``band`` filter, next page, search; JS heap MB after load."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        t0 = time.perf_counter()
        page.goto(url, timeout=600_000)
        page.wait_for_selector("#status[data-total]", timeout=600_000)
        figures = {"load": time.perf_counter() - t0}
        heap = page.evaluate("() => performance.memory ? performance.memory.usedJSHeapSize : 0")
        for name, action, done in (
            ("band filter", lambda: page.select_option('select[name="band"]', band),
             f"() => [...document.querySelectorAll('article.problem')].every(a => a.dataset.band === {band!r})"),
            ("next page", lambda: page.click(".pager .next >> nth=0"),
             "() => document.querySelector('#status').textContent.startsWith('problems 51')"),
            ("search", lambda: page.fill('input[name="q"]', word),
             "() => [...document.querySelectorAll('article.problem')]"
             f".every(a => a.querySelector('.question')?.textContent.includes({word!r}))"),
        ):
            t = time.perf_counter()
            action()
            page.wait_for_function(done, timeout=120_000)
            figures[name] = time.perf_counter() - t
        figures["search"] -= 0.2  # the search box waits 200 ms after the last keystroke on purpose
        figures["heap_mb"] = heap / 2**20
        browser.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--chain-chars", type=int, default=1500)
    parser.add_argument("--sample", type=int, default=200, help="output.sample_problems: problems the report shows")
    parser.add_argument("--run", type=Path, help="measure the report of this finished run instead of building one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out, band = args.run or Path(tmp) / "run", "hard"
        t = time.perf_counter()
        if args.run:
            index = problem_index(sample_shards(str(out)))
            band = Counter(e["band"] for e in index if e["band"]).most_common(1)[0][0]
            word = max((w for e in index for w in e["question"].split() if w.isalpha()), key=len)
            print(f"the run in {out}: {sum(json.loads((out / 'manifest.json').read_text())['rows'].values()):,} rows "
                  f"({sum(f.stat().st_size for f in out.rglob('*.parquet')) / 2**20:.1f} MB of Parquet)")
        else:
            word = build_run(out, args.n, args.k, args.chain_chars, args.sample)
            print(f"built a run of {args.n} problems x {args.k} chains in {time.perf_counter() - t:.1f} s "
                  f"(shards {sum(f.stat().st_size for f in out.rglob('*.parquet')) / 2**20:.1f} MB)")
        t = time.perf_counter()
        path = write_report(str(out))
        print(f"write_report: {time.perf_counter() - t:.1f} s, report.html {Path(path).stat().st_size / 2**20:.1f} MB")
        static = browse(Path(path).as_uri(), word, band)
        t = time.perf_counter()
        with ReportServer(str(out)) as server:
            start = time.perf_counter() - t
            t = time.perf_counter()
            with urllib.request.urlopen(server.url + f"api/problems?band={band}&limit=50") as resp:
                api_kb = len(resp.read()) / 1024
            api = time.perf_counter() - t
            served = browse(server.url, word, band)
        print(f"--serve: start-up (index) {start:.1f} s; one API page of 50 {api:.2f} s ({api_kb:.0f} KB)")
        print("\n| mode | load to first page (s) | band filter (s) | next page (s) | search (s) | JS heap after load (MB) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for mode, f in (("report.html", static), ("--serve", served)):
            print(f"| {mode} | {f['load']:.2f} | {f['band filter']:.2f} | {f['next page']:.2f} | {f['search']:.2f} | {f['heap_mb']:.0f} |")


if __name__ == "__main__":
    main()
