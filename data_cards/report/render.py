"""Render ``report.html``: the template with the run's summary and (when written as a file) the sampled problems inlined.

The problems are those of the pipeline's row sample under ``_meta/sample/`` (every row, in every
set, of at most ``output.sample_problems`` problems chosen by id hash, plus one of each set), so the
page stays a few MB and opens in seconds whatever the run's size; the funnel and the bands above
them count every problem. The page says how many of the run's problems it shows.
"""
from __future__ import annotations

import base64
import logging
from dataclasses import asdict
from importlib import resources

from data_cards.card import load_manifest
from data_cards.funnel import funnel
from data_cards.meta import read_figures
from data_cards.report.problems import facets, problem_details, problem_index, to_json
from data_cards.report.shards import OutputShards
from schemas.figures import SAMPLE_DIR, SAMPLE_FILE, SampleFigures
from schemas.manifest import Manifest

REPORT_FILE = "report.html"
PAGE_SIZE = 50
LARGE_REPORT_BYTES = 64 * 2**20
log = logging.getLogger(__name__)


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _funnel(manifest: Manifest) -> list[dict]:
    steps = []
    for step in funnel(manifest.counts):
        removed = [dict(zip(("outcome", "reason"), key.split(" ", 1)), count=n) for key, n in step.removed.items()]
        steps.append({"name": step.name, "remaining": step.remaining, "removed": removed})
    return steps


def _plot(run: OutputShards, rel: str) -> dict:
    data = run.read_bytes(rel)
    return {"path": rel, "src": f"data:image/png;base64,{base64.b64encode(data).decode()}" if data else None}


def sample_shards(out_dir: str) -> OutputShards:
    """The pipeline's row sample of the run in ``out_dir``, read like the output sets (never a data shard)."""
    return OutputShards(out_dir.rstrip("/") + "/" + SAMPLE_DIR)


def summary(out_dir: str, manifest: Manifest, sample: SampleFigures, index: list[dict]) -> dict:
    """Everything above the problem list: the run, the funnel, the bands and plots, the filter values, what is sampled."""
    c, run = manifest.counts, OutputShards(out_dir)
    return {
        "run": {"name": manifest.config.get("run", {}).get("name"), "run_id": manifest.run_id,
                "created_at": manifest.created_at, "command": manifest.command, "config_hash": manifest.config_hash,
                "wall_time_s": manifest.wall_time_s, "out_dir": out_dir},
        "counts": {"read": c.read, "kept": c.kept, "dropped": sum(c.dropped.values()),
                   "dead_lettered": sum(c.dead_lettered.values()), "balanced": c.balanced()},
        "funnel": _funnel(manifest),
        "bands": [asdict(b) for b in manifest.bands],
        "plots": [_plot(run, p) for p in manifest.plots],
        "stats": manifest.stats,
        "rows": manifest.rows,
        "facets": facets(index),
        "problems": len(index),
        "sample": {"problems": len(index), "read": c.read, "limit": sample.limit, "method": sample.method,
                   "whole": len(index) >= c.read},
    }


def render_html(data: dict) -> str:
    """The page: template, stylesheet and script, with ``data`` (``mode``, ``summary``, ``problems``, ``page_size``)."""
    return (_asset("template.html")
            .replace("/*MMCOT_CSS*/", _asset("report.css"))
            .replace("/*MMCOT_JS*/", _asset("report.js"))
            .replace("__MMCOT_DATA__", to_json(data)))


def write_report(out_dir: str) -> str:
    """Write ``report.html`` (the sampled problems inlined, images as data URLs) into ``out_dir``; return its path
    (a URL for object storage)."""
    manifest = load_manifest(out_dir)
    sample = read_figures(out_dir, SAMPLE_FILE, SampleFigures)
    shards = sample_shards(out_dir)
    index = problem_index(shards)
    html = render_html({"mode": "static", "summary": summary(out_dir, manifest, sample, index),
                        "problems": problem_details(shards, index), "page_size": PAGE_SIZE})
    run = OutputShards(out_dir)
    path = run.path(REPORT_FILE)
    with run.fs.open(path, "w", encoding="utf-8") as fh:
        fh.write(html)
    if len(html) > LARGE_REPORT_BYTES:
        log.warning("report.html is %d MB; lower output.sample_problems (%d) for a lighter page",
                    len(html) // 2**20, sample.limit)
    return path if "://" not in out_dir else run.fs.unstrip_protocol(path)
