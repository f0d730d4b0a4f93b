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
from pydantic import Field, ValidationError, model_validator

from schemas.output_sets import TRL_SUFFIX, written_sets
from schemas.settings import Settings
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

    name: str
    output_dir: str
    iteration: int = Field(default=1, ge=1)


Trainer = Literal["verl", "trl", "llamafactory"]


class OutputSettings(Settings):
    """Shard counts per output set, the trainers whose sets are written, the row sample's size, the card's metadata.

    ``trainers`` decides the trainer sets (``schemas.output_sets.TRAINER_SETS``: verl ``rl``; TRL ``sft_trl``,
    ``rl_trl``, ``preference_trl``; LLaMA-Factory ``sft``, ``preference``): each carries the images, so a run
    writes only what its trainers load. ``sample_problems`` bounds the sample under ``_meta/sample/`` that the
    card's examples and ``report.html`` show.
    """

    shards: dict[str, int] = {}
    trainers: list[Trainer] = Field(default=["verl", "trl", "llamafactory"], min_length=1)
    sample_problems: int = Field(default=200, ge=1)
    pretty_name: str | None = None
    license: str = "other"
    language: list[str] = ["en"]
    tags: list[str] = ["reasoning", "chain-of-thought", "distillation", "multimodal"]

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

    run: RunSettings
    source: SourceSettings | None = None  # one source (the older form); or
    sources: list[SourceSettings] = []     # several, each with its own name, kind, split, preset, limit, weight
    normalize: NormalizeSettings = NormalizeSettings()
    dedup: DedupSettings = DedupSettings()
    assess: AssessSettings = AssessSettings()
    judge: JudgeSettings | None = None
    length: LengthSettings = LengthSettings()
    teacher: TeacherSettings = TeacherSettings()
    verify: VerifyConfig = VerifyConfig()
    answer_judge: AnswerJudgeSettings | None = None
    repair: RepairSettings = RepairSettings()
    scorer: ScorerSettings | None = None
    select: SelectSettings = SelectSettings()
    output: OutputSettings = OutputSettings()

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
                raise ValueError(f"{', '.join(needs)} needs a judge: section")
        return self

    @model_validator(mode="after")
    def _scorer_present(self) -> PipelineConfig:
        if self.scorer is None:
            needs = [key for key, used in (("select.min_chain_quality > 0", self.select.min_chain_quality > 0),
                                           ("select.pairs: score", self.select.pairs == "score")) if used]
            if needs:
                raise ValueError(f"{', '.join(needs)} needs a scorer: section (the chain scorer)")
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
        sections = {"judge": self.judge, "answer_judge": self.answer_judge, "repair": self.repair, "scorer": self.scorer}
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


def _describe(error: dict[str, Any]) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
    got = "" if error["type"] in ("missing", "extra_forbidden") else f" (got {error.get('input')!r})"
    return f"  {key}: {message}{got}"


def describe_errors(exc: ValidationError) -> str:
    """One line per validation error, naming its key."""
    return "\n".join(_describe(e) for e in exc.errors())


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
