"""TRL GRPO reward functions backed by mmcot's verifier, for the ``rl_trl`` set (or any set with its columns).

    from transforms.rewards.trl_reward import accuracy_reward, make_reward
    GRPOTrainer(..., reward_funcs=[accuracy_reward])                   # 1 if the verifier says correct
    GRPOTrainer(..., reward_funcs=[make_reward(format_weight=0.1)])    # R1V-style format credit

TRL passes every dataset column except ``prompt`` as a keyword list: the answer spec is read from
``reward_model`` and ``extra_info``, row by row.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from transforms.rewards.score import AnswerSpec, RewardSettings, reward

RewardFn = Callable[..., list[float]]


def completion_text(completion: Any) -> str:
    """A TRL completion as text: a string, or the last message's content (a string or typed text parts)."""
    if isinstance(completion, str):
        return completion
    content = completion[-1]["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text") or "" for part in content if part.get("type") == "text")


def make_reward(format_weight: float = 0.0, require_reasoning: bool = False) -> RewardFn:
    """A GRPO reward function ``(prompts, completions, reward_model, extra_info, **kwargs) -> list[float]``."""
    settings = RewardSettings(format_weight=format_weight, require_reasoning=require_reasoning)

    def mmcot_reward(prompts: list, completions: list, reward_model: list[dict], extra_info: list[dict],
                     **kwargs: Any) -> list[float]:
        return [reward(completion_text(c), AnswerSpec.from_row(rm["ground_truth"], info), settings).score
                for c, rm, info in zip(completions, reward_model, extra_info, strict=True)]

    mmcot_reward.__name__ = "mmcot_accuracy" if not format_weight else f"mmcot_accuracy_format{format_weight:g}"
    return mmcot_reward


accuracy_reward = make_reward()
