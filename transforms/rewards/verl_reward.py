"""verl's reward entry point, backed by mmcot's verifier.

    custom_reward_function.path=$(python -c "import transforms.rewards.verl_reward as m; print(m.__file__)")
    custom_reward_function.name=compute_score
    +custom_reward_function.reward_kwargs.format_weight=0.1        # optional format credit
    +custom_reward_function.reward_kwargs.require_reasoning=true   # optional: no <think> block, no accuracy

Rows whose ``data_source`` is ``mmcot/...`` are scored here; any other row (a mixed dataset) goes to
verl's own ``default_compute_score``.
"""
from __future__ import annotations

from typing import Any

from schemas.outputs import DATA_SOURCE_PREFIX
from transforms.rewards.score import AnswerSpec, RewardSettings, reward


def compute_score(data_source: str, solution_str: str, ground_truth: str, extra_info: dict | None = None,
                  format_weight: float = 0.0, require_reasoning: bool = False, **kwargs: Any) -> dict | float:
    """verl's ``compute_score``: a dict with ``score`` (the reward), ``acc``, ``format`` and the extracted ``pred``."""
    if not str(data_source).startswith(DATA_SOURCE_PREFIX):
        from verl.utils.reward_score import default_compute_score

        return default_compute_score(data_source, solution_str, ground_truth, extra_info, **kwargs)
    result = reward(solution_str, AnswerSpec.from_row(ground_truth, extra_info),
                    RewardSettings(format_weight=format_weight, require_reasoning=require_reasoning))
    return {"score": result.score, "acc": result.accuracy, "format": result.format,
            "pred": result.verdict.extracted_answer or ""}
