"""Small builders shared by the tests."""
from __future__ import annotations

import io

from PIL import Image


def png_bytes(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 30, 30), mode: str = "RGB") -> bytes:
    """A PNG of one colour with a dark square, so its hashes depend on the content."""
    img = Image.new(mode, size, color if mode == "RGB" else 128)
    for x in range(size[0] // 4, size[0] // 2):
        for y in range(size[1] // 4, size[1] // 2):
            img.putpixel((x, y), (0, 0, 0) if mode == "RGB" else 0)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def write_run_records(config, sets: dict[str, list], dead: list | None = None, beam_args: tuple[str, ...] = ()) -> None:
    """Write ``sets`` (set name → records; ``_meta/read_counts`` included) and ``dead`` letters into
    ``config.run.output_dir`` as a run does (``pipelines.build.write_outputs``; DirectRunner unless ``beam_args``
    say otherwise): shards, and the figures and row sample the workers compute under ``_meta/``."""
    import apache_beam as beam

    from pipelines.build import write_outputs
    from pipelines.runners import pipeline_options
    from schemas.output_sets import READ_COUNTS_SET
    from transforms import failures

    with pipeline_options(list(beam_args) or ["--runner", "direct"]) as options, beam.Pipeline(options=options) as p:
        failures.collect(p)
        outputs = {name: p | f"Create_{name}" >> beam.Create(sets.get(name, []))
                   for name in dict.fromkeys(("sft", "rl", "preference", "dropped", "generations", READ_COUNTS_SET.name, *sets))}
        write_outputs(p, outputs, [p | "CreateDead" >> beam.Create(dead or [])], config)


def record_shard_again(out, name: str, shard) -> None:
    """Record ``shard`` of set ``name`` in ``out``/_meta/shards.json as a worker reading it after the write would
    (its rows, size, sha256 and the set's features): tests that change a written shard stand for a run that wrote it so."""
    from pathlib import Path

    from schemas.figures import SHARDS_FILE, SetFigures, ShardFigures, dumps, loads
    from transforms.figures.shards import shard_facts

    facts = shard_facts((name, str(shard)), str(out), ())
    path = Path(out) / SHARDS_FILE
    figures = loads(ShardFigures, path.read_text())
    figures.shards = [facts.info if s.path == facts.info.path else s for s in figures.shards]
    figures.sets = [SetFigures(name, s.data_bytes, facts.features, facts.unloadable) if s.name == name else s
                    for s in figures.sets]
    path.write_text(dumps(figures))
