"""Shape kept chains and problems into the output rows (SFT, RL, preference), prompts with ``<image>`` tags.

The tags come from :func:`student_prompt` (one per image, in image order); the TRL twins of these
rows are derived from them in :mod:`transforms.trl_rows`.
"""
from __future__ import annotations

from schemas.generation import Generation, ProblemChains
from schemas.outputs import DATA_SOURCE_PREFIX, Message, PreferenceRow, RewardModel, RLExtraInfo, RLRow, SFTRow
from transforms.chain_signals import problem_signals
from transforms.teachers.messages import student_prompt


def assistant_text(generation: Generation) -> str:
    """The chain as ``<think>reasoning</think>`` then the answer.

    When the teacher wrote no reasoning block, its whole content is the reasoning and the
    verified answer is restated as ``\\boxed{…}``.
    """
    if generation.reasoning:
        return f"<think>\n{generation.reasoning}\n</think>\n\n{generation.answer_text}"
    answer = generation.verdict.extracted_answer if generation.verdict else ""
    return f"<think>\n{generation.answer_text}\n</think>\n\nThe answer is \\boxed{{{answer}}}."


def sft_row(chains: ProblemChains, chosen: Generation, selection: str) -> SFTRow:
    """An SFT row: the student prompt with its images and the chosen chain."""
    problem = chains.planned.problem
    return SFTRow(
        id=problem.id,
        source=problem.source,
        images=problem.images,
        messages=[Message("user", student_prompt(problem)), Message("assistant", assistant_text(chosen))],
        answer=problem.answer,
        answer_type=problem.answer_type,
        difficulty=chains.planned.assessment.difficulty,
        pass_rate=chains.pass_rate,
        teacher=chosen.teacher,
        completion_tokens=chosen.completion_tokens,
        selection=selection,
        assessment=chains.planned.assessment,
        chain_score=chosen.chain_score,
        scorer=chosen.scorer,
        signals=chosen.signals,
    )


def rl_row(chains: ProblemChains) -> RLRow:
    """A problem in verl's layout, with its pass rate and difficulty for curriculum ordering.

    ``extra_info.index`` stays -1 here: it is the row's place in the written order, set when the rows are ordered.
    """
    problem = chains.planned.problem
    return RLRow(
        data_source=DATA_SOURCE_PREFIX + problem.source,
        prompt=[Message("user", student_prompt(problem))],
        images=problem.images,
        ability=problem.subject or "math",
        reward_model=RewardModel(style="rule", ground_truth=problem.answer),
        extra_info=RLExtraInfo(
            id=problem.id,
            split=problem.split,
            answer_type=problem.answer_type,
            choices=problem.choices,
            pass_rate=chains.pass_rate,
            difficulty=chains.planned.assessment.difficulty,
            num_samples=len(chains.generations),
            unit=problem.unit,
            assessment=chains.planned.assessment,
            signals=problem_signals(chains.generations),
        ),
    )


def preference_row(chains: ProblemChains, chosen: Generation, rejected: Generation, reason: str) -> PreferenceRow:
    """A preference pair: the student prompt, the kept chain as chosen, a wrong, overlong or lower-scored chain as rejected."""
    problem = chains.planned.problem
    return PreferenceRow(
        id=problem.id,
        messages=[Message("user", student_prompt(problem))],
        images=problem.images,
        chosen=Message("assistant", assistant_text(chosen)),
        rejected=Message("assistant", assistant_text(rejected)),
        rejected_reason=reason,
        chosen_tokens=chosen.completion_tokens,
        rejected_tokens=rejected.completion_tokens,
        difficulty=chains.planned.assessment.difficulty,
        pass_rate=chains.pass_rate,
        assessment=chains.planned.assessment,
        chosen_score=chosen.chain_score,
        rejected_score=rejected.chain_score,
        scorer=chosen.scorer or rejected.scorer,
        chosen_signals=chosen.signals,
        rejected_signals=rejected.signals,
    )
