"""One verdict for one output: every format check (in the order of ``CHECK_NAMES``), the extracted answer, and whether it matches."""
from __future__ import annotations

from schemas.generation import Verdict
from transforms.verifiers import format_checks as fc
from transforms.verifiers.answer_types import ANSWER_TYPES, infer_answer_type
from transforms.verifiers.config import DEFAULT_CONFIG, VerifyConfig
from transforms.verifiers.equivalence import answers_match
from transforms.verifiers.extract import extract_from_final, last_box, several_boxes
from transforms.verifiers.segments import split_output
from transforms.verifiers.solutions import solutions
from transforms.verifiers.symbolic import warm_up as warm_up_sympy
from transforms.verifiers.units import registry


def warm_up() -> None:
    """Pay the one-time costs before the first verdict: SymPy's setup and pint's registry (~1-2 s each)."""
    warm_up_sympy()
    registry()


def _gold_answer(gold: str) -> str:
    """A gold stored as a worked solution (``... \\boxed{12}``) means its boxed part; several boxes
    in its last paragraph with a box (``$\\boxed{1}$ and $\\boxed{-2}$``) are several solutions, all required."""
    box = last_box(gold)
    if box is None or box.status != "ok":
        return gold
    return several_boxes(gold) or box.content


def verify(
    output: str,
    gold: str,
    answer_type: str | None = None,
    choices: list[str] | None = None,
    *,
    reasoning: str | None = None,
    finish_reason: str | None = None,
    config: VerifyConfig | None = None,
    unit: str = "",
) -> Verdict:
    """Check one model output against the gold answer.

    ``output`` is the model's whole content; ``reasoning`` is the reasoning field when the server
    split it out (``output`` is then only the final part). ``answer_type`` is one of
    ``multiple_choice | numeric | expression | free_form``, inferred from ``gold``/``choices`` when
    None; a gold holding a ``\\boxed{}`` means the box's content; ``unit`` is the gold's unit when
    the gold is written without one (``Problem.unit``). Failed checks name their reason (``malformed_think``, ``no_reasoning``,
    ``empty_reasoning``, ``truncated``, ``repetition``, ``language_mix``, ``too_short``,
    ``too_long``, ``no_answer``, ``wrong_answer``, ``partial_answer`` (some of several solutions),
    ``unverifiable``, ``no_gold``); ``correct`` is
    true exactly when no check failed; ``unverifiable`` when the only failed check is an answer no
    rule could decide. Safe to call from many threads at once.
    """
    cfg = config or DEFAULT_CONFIG
    choices = list(choices) if choices else None
    gold = _gold_answer(gold or "")
    if answer_type is None or answer_type == "":
        answer_type = infer_answer_type(gold, choices)
    elif answer_type not in ANSWER_TYPES:
        raise ValueError(f"answer_type must be one of {ANSWER_TYPES} or None, got {answer_type!r}")

    segments = split_output(output or "", reasoning, allow_implicit_open=cfg.allow_implicit_think_open)
    whole = (reasoning + "\n" + (output or "")) if reasoning else (output or "")

    checks: dict[str, bool] = {}
    reasons: list[str] = []

    def record(name: str, result: fc.CheckResult) -> None:
        passed, reason = result
        checks[name] = passed
        if not passed:
            reasons.append(reason)

    record("single_reasoning_block", fc.single_reasoning_block(segments, cfg))
    if segments.has_block and cfg.require_reasoning:
        record("reasoning_nonempty", fc.reasoning_nonempty(segments, cfg))
    record("not_truncated", fc.not_truncated(finish_reason))
    record("no_repetition", fc.no_repetition(whole, cfg))
    record("language_consistent", fc.language_consistent(whole, cfg))
    record("length_ok", fc.length_ok(len(whole), cfg))

    gold_solutions = solutions(gold) if answer_type != "multiple_choice" else ()
    several = len(gold_solutions) > 1 or any(sol.names for sol in gold_solutions)
    extracted = extract_from_final(segments.final, answer_type, choices, cfg, several=several)
    record("answer_found", (True, "") if extracted is not None else (False, "no_answer"))
    decided_by = ""
    if extracted is not None:
        if not gold.strip():
            record("answer_match", (False, "no_gold"))
        else:
            match = answers_match(extracted, gold, answer_type, choices, cfg, unit or "")
            decided_by = match.method if match.decided else ""
            if match.equal:
                record("answer_match", (True, ""))
            else:
                record("answer_match", (False, (match.reason or "wrong_answer") if match.decided else "unverifiable"))

    return Verdict(correct=not reasons, extracted_answer=extracted, checks=checks, reasons=reasons,
                   unverifiable=reasons == ["unverifiable"], decided_by=decided_by)
