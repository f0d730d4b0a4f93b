"""Unexpected exceptions become dead-letter rows, one per element, instead of failing a bundle.

Every per-row ParDo of a stage is applied as ``guarded(stage, beam.ParDo(fn))``: Beam's own
``with_exception_handling`` catches what ``process`` raises for one element and emits
``(element, (type, repr, traceback))`` on a side output; here that becomes a
:class:`RejectRow` with the stage, the reason ``internal_error:<ExceptionType>`` (or a more
specific word, see ``SPECIFIC``) and a bounded detail (the exception and where it was raised).
A guarded transform's outputs keep their usual shape; its failures go to the pipeline's
collector (:func:`collect` when the graph is built, :func:`collected` before dead letters are
written). Without a collector — a stage applied alone, as in unit tests — a failure fails the
pipeline, Beam's convention for error handling that was not asked for.

Stages that finish elements asynchronously (the teacher calls) settle each element's coroutine
with :func:`settle` and emit :meth:`Caught.dead_letter` on :data:`FAILED` themselves.
"""
from __future__ import annotations

import traceback
import weakref
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.transforms.error_handling import ErrorHandler

from schemas.convert import RowMismatch
from schemas.outputs import RejectRow

FAILED = "failed"  # Beam's dead-letter tag for unexpected exceptions
SPECIFIC = {RecursionError: "nested_too_deep", MemoryError: "too_large", UnicodeError: "bad_text",
            RowMismatch: "schema_mismatch"}
_COLLECTORS: weakref.WeakKeyDictionary[beam.Pipeline, _Collector] = weakref.WeakKeyDictionary()


def reason_for(exc_type: type) -> str:
    """The dead-letter reason for an exception type."""
    for cls, reason in SPECIFIC.items():
        if issubclass(exc_type, cls):
            return reason
    return f"internal_error:{exc_type.__name__}"


def identify(element: Any) -> tuple[str, str]:
    """(row id, source) of any stage's element: a row, a problem, a (problem, x) pair, chains, a plan, an output row."""
    for attr in ("planned", "problem", "extra_info"):
        if hasattr(element, attr):
            return identify(getattr(element, attr))
    if isinstance(element, tuple) and element:
        return identify(element[0])
    if isinstance(element, dict):
        key = next((k for k in ("row_id", "id", "problem_id") if element.get(k)), None)
        return (str(element[key]) if key else repr(element)[:200]), str(element.get("source", ""))
    for attr in ("row_id", "id", "problem_id", "file"):
        if hasattr(element, attr):
            return str(getattr(element, attr)), str(getattr(element, "source", ""))
    return repr(element)[:200], ""


def _where(lines: list[str]) -> str:
    """``file:line in function`` of the innermost frame of a formatted traceback."""
    frames = [line for line in lines if line.lstrip().startswith('File "')]
    if not frames:
        return ""
    head = frames[-1].strip().splitlines()[0]  # File "/x/y.py", line 12, in fn
    path, _, rest = head[len('File "'):].partition('", ')
    return f"{'/'.join(path.split('/')[-2:])}:{rest.replace('line ', '').replace(', in ', ' in ')}"


def to_reject(failure: tuple[Any, tuple[type, str, list[str]]], stage: str) -> RejectRow:
    """A dead-letter row from Beam's ``(element, (type, repr, traceback))`` failure record."""
    element, (exc_type, exc_repr, lines) = failure
    row_id, source = identify(element)
    where = _where(lines)
    return RejectRow(row_id=row_id, source=source, stage=stage, reason=reason_for(exc_type),
                     detail=f"{exc_repr} at {where}" if where else exc_repr)


@dataclass
class Caught:
    """An element whose asynchronous work raised."""

    element: Any
    error: BaseException

    def dead_letter(self) -> tuple[Any, tuple[type, str, list[str]]]:
        """The failure in Beam's dead-letter layout (what ``with_exception_handling`` emits)."""
        return self.element, (type(self.error), repr(self.error), traceback.format_exception(self.error))


async def settle(work: Awaitable, element: Any) -> Any:
    """``work``'s result, or :class:`Caught` if it raised."""
    try:
        return await work
    except Exception as exc:
        return Caught(element, exc)


class StageFailure(RuntimeError):
    """A guarded stage failed on an element and no collector was set up for the pipeline."""


def _fail(reject: RejectRow) -> None:
    raise StageFailure(f"{reject.stage} failed on {reject.row_id}: {reject.reason}: {reject.detail}")


class _Collector(ErrorHandler):
    """The pipeline's stage failures as RejectRows (Beam checks at run time that it was closed)."""

    def __init__(self, pipeline: beam.Pipeline):
        super().__init__(consumer=None)
        self._pipeline = pipeline

    def close(self):
        self._output = tuple(self._error_pcolls) | "StageFailures" >> beam.Flatten(pipeline=self._pipeline)
        self._closed = True


class _StageErrors:
    """The ``error_handler`` Beam hands a guarded ParDo's failures to: converts and forwards them."""

    def __init__(self, stage: str):
        self._stage = stage

    def add_error_pcollection(self, pcoll):
        rejects = pcoll | "AsDeadLetters" >> beam.Map(to_reject, self._stage)
        collector = _COLLECTORS.get(pcoll.pipeline)
        if collector is None or collector._closed:
            rejects | "Fail" >> beam.Map(_fail)
        else:
            collector.add_error_pcollection(rejects)


def guarded(stage: str, pardo: beam.PTransform, partial: bool = False) -> beam.PTransform:
    """``pardo`` (a ParDo/Map, with or without ``with_outputs``) whose per-element exceptions become ``stage`` dead letters."""
    return pardo.with_exception_handling(dead_letter_tag=FAILED, error_handler=_StageErrors(stage), partial=partial)


def collect(pipeline: beam.Pipeline) -> None:
    """Start collecting the failures of guarded stages applied to ``pipeline``."""
    _COLLECTORS[pipeline] = _Collector(pipeline)


def collected(pipeline: beam.Pipeline) -> beam.PCollection:
    """Every guarded stage's failures so far, as RejectRows; later guarded stages fail the pipeline instead.

    The pipeline is forgotten here: its collector holds PCollections of the pipeline, so under a weak key alone it
    kept the pipeline, with its whole graph, alive for good (about 650 applied transforms of the launcher's memory
    after each run, issue 29)."""
    collector = _COLLECTORS.pop(pipeline)
    collector.close()
    return collector.output()
