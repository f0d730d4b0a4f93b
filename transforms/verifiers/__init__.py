"""Answer extraction, equivalence and format checks for teacher outputs: pure functions, no Beam.

Public API::

    verify(output, gold, answer_type=None, choices=None, *, reasoning=None, finish_reason=None,
           config=None, unit="") -> Verdict
    extract_answer(text, answer_type=None, choices=None) -> str | None
    warm_up()  # pay SymPy's and pint's one-time setup (a second or two each) before the first verdict
    VerifyConfig, DEFAULT_CONFIG, CHECK_NAMES, infer_answer_type

Modules: ``segments`` (reasoning block vs final part), ``extract`` (answer tags, boxes, answer
markers, option letters; its precedence), ``phrases`` (the value an answer sentence names),
``normalize`` (canonical text, numbers and their unit, percent and currency marks, yes/no,
letters, AMC answers), ``solutions`` (answers listing several solutions, tuples), ``units``
(pint: dimensions, conversion, angles; how two sides' units relate), ``equivalence`` (which rule
decides), ``math_text`` (the one LaTeX form both sides take, or a refusal), ``exact`` (the exact
fast path), ``symbolic`` (math-verify on whole answers only, thread-safe and bounded), ``budget``
(per-thread wall-clock budget), ``format_checks`` (think tags, truncation, repetition, script
mix, length), ``verdict`` (runs them all into a ``Verdict``).
"""
from schemas.generation import CHECK_NAMES, Verdict
from transforms.verifiers.answer_types import ANSWER_TYPES, infer_answer_type
from transforms.verifiers.config import DEFAULT_CONFIG, VerifyConfig
from transforms.verifiers.extract import extract_answer
from transforms.verifiers.verdict import verify, warm_up

__all__ = [
    "ANSWER_TYPES",
    "CHECK_NAMES",
    "DEFAULT_CONFIG",
    "Verdict",
    "VerifyConfig",
    "extract_answer",
    "infer_answer_type",
    "verify",
    "warm_up",
]
