"""Pipeline assembly: the stages wired together, every side output routed to its Parquet set."""
from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass

import apache_beam as beam

from pipelines.config import PipelineConfig
from pipelines.endpoints import RunEndpoints
from schemas.figures import CHAINS_FILE, FUNNEL_FILE, SAMPLE_FILE, SHARDS_FILE
from schemas.output_sets import ORDERED_SETS, PROBLEMS, READ_COUNTS_SET, RUN_OUTPUTS, OutputSpec
from schemas.stages import ANSWER_JUDGE, JUDGE, REPAIR, SCORE
from transforms import failures
from transforms.answer_judge import AnswerJudge
from transforms.assess import Assess
from transforms.chain_score import ScoreChains
from transforms.curriculum import order_key, with_index
from transforms.dedup import DedupProblems, DedupSettings
from transforms.dedup.chains import MarkDuplicateChains
from transforms.escalate import EscalateLowPassRate
from transforms.figures import ComputeChainFigures, ComputeFunnel, ComputeShardFigures, SampleRows
from transforms.figures.plots import draw_plots
from transforms.generate import GenerateChains
from transforms.judge import Judge
from transforms.length import PlanLength, ReplanFromPassRate
from transforms.normalize import NormalizeProblems, NormalizeSettings
from transforms.rejects import CountRejects
from transforms.repair import RepairChains
from transforms.scores import ScaleScores
from transforms.select import SelectChains, row_sets
from transforms.sources import ReadSources, SourceSettings, require_images_by_source
from transforms.sources.finished_run import RESTORED
from transforms.tags import DEAD_LETTER, DROPPED, READ_COUNTS
from transforms.verify import VerifyChains
from transforms.write import WriteJson, WriteShards, WriteSortedShards


@dataclass
class Front:
    """read → normalize → dedup, the part before any teacher call: kept problems, what was dropped or
    dead-lettered on the way, and the rows read per file."""

    kept: beam.PCollection
    dropped: list[beam.PCollection]
    dead: list[beam.PCollection]
    read_counts: beam.PCollection


def build_front(p: beam.Pipeline, sources: list[SourceSettings], normalize: NormalizeSettings,
                dedup: DedupSettings) -> Front:
    """Add read (every source) → normalize → dedup to ``p`` (``mmcot run`` and ``mmcot dedup`` both start with it);
    a finished run's restored problems join after normalize.

    Starts collecting the failures of guarded stages: :func:`write_sets` dead-letters them."""
    failures.collect(p)
    read = p | "Read" >> ReadSources(sources)
    rows = read["rows"] | "Spread" >> beam.Reshuffle()
    normalized = rows | "Normalize" >> NormalizeProblems(normalize, require_images_by_source(sources))
    problems = (normalized.problems, read[RESTORED]) | "WithRestored" >> beam.Flatten()
    deduped = problems | "Dedup" >> DedupProblems(dedup)
    return Front(deduped["kept"], [deduped[DROPPED]], [read[DEAD_LETTER], normalized[DEAD_LETTER]], read[READ_COUNTS])


def all_rejects(pcolls: list[beam.PCollection], kind: str) -> beam.PCollection:
    """Every stage's reject rows of one kind (``dropped``, ``dead_letter``), flattened and counted by stage and reason."""
    return pcolls | f"All_{kind}" >> beam.Flatten() | f"Count_{kind}" >> CountRejects(kind)


@dataclass
class Written:
    """What :func:`write_sets` wrote: every set's records (the dead letters included) and ``(set name, shard path)``
    of every shard, as the writes emit them."""

    records: dict[str, beam.PCollection]
    shards: beam.PCollection


def write_sets(p: beam.Pipeline, outputs: dict[str, beam.PCollection], dead: list[beam.PCollection],
               specs: tuple[OutputSpec, ...], out: str, num_shards: Callable[[str], int],
               rl_order: Callable | None = None) -> Written:
    """Write each spec's PCollection of ``outputs`` (those present) as Parquet shards under ``out``/name (and the
    read counts; the RL sets in ``rl_order``, numbered by ``extra_info.index``), then the dead letters: ``dead``
    and every guarded stage's failures, those of the writes above included."""
    def write(spec: OutputSpec, pcoll: beam.PCollection) -> beam.PCollection:
        directory, shards, label = posixpath.join(out, spec.name), num_shards(spec.name), spec.name.rsplit("/", 1)[-1]
        if spec.name in ORDERED_SETS and rl_order is not None:
            writer = WriteSortedShards(directory, spec.schema, rl_order, with_index, shards)
        else:
            writer = WriteShards(directory, spec.schema, spec.key, shards)
        return pcoll | f"Write_{label}" >> writer | f"Named_{label}" >> beam.Map(lambda written: (spec.name, written[0]))

    shards = [write(spec, outputs[spec.name]) for spec in specs if spec.name != DEAD_LETTER and spec.name in outputs]
    write(READ_COUNTS_SET, outputs[READ_COUNTS_SET.name])
    dead_letters = all_rejects([*dead, failures.collected(p)], DEAD_LETTER)
    shards.append(write(next(spec for spec in specs if spec.name == DEAD_LETTER), dead_letters))
    return Written({**outputs, DEAD_LETTER: dead_letters}, shards | "AllShards" >> beam.Flatten())


def write_figures(written: Written, specs: tuple[OutputSpec, ...], out: str, kept: str,
                  sample_problems: int | None = None) -> None:
    """Compute the job's figures on the workers and write them under ``out``/_meta/: the funnel (``kept``: the set
    whose rows count as kept; the sets a job has), every shard's rows and sha256, the chains' figures (and their plots
    under ``out``/plots/) when there are generations, and (``sample_problems``) the bounded row sample of ``specs``'
    sets."""
    records, meta = written.records, lambda rel: posixpath.join(out, rel)
    funnel = {"read_counts": READ_COUNTS_SET.name, "kept": kept, "dropped": DROPPED, "dead_letter": DEAD_LETTER}
    ({part: records[name] for part, name in funnel.items() if name in records}
     | "Funnel" >> ComputeFunnel() | "WriteFunnel" >> WriteJson(meta(FUNNEL_FILE)))
    (written.shards | "Shards" >> ComputeShardFigures(out, tuple(s.name for s in specs), ORDERED_SETS)
     | "WriteShards" >> WriteJson(meta(SHARDS_FILE)))
    if "generations" in records:
        ({"generations": records["generations"], "kept": records[kept]} | "ChainFigures" >> ComputeChainFigures()
         | "Plots" >> beam.Map(draw_plots, out) | "WriteChains" >> WriteJson(meta(CHAINS_FILE)))
    if sample_problems:
        sets = {s.name: (s.key, s.schema) for s in specs}
        (records | "Sample" >> SampleRows(sets, out, sample_problems) | "WriteSample" >> WriteJson(meta(SAMPLE_FILE)))


def build_pipeline(p: beam.Pipeline, config: PipelineConfig, endpoints: RunEndpoints) -> None:
    """Add the whole read → … → write graph to ``p`` (``endpoints``: the config's teacher sections, resolved)."""
    front = build_front(p, config.all_sources, config.normalize, config.dedup)
    assessed = front.kept | "Assess" >> Assess(config.assess)
    dropped = list(front.dropped)
    if config.judge is not None:
        judged = assessed | "Judge" >> Judge(config.judge, endpoints.of(JUDGE.section))
        scaled = judged | "Scale" >> ScaleScores(config.assess.difficulty_from == "judge", config.assess.min_quality)
        assessed = scaled.pairs
        dropped.append(scaled[DROPPED])
    planned = assessed | "PlanLength" >> PlanLength(config.length)
    generated = planned | "Generate" >> GenerateChains(endpoints.teacher)
    verified = generated.chains | "Verify" >> VerifyChains(config.verify)
    if config.assess.difficulty_from == "pass_rate":  # the teacher's pass rate so far is the difficulty from here on
        verified = verified | "PassRateDifficulty" >> ReplanFromPassRate(config.length)
    dead = [*front.dead, generated[DEAD_LETTER]]
    if config.length.policy == "pass_rate":
        escalated = verified | "Escalate" >> EscalateLowPassRate(
            config.length.probe, GenerateChains(endpoints.teacher), VerifyChains(config.verify))
        verified = escalated["chains"]
        dead.append(escalated[DEAD_LETTER])
    if config.answer_judge is not None:  # decides unverifiable chains before repair looks for wrong-only problems
        verified = verified | "AnswerJudge" >> AnswerJudge(config.answer_judge, endpoints.of(ANSWER_JUDGE.section))
    if config.dedup.chains.enabled:  # on the teacher's samples, before any repair joins them
        verified = verified | "DedupChains" >> MarkDuplicateChains(config.dedup.chains)
    if config.repair.enabled:
        verified = verified | "Repair" >> RepairChains(
            config.repair, endpoints.of(REPAIR.section), config.verify)
    if config.scorer is not None:  # after repair: a verified rewrite is scored like any chain
        verified = verified | "Score" >> ScoreChains(config.scorer, endpoints.of(SCORE.section))
    selected = verified | "Select" >> SelectChains(config.select, config.verify.hygiene, config.output.trl_twins)
    dropped.append(selected[DROPPED])
    dead.append(selected[DEAD_LETTER])

    outputs = {
        **{name: selected[name] for name in row_sets(config.output.trl_twins)},
        DROPPED: all_rejects(dropped, DROPPED),
        "generations": verified | "Chains" >> beam.FlatMap(lambda chains: chains.generations),
        PROBLEMS.name: front.kept,
        READ_COUNTS_SET.name: front.read_counts,
    }
    write_outputs(p, outputs, dead, config)


def write_outputs(p: beam.Pipeline, outputs: dict[str, beam.PCollection], dead: list[beam.PCollection],
                  config: PipelineConfig) -> None:
    """Write a run's output sets (the trainer sets of ``output.trainers`` only; the TRL twins come from select; RL
    sets in curriculum order), its dead letters (needs :func:`failures.collect` on ``p`` first, as
    :func:`build_front` does) and its figures; the row sample covers every set select emits, written or not."""
    written_names = config.output.written()
    written = write_sets(p, {k: v for k, v in outputs.items() if k in written_names or k == READ_COUNTS_SET.name}, dead,
                         tuple(s for s in RUN_OUTPUTS if s.name in written_names), config.run.output_dir,
                         config.output.num_shards, order_key(config.select.rl_order))
    written.records.update({k: v for k, v in outputs.items() if k not in written.records})
    write_figures(written, RUN_OUTPUTS, config.run.output_dir, "sft", config.output.sample_problems)
