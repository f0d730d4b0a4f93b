"""The one stage table: every stage of a run, declared once, in flow order.

A stage's ``name`` is one word used everywhere the stage is named: its Beam metrics namespace, the
``stage`` of its dead-letter and dropped rows, its line in the summary and its priced line in the
cost. ``section`` is the config section that sets it up, when that is not the name: ``length`` (the
plan policy, also escalate's ``length.probe``), ``teacher`` (the model generate calls), ``scorer``
(the model the ``score`` stage asks), ``sources``, ``output``; those keys predate the table and stay.
``modules`` are the ``transforms`` modules that make up the stage (a package's ``__init__`` by the
package's name): no stage module imports another stage's module, and no other ``transforms`` module
imports a stage module (``tests/schemas/test_stage_table.py``); what two stages share lives in a helper module
named for its job. ``funnel`` is the step of the card's funnel that a stage's drops and dead letters
count against. Adding a stage is a row here, its module, and its place in ``pipelines/build.py``.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    """One stage: its name (metrics namespace, reject rows' ``stage``), config section, modules and funnel step."""

    name: str
    section: str | None
    modules: tuple[str, ...]
    funnel: str


READ = Stage("read", "sources", ("transforms.sources", "transforms.sources.read", "transforms.sources.finished_run"), "normalized")
NORMALIZE = Stage("normalize", "normalize", ("transforms.normalize",), "normalized")
DEDUP = Stage("dedup", "dedup", ("transforms.dedup", "transforms.dedup.decontam", "transforms.dedup.exact", "transforms.dedup.near"),
              "deduplicated")
ASSESS = Stage("assess", "assess", ("transforms.assess", "transforms.scores"), "assessed")
JUDGE = Stage("judge", "judge", ("transforms.judge",), "assessed")
PLAN = Stage("plan", "length", ("transforms.length",), "assessed")
GENERATE = Stage("generate", "teacher", ("transforms.generate",), "generated")
VERIFY = Stage("verify", "verify", ("transforms.verify",), "verified")
ESCALATE = Stage("escalate", "length", ("transforms.escalate",), "generated")
ANSWER_JUDGE = Stage("answer_judge", "answer_judge", ("transforms.answer_judge",), "verified")
CHAIN_DEDUP = Stage("chain_dedup", "dedup", ("transforms.dedup.chains",), "verified")
REPAIR = Stage("repair", "repair", ("transforms.repair",), "kept")
SCORE = Stage("score", "scorer", ("transforms.chain_score",), "kept")
SELECT = Stage("select", "select", ("transforms.select",), "kept")
WRITE = Stage("write", "output", ("transforms.write",), "kept")
FIGURES = Stage("figures", "output", ("transforms.figures", "transforms.figures.chains", "transforms.figures.funnel",
                                     "transforms.figures.sample", "transforms.figures.shards"), "kept")

STAGES: tuple[Stage, ...] = (READ, NORMALIZE, DEDUP, ASSESS, JUDGE, PLAN, GENERATE, VERIFY, ESCALATE, ANSWER_JUDGE,
                             CHAIN_DEDUP, REPAIR, SCORE, SELECT, WRITE, FIGURES)
"""A run's stages in flow order (the summary's order)."""

EVALUATE = Stage("evaluate", None, ("transforms.evaluate",), "kept")
"""``mmcot evaluate``'s one stage (not part of a run)."""

FUNNEL_STEPS: tuple[str, ...] = ("normalized", "deduplicated", "assessed", "generated", "verified", "kept")
"""The card's funnel after ``read``, in order; each stage's ``funnel`` is one of them."""


def stage_named(name: str) -> Stage | None:
    """The run stage called ``name`` (None for a namespace that is no stage, e.g. a test's)."""
    return next((s for s in STAGES if s.name == name), None)


def flow_rank(name: str) -> tuple[int, str]:
    """Sort key putting stage names in flow order, anything else after them by name."""
    stage = stage_named(name)
    return (STAGES.index(stage) if stage else len(STAGES)), name
