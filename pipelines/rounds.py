"""``mmcot rounds``: R1V's iterative rounds, each a run reading what earlier rounds failed.

A rounds file names a base run config and ordered rounds; each round overrides any of its keys
(``set``: teacher, judge, scorer, quality bars, sampling policy …) and may take an earlier round's
problems by outcome (``takes``: a ``source.kind: mmcot`` source on that round's output). Round ``r``
writes ``<output_dir>/<name>`` with its own manifest and card (``run.iteration`` is ``r``); after
each round ``rounds.json`` (:class:`~schemas.rounds.RoundsSummary`) and the rounds card
(``README.md``) at ``output_dir`` are rewritten. A round whose config, input round and manifest are
those ``rounds.json`` recorded is finished and not rerun; a killed round has no record, so it runs
again and its finished samples come from the response cache. The embedded teacher, when a round
needs it, is started once for all rounds. The cross-round figures (each round's rescued problems, the
problems kept by any round) are counted by workers after each round, in a small job on the rounds'
runner that reads the rounds' outcome ids (``transforms/figures/rounds.py``) and writes
``_meta/rounds.json`` at ``output_dir``; the launcher reads that file, never a round's shards.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import posixpath
from pathlib import Path
from typing import Any

import apache_beam as beam
import fsspec
import yaml
from pydantic import Field, ValidationError, model_validator

from data_cards.card import load_manifest
from data_cards.meta import read_figures
from data_cards.rounds_card import write_rounds_card
from pipelines.config import ConfigError, PipelineConfig, describe_errors, parse_config, set_dotted
from pipelines.endpoints import EmbeddedTeacher, with_image_limit
from pipelines.run import run_pipeline
from pipelines.runners import pipeline_options
from pipelines.staging import staged_mmcot
from schemas.figures import ROUNDS_FILE, RoundsFigures
from schemas.manifest import Manifest
from schemas.rounds import RoundsSummary, RoundSummary
from schemas.settings import Settings
from schemas.stages import GENERATE
from transforms.figures.rounds import ComputeRoundsFigures, RoundRun
from transforms.sources.finished_run import TakeSettings
from transforms.sources.outcomes import FRONT_STAGES
from transforms.teachers.registry import backend
from transforms.write import WriteJson

log = logging.getLogger(__name__)
SUMMARY_FILE = "rounds.json"


class RoundTake(TakeSettings):
    """Which earlier round a round reads, and which of its problems (by outcome)."""

    round: str = Field(description="The earlier round whose problems this round reads.")


class RoundSettings(Settings):
    """One round: its name (its output folder), what it takes from an earlier round, its config overrides (dotted keys)."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="The round's name: its output folder under output_dir and the suffix of its run name.",
    )
    takes: RoundTake | None = Field(
        default=None,
        description="The earlier round whose problems this round reads, and which (by outcome); null: the base config's sources.",
    )
    set: dict[str, Any] = Field(
        default={},
        description="Overrides of the base config by dotted key (teacher.model, assess.min_quality, length.samples, …).",
    )


class RoundsSettings(Settings):
    """A rounds file: the base run config (relative to the file), where the rounds go, the rounds in order."""

    base: str = Field(description="The base run config, relative to the rounds file.")
    output_dir: str = Field(
        description="Where the rounds go: round <name> writes <output_dir>/<name>; rounds.json and README.md here sum them up.",
    )
    rounds: list[RoundSettings] = Field(min_length=1, description="The rounds, in order (round r runs with run.iteration r).")

    @model_validator(mode="after")
    def _rounds_chain(self) -> RoundsSettings:
        seen: list[str] = []
        for i, r in enumerate(self.rounds):
            if r.name in seen:
                raise ValueError(f"rounds.{i}.name: {r.name!r} is used twice")
            if r.takes is not None and r.takes.round not in seen:
                raise ValueError(f"rounds.{i}.takes.round: {r.takes.round!r} is not an earlier round "
                                 f"(earlier: {seen or 'none'})")
            seen.append(r.name)
        return self


def round_data(base: dict[str, Any], settings: RoundsSettings, index: int) -> dict[str, Any]:
    """The run config mapping of round ``index``: the base, its run section and source set for the round, its overrides."""
    r = settings.rounds[index]
    data = copy.deepcopy(base)
    run = data.setdefault("run", {})
    run.update(output_dir=posixpath.join(settings.output_dir, r.name), iteration=index + 1,
               name=f"{run.get('name', 'mmcot')}-{r.name}")
    if r.takes is not None:
        data.pop("sources", None)
        data["source"] = {"kind": "mmcot", "path": posixpath.join(settings.output_dir, r.takes.round), "name": r.takes.round,
                          "take": r.takes.model_dump(exclude={"round"}, exclude_none=True)}
    for dotted, value in r.set.items():
        set_dotted(data, dotted, value)
    return data


def load_rounds(path: str | Path) -> tuple[RoundsSettings, list[PipelineConfig]]:
    """The rounds file and every round's validated run config; raises ConfigError naming the file, round and key."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
        settings = RoundsSettings.model_validate(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        raise ConfigError(f"{path}: {exc.error_count()} invalid key(s):\n{describe_errors(exc, RoundsSettings)}") from None
    base_path = path.parent / settings.base
    try:
        base = yaml.safe_load(base_path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: base: cannot read {base_path}: {exc}") from None
    configs = [parse_config(round_data(base, settings, i), f"{path} rounds.{i} ({r.name}) on {base_path}")
               for i, r in enumerate(settings.rounds)]
    return settings, configs


def _read_summary(output_dir: str) -> RoundsSummary | None:
    fs, root = fsspec.core.url_to_fs(output_dir)
    path = posixpath.join(root, SUMMARY_FILE)
    if not fs.exists(path):
        return None
    with fs.open(path) as fh:
        return RoundsSummary.from_json(fh.read())


def _write_summary(output_dir: str, summary: RoundsSummary) -> None:
    fs, root = fsspec.core.url_to_fs(output_dir)
    fs.makedirs(root, exist_ok=True)
    with fs.open(posixpath.join(root, SUMMARY_FILE), "w") as fh:
        fh.write(summary.to_json())


def finished(previous: RoundsSummary | None, name: str, config_hash: str, source_run_id: str) -> RoundSummary | None:
    """The recorded summary of round ``name`` if it finished with this config on this input round (and its manifest
    is still the one recorded); None when the round must run."""
    entry = next((r for r in (previous.rounds if previous else []) if r.name == name), None)
    if entry is None or (entry.config_hash, entry.source_run_id) != (config_hash, source_run_id):
        return None
    try:
        manifest = load_manifest(entry.output_dir)
    except FileNotFoundError:
        return None
    return entry if manifest.run_id == entry.run_id else None


def taken_by_manifest(source: Manifest, take: TakeSettings) -> int | None:
    """How many problems with the taken outcomes the source round's manifest counts (None: it cannot tell, as for
    kept problems in a pass-rate range)."""
    c = source.counts
    if "all" in take.outcomes:
        return source.rows.get("problems")
    if "kept" in take.outcomes and take.pass_rate is not None:
        return None
    total = 0
    for outcome in take.outcomes:
        if outcome == "kept":
            total += c.kept
        elif outcome == "dead_letter":
            total += sum(n for key, n in c.dead_lettered.items() if key.split("/", 1)[0] not in FRONT_STAGES)
        else:
            total += sum(n for key, n in c.dropped.items() if key.split("/", 1)[1] == outcome)
    return total


def round_summary(r: RoundSettings, config: PipelineConfig, config_hash: str, manifest: Manifest,
                  source: RoundSummary | None) -> RoundSummary:
    """A finished round's line of the summary, from its manifest (``rescued`` is filled in by
    :func:`cross_round_figures`)."""
    c, s = manifest.counts, manifest.stats
    summary = RoundSummary(
        name=r.name, iteration=config.run.iteration, output_dir=config.run.output_dir, config_hash=config_hash,
        run_id=manifest.run_id, read=c.read, kept=c.kept, dropped=c.dropped, dead_lettered=c.dead_lettered,
        rl_rows=manifest.rows.get("rl", 0), preference_pairs=manifest.rows.get("preference", 0),
        chains=int(s.get("chains", 0)), chains_from_cache=int(s.get("chains_from_cache", 0)),
        prompt_tokens=int(s.get("prompt_tokens", 0)), completion_tokens=int(s.get("completion_tokens", 0)),
        chain_scores=_score_counts(manifest), balanced=c.balanced(), **_helper_tokens(manifest))
    if r.takes is None or source is None:
        return summary
    summary.takes = f"{r.takes.round}: {', '.join(r.takes.outcomes)}" + (
        f" (pass rate {r.takes.pass_rate[0]:g}–{r.takes.pass_rate[1]:g})" if r.takes.pass_rate else "")
    summary.taken = taken_by_manifest(load_manifest(source.output_dir), r.takes)
    summary.source_run_id = source.run_id
    return summary


def cross_round_figures(output_dir: str, rounds: list[RoundRun], beam_args: list[str]) -> RoundsFigures:
    """Count ``rounds``' rescued problems and the problems any of them kept in a job on the rounds' runner (workers
    read the outcome ids); the launcher reads back only ``_meta/rounds.json``."""
    with pipeline_options(beam_args) as options, staged_mmcot(options), beam.Pipeline(options=options) as p:
        _ = p | "RoundsFigures" >> ComputeRoundsFigures(rounds) | "Write" >> WriteJson(posixpath.join(output_dir, ROUNDS_FILE))
    return read_figures(output_dir, ROUNDS_FILE, RoundsFigures)


def _helper_tokens(manifest: Manifest) -> dict[str, int]:
    """New tokens of every teacher-call stage but generate (judges, repair, scorer), from the job's metrics."""
    if manifest.metrics is None or not manifest.metrics.available:
        return {}
    stages = [st for name, st in manifest.metrics.stages.items() if name != GENERATE.name]
    return {"helper_tokens_in": sum(st.counters.get("tokens_in", 0) for st in stages),
            "helper_tokens_out": sum(st.counters.get("tokens_out", 0) for st in stages)}


def _score_counts(manifest: Manifest) -> dict[str, int]:
    counts: dict[str, int] = {}
    for band in manifest.bands:
        for score, n in band.signals.chain_scores.items():
            counts[score] = counts.get(score, 0) + n
    return dict(sorted(counts.items()))


def _with_teacher(config: PipelineConfig, url: str | None, provider: EmbeddedTeacher) -> PipelineConfig:
    """The round's config with a teacher URL: the one given, else (for a server backend without one) the shared
    embedded teacher's, started on first need."""
    teacher = config.teacher
    if url is None and (teacher.base_url or not backend(teacher.backend).needs_server):
        return config
    url = url or provider.server_url(with_image_limit(teacher, config.normalize.limits.max_images), "teacher")
    return config.model_copy(update={"teacher": teacher.model_copy(update={"base_url": url})})


def run_rounds(path: str | Path, beam_args: list[str], teacher_url: str | None = None,
               command: str | None = None, cache_only: bool = False) -> RoundsSummary:
    """Run every round of the rounds file at ``path`` that is not finished; return the cross-round summary
    (``cache_only``: as :func:`~pipelines.run.run_pipeline`'s)."""
    settings, configs = load_rounds(path)
    previous = _read_summary(settings.output_dir)
    summary = RoundsSummary(name=Path(path).stem)
    by_name: dict[str, RoundSummary] = {}
    with contextlib.ExitStack() as stack:
        provider = EmbeddedTeacher(stack, configs[0].teacher.seed)
        for r, config in zip(settings.rounds, configs):
            config_hash = config.config_hash()  # before a teacher URL is filled in: a new port is the same round
            source = by_name.get(r.takes.round) if r.takes else None
            done = finished(previous, r.name, config_hash, source.run_id if source else "")
            if done is not None:
                log.info("Round %s is finished (%s): not rerun", r.name, done.output_dir)
                line = dataclasses.replace(done, ran=False)
            else:
                log.info("Round %d/%d: %s → %s", config.run.iteration, len(configs), r.name, config.run.output_dir)
                manifest = run_pipeline(_with_teacher(config, teacher_url, provider), beam_args, command, cache_only)
                line = round_summary(r, config, config_hash, manifest, source)
            by_name[r.name] = line
            summary.rounds.append(line)
            figures = cross_round_figures(settings.output_dir, [
                RoundRun(x.name, x.output_dir, by_name[t.round].output_dir if (t := ri.takes) else None)
                for ri, x in zip(settings.rounds, summary.rounds)], beam_args)
            line.rescued = figures.rescued.get(r.name, 0)
            summary.kept_total = figures.kept_total
            _write_summary(settings.output_dir, summary)
            write_rounds_card(settings.output_dir, summary)
    return summary


def _helper(r: RoundSummary) -> str:
    return "–" if r.helper_tokens_in is None else f"{r.helper_tokens_in}/{r.helper_tokens_out}"


def rounds_table(summary: RoundsSummary) -> str:
    """The cross-round summary as aligned text: a line per round, then the total."""
    head = ("round", "takes", "read", "taken", "kept", "rescued", "dropped", "dead", "chains (cached)", "tokens in/out",
            "helper tokens in/out", "adds up", "ran")
    rows = [(r.name, r.takes or "sources", str(r.read), "–" if r.taken is None else str(r.taken), str(r.kept),
             str(r.rescued), str(sum(r.dropped.values())), str(sum(r.dead_lettered.values())),
             f"{r.chains} ({r.chains_from_cache})", f"{r.prompt_tokens}/{r.completion_tokens}", _helper(r),
             "yes" if r.adds_up() else "NO", "yes" if r.ran else "finished before") for r in summary.rounds]
    widths = [max(len(x[i]) for x in (head, *rows)) for i in range(len(head))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(line, widths)) for line in (head, *rows)]
    rule = "-" * len(lines[0])
    return "\n".join([rule, *lines, rule, f"problems kept by any round: {summary.kept_total}; "
                                          f"every round adds up: {'yes' if summary.adds_up() else 'NO'}"])
