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
