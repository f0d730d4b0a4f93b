"""Run configuration: YAML validated into typed, per-stage settings.

Every section is one stage's own settings class (defined next to the stage); unknown keys and
wrong types fail with :class:`ConfigError`, whose message names each offending key.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from pipelines.config_keys import keys_at, nearest_key
from schemas.output_sets import TRL_SUFFIX, written_sets
from schemas.settings import Settings
from schemas.stages import ANSWER_JUDGE, JUDGE, REPAIR, SCORE
from transforms.answer_judge import AnswerJudgeSettings
from transforms.assess import AssessSettings
from transforms.chain_score import ScorerSettings
from transforms.dedup import DedupSettings
from transforms.judge import JudgeSettings
from transforms.length import LengthSettings
from transforms.normalize import NormalizeSettings
from transforms.repair import RepairSettings
from transforms.select import SelectSettings
from transforms.sources import SourceSettings
from transforms.teachers.registry import backend
from transforms.teachers.settings import TeacherSettings
from transforms.verifiers.config import VerifyConfig
from transforms.verifiers.hygiene import hygiene


class ConfigError(ValueError):
    """A configuration that does not validate; the message names every bad key."""


class RunSettings(Settings):
    """Run name, where results go, and which self-distillation round this run is (R1V iterates
    rounds with a rising ``assess.min_quality`` and the previous round's model as teacher)."""

    name: str = Field(
        description="The run's name: logged, recorded in manifest.json, and the dataset card's title unless output.pretty_name is set.",
    )
    output_dir: str = Field(
        description="Where the run writes its shards, manifest.json, dataset card and dead letters: a directory or an fsspec URL (gs://, "
                    "s3://).",
    )
    iteration: int = Field(
        default=1, ge=1,
        description="Which self-distillation round this run is (1: the first), recorded in the manifest and card; `mmcot rounds` sets it.",
    )


Trainer = Literal["verl", "trl", "llamafactory"]


class OutputSettings(Settings):
    """Shard counts per output set, the trainers whose sets are written, the row sample's size, the card's metadata.

    ``trainers`` decides the trainer sets (``schemas.output_sets.TRAINER_SETS``: verl ``rl``; TRL ``sft_trl``,
    ``rl_trl``, ``preference_trl``; LLaMA-Factory ``sft``, ``preference``): each carries the images, so a run
    writes only what its trainers load. ``sample_problems`` bounds the sample under ``_meta/sample/`` that the
    card's examples and ``report.html`` show.
    """

    shards: dict[str, int] = Field(
        default={},
        description="Parquet shards per output set, by set name (sft, rl, preference, …); a set not listed gets 1, a TRL twin its base "
                    "set's count.",
    )
    trainers: list[Trainer] = Field(
        default=["verl", "trl", "llamafactory"], min_length=1,
        description="Trainers whose sets are written: verl (rl), trl (sft_trl, rl_trl, preference_trl), llamafactory (sft, "
                    "preference); problems, generations, dropped and dead_letter are always written.",
    )
    sample_problems: int = Field(
        default=200, ge=1,
        description="Problems in the row sample under _meta/sample/ that the card's examples and report.html show.",
    )
    pretty_name: str | None = Field(default=None, description="The dataset card's pretty_name; null: run.name.")
    license: str = Field(default="other", description="The dataset card's license (a Hub license id).")
    language: list[str] = Field(default=["en"], description="The dataset card's languages (ISO 639-1 codes).")
    tags: list[str] = Field(default=["reasoning", "chain-of-thought", "distillation", "multimodal"], description="The dataset card's tags.")

    def num_shards(self, output_set: str) -> int:
        """Shards for ``output_set`` (1 unless configured; a TRL twin defaults to its base set's count)."""
        base = output_set.removesuffix(TRL_SUFFIX)
        return self.shards.get(output_set, self.shards.get(base, 1))

    def written(self) -> tuple[str, ...]:
        """The output sets this run writes."""
        return written_sets(self.trainers)

    @property
    def trl_twins(self) -> bool:
        """Whether select builds TRL's twins of sft/rl/preference (TRL is one of the trainers)."""
        return "trl" in self.trainers


class PipelineConfig(Settings):
    """The whole run: one section per stage."""

    run: RunSettings = Field(description="The run's name, output directory and round number.")
    source: SourceSettings | None = Field(
        default=None,
        description="One source of problems (the older form); give either source or sources.",
    )
    sources: list[SourceSettings] = Field(
        default=[],
        description="Several sources, each with its own name, kind, split, preset, limit and weight; give either source or sources.",
    )
    normalize: NormalizeSettings = Field(
        default=NormalizeSettings(),
        description="Row validation: images, size limits, remote images, repeated ids.",
    )
    dedup: DedupSettings = Field(
        default=DedupSettings(),
        description="Exact and near-duplicate problem dedup, decontamination against benchmarks, chain dedup.",
    )
    assess: AssessSettings = Field(default=AssessSettings(), description="Where difficulty comes from, and the minimum judge quality.")
    judge: JudgeSettings | None = Field(
        default=None,
        description="R1V's judge (S_v, S_t, S_I scores of each problem); null: no judge. Needed by assess.difficulty_from: judge, "
                    "assess.min_quality > 0 and length.policy: r1v_drlc.",
    )
    length: LengthSettings = Field(default=LengthSettings(), description="Length policy, sampling settings and difficulty bands.")
    teacher: TeacherSettings = Field(
        default=TeacherSettings(),
        description="The teacher model: backend, server, concurrency, retries, response cache.",
    )
    verify: VerifyConfig = Field(default=VerifyConfig(), description="Every check a chain must pass, and how answers are compared.")
    answer_judge: AnswerJudgeSettings | None = Field(
        default=None,
        description="A model that decides the chains no verifier rule could (unverifiable answers); null: they stay unverifiable.",
    )
    repair: RepairSettings = Field(
        default=RepairSettings(),
        description="Rewrite a wrong chain toward the known answer when a problem has no correct chain.",
    )
    scorer: ScorerSettings | None = Field(
        default=None,
        description="The chain scorer (a 0–5 score per chain); null: no scores. Needed by select.min_chain_quality > 0 and select.pairs: "
                    "score.",
    )
    select: SelectSettings = Field(
        default=SelectSettings(),
        description="Which chain is kept, which problems make RL rows, preference pairs.",
    )
    output: OutputSettings = Field(default=OutputSettings(), description="Shard counts, TRL twins and the dataset card's metadata.")

    @model_validator(mode="after")
    def _sources_given(self) -> PipelineConfig:
        if (self.source is None) == (not self.sources):
            raise ValueError("give either source: (one) or sources: (a list), not both" if self.source
                             else "sources: at least one source is needed (or a source: section)")
        names = [s.name for s in self.all_sources]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"sources: names must be unique (problem ids start with them); repeated: {repeated}")
        return self

    @property
    def all_sources(self) -> list[SourceSettings]:
        """Every source this run reads, in config order."""
        return [self.source] if self.source is not None else list(self.sources)

    @model_validator(mode="after")
    def _judge_present(self) -> PipelineConfig:
        if self.judge is None:
            needs = [key for key, used in (("assess.difficulty_from: judge", self.assess.difficulty_from == "judge"),
                                           ("assess.min_quality > 0", self.assess.min_quality > 0),
                                           ("length.policy: r1v_drlc", self.length.policy == "r1v_drlc")) if used]
            if needs:
                raise ValueError(f"{', '.join(needs)} needs a {JUDGE.section}: section")
        return self

    @model_validator(mode="after")
    def _scorer_present(self) -> PipelineConfig:
        if self.scorer is None:
            needs = [key for key, used in (("select.min_chain_quality > 0", self.select.min_chain_quality > 0),
                                           ("select.pairs: score", self.select.pairs == "score")) if used]
            if needs:
                raise ValueError(f"{', '.join(needs)} needs a {SCORE.section}: section (the chain scorer)")
        return self

    @model_validator(mode="after")
    def _logprobs_present(self) -> PipelineConfig:
        needs = self.select.uses_signals()
        if needs and self.teacher.logprobs is None:
            raise ValueError(f"{', '.join(needs)} needs the chain signals: set teacher.logprobs (e.g. {{top: 5}})")
        return self

    @model_validator(mode="after")
    def _helper_servers_known(self) -> PipelineConfig:
        if backend(self.teacher.backend).needs_server:
            return self
        for name, endpoint in self.helper_endpoints().items():
            if backend(endpoint.backend).needs_server and not endpoint.base_url:
                raise ValueError(f"{name}.endpoint.base_url is empty and teacher.backend {self.teacher.backend} has no "
                                 f"server for {name} to share; set the URL or a backend that needs no server")
        return self

    def helper_endpoints(self) -> dict[str, TeacherSettings]:
        """The judges', the repairer's and the scorer's own model endpoints, by section name (absent: they use the teacher's)."""
        sections = {stage.section: getattr(self, stage.section) for stage in (JUDGE, ANSWER_JUDGE, REPAIR, SCORE)}
        return {name: s.endpoint for name, s in sections.items() if s is not None and s.endpoint is not None}

    def check_environment(self) -> None:
        """Raise ConfigError naming every ``api_key_env`` whose variable is unset, or a ``verify.hygiene.student_tokenizer``
        that cannot be read offline (checked before a run starts)."""
        sections = {"teacher": self.teacher, **{f"{n}.endpoint": e for n, e in self.helper_endpoints().items()}}
        missing = [f"  {name}.api_key_env: environment variable {s.api_key_env} is not set"
                   for name, s in sections.items()
                   if backend(s.backend).needs_server and s.api_key_env and not os.environ.get(s.api_key_env)]
        if missing:
            raise ConfigError("the teacher's API key is missing:\n" + "\n".join(missing))
        try:
            hygiene(self.verify.hygiene)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def config_hash(self) -> str:
        """sha256 of the canonical JSON of the validated config."""
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


def _unknown_key(loc: tuple[str | int, ...], root: type[BaseModel]) -> str:
    near = nearest_key(root, loc)
    if near is not None:
        return f"unknown key (did you mean {near}?)"
    known = keys_at(root, loc[:-1])
    return f"unknown key (known here: {', '.join(known)})" if known else "unknown key"


def _describe(error: dict[str, Any], root: type[BaseModel]) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = _unknown_key(error["loc"], root) if error["type"] == "extra_forbidden" else error["msg"]
    got = "" if error["type"] in ("missing", "extra_forbidden") else f" (got {error.get('input')!r})"
    return f"  {key}: {message}{got}"


def describe_errors(exc: ValidationError, root: type[BaseModel] | None = None) -> str:
    """One line per validation error, naming its key; an unknown key gets the nearest valid one at its place in
    ``root`` (the model validated; default :class:`PipelineConfig`)."""
    return "\n".join(_describe(e, root or PipelineConfig) for e in exc.errors())


def parse_config(data: Any, origin: str = "config") -> PipelineConfig:
    """Validate a loaded mapping; raises ConfigError naming every bad key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {exc.error_count()} invalid key(s):\n{describe_errors(exc)}") from None


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """Read and validate a YAML config; ``overrides`` maps dotted keys to values (``teacher.base_url``)."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    for dotted, value in (overrides or {}).items():
        set_dotted(data, dotted, value)
    return parse_config(data, str(path))


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` (a numeric part indexes a list: ``sources.1.limit``)."""
    *parents, last = dotted.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
