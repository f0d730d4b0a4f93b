"""Synthetic image-question problems whose answers are exact by construction.

Each family module (bar_chart, geometry, counting, clock, grid_points; compare_counts draws two) draws one picture
from a seeded RNG and a difficulty in [0, 1]; ``generate`` streams them deterministically and
the writers emit the JSONL and Parquet layouts mmcot's readers consume.
"""
from transforms.synth.record import SynthProblem
from transforms.synth.registry import FAMILIES, generate, problem
from transforms.synth.writers import write_jsonl, write_parquet

__all__ = ["FAMILIES", "SynthProblem", "generate", "problem", "write_jsonl", "write_parquet"]
