"""Generate stage: k chains per problem from a teacher, concurrently, through the response cache.

Each problem's missing samples become requests (run by :class:`TeacherCallFn`: as few as the backend
takes, ``teacher.samples_per_request`` samples each, at most ``max_in_flight`` in flight, a problem
emitted as soon as its last sample finishes, not when a batch does). Cached samples cost nothing. With
``teacher.logprobs`` every chain carries its signals (:mod:`transforms.chain_signals`). A problem with a
sample that failed for good is dead-lettered with the reason (its successful samples stay cached, so a
rerun pays only for the failed ones).
"""
from __future__ import annotations

import logging
import threading
import time

import apache_beam as beam

from schemas.generation import ProblemChains
from schemas.outputs import RejectRow
from schemas.plan import PlannedProblem, SamplingPlan
from schemas.stages import GENERATE
from transforms.failures import guarded
from transforms.generations import to_generation
from transforms.tags import DEAD_LETTER
from transforms.teacher_calls import Answer, Prompt, TeacherCallFn
from transforms.teachers.base import TeacherError
from transforms.teachers.messages import build_messages
from transforms.teachers.registry import Endpoint

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 10.0


def sample_indices(plan: SamplingPlan) -> range:
    """The sample numbers a plan asks for (they start after an earlier round's)."""
    return range(plan.first_sample, plan.first_sample + plan.n)


class _Progress:
    """Logs problems done of submitted, chains, new tokens, throughput, retries and failures every few seconds.

    A chain counts when its problem's answers are in (on the event loop's thread) and a problem when it
    is emitted; so the figures move while long problems run.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.started: float | None = None
        self.last = time.monotonic()
        self.submitted = self.problems = self.chains = self.tokens = self.cached = 0

    def submit(self) -> None:
        with self._lock:
            if self.started is None:
                self.started = time.monotonic()
            self.submitted += 1

    def sample(self, answer: Answer, retries: int, failed: int) -> None:
        with self._lock:
            self.chains += 1
            if answer.cached:
                self.cached += 1
            else:
                self.tokens += answer.completion.completion_tokens or 0
            self._maybe_log(retries, failed)

    def problem(self, retries: int, failed: int) -> None:
        with self._lock:
            self.problems += 1
            self._maybe_log(retries, failed)

    def _maybe_log(self, retries: int, failed: int) -> None:
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            rate = self.tokens / max(now - (self.started or now), 1e-9)
            log.info(
                "generate: %d/%d problems done, %d chains (%d from cache), %d new tokens, %.0f tok/s, "
                "%d retries, %d problems failed",
                self.problems, self.submitted, self.chains, self.cached, self.tokens, rate, retries, failed,
            )


class GenerateFn(TeacherCallFn):
    """PlannedProblem → ProblemChains (main) or a dead-letter row; each chain with its signals when the endpoint asks
    for log probabilities."""

    asks_logprobs = True

    def __init__(self, endpoint: Endpoint):
        super().__init__(GENERATE.name, endpoint)

    def setup(self):
        super().setup()
        self._progress = _Progress()

    async def _generate(self, planned: PlannedProblem):
        messages = build_messages(planned.problem, planned.plan.prompt_style, self.endpoint.settings.modality)
        prompt = Prompt(messages, planned.problem)  # images encoded once per problem, not per sample
        indices = list(sample_indices(planned.plan))
        answers = await self.ask_samples(prompt, planned.plan, indices)
        for answer in answers:
            if isinstance(answer, Answer):
                self._progress.sample(answer, self.teacher.retries, self.failed)
        failures = {i: a for i, a in zip(indices, answers) if isinstance(a, TeacherError)}
        if failures:
            (first, *_) = failures.values()
            each = ", ".join(f"{i} {e.reason}" for i, e in failures.items())
            return RejectRow(
                row_id=planned.problem.id,
                source=planned.problem.source,
                stage=GENERATE.name,
                reason=f"teacher_{first.reason}",
                detail=f"{len(failures)}/{planned.plan.n} samples failed (sample reason: {each}); first: {first.detail}",
            )
        return ProblemChains(planned=planned, generations=[
            to_generation(planned, i, a, self.model, self.endpoint.settings.logprobs) for i, a in zip(indices, answers)])

    def process(self, planned: PlannedProblem):
        self._progress.submit()
        yield from self.submit(self._generate(planned), planned)

    def emit(self, result: ProblemChains) -> ProblemChains:
        self._progress.problem(self.teacher.retries, self.failed)
        return result


class GenerateChains(beam.PTransform):
    """PlannedProblems → ProblemChains (main) and dead letters for failed teacher calls."""

    def __init__(self, endpoint: Endpoint):
        super().__init__()
        self._fn = GenerateFn(endpoint)

    def expand(self, planned):
        return planned | "Generate" >> guarded(GENERATE.name, beam.ParDo(self._fn).with_outputs(DEAD_LETTER, main="chains"))
