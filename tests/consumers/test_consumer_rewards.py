"""mmcot's verl and TRL GRPO rewards decide as the verifier does, read the answer spec from the row, add format credit."""
from __future__ import annotations

import glob
import math

import pyarrow.parquet as pq
import pytest

from tests.support.factories import problem
from transforms.rewards import score as score_module
from transforms.rewards.score import AnswerSpec, RewardSettings
from transforms.rewards.trl_reward import accuracy_reward, make_reward
from transforms.rewards.verl_reward import compute_score
from transforms.teachers.messages import student_prompt


def rows(out, name):
    return [r for f in sorted(glob.glob(str(out / name / "*.parquet"))) for r in pq.read_table(f).to_pylist()]


@pytest.fixture(scope="module")
def scored_chains(consumer_run):
    """(rl row, generation) for every chain of every RL problem."""
    rl = {r["extra_info"]["id"]: r for r in rows(consumer_run, "rl")}
    return [(rl[g["problem_id"]], g) for g in rows(consumer_run, "generations") if g["problem_id"] in rl]


def test_verl_reward_is_the_verifiers_verdict_on_every_chain(scored_chains):
    assert len(scored_chains) == 20 and {g["verdict"]["correct"] for _, g in scored_chains} == {True, False}
    for row, g in scored_chains:
        result = compute_score(row["data_source"], g["content"], row["reward_model"]["ground_truth"], row["extra_info"])
        assert result["acc"] == result["score"] == float(g["verdict"]["correct"]), (g["problem_id"], g["content"])
        assert result["pred"] == (g["verdict"]["extracted_answer"] or "")


def test_format_credit_is_weighted_and_needs_a_think_block_and_an_answer(scored_chains):
    by_kind = {}
    for row, g in scored_chains:
        result = compute_score(row["data_source"], g["content"], row["reward_model"]["ground_truth"], row["extra_info"],
                               format_weight=0.1)
        by_kind[(g["verdict"]["correct"], g["content"].startswith("<think>"))] = result["score"]
    assert by_kind == {(True, True): 1.0, (False, True): pytest.approx(0.1), (True, False): pytest.approx(0.9)}
    spec = AnswerSpec("7")
    assert score_module.reward("<think>\n\n</think> \\boxed{7}", spec, RewardSettings(format_weight=0.5)).format == 0.0
    assert score_module.reward("<think>a</think><think>b</think> \\boxed{7}", spec, RewardSettings(format_weight=0.5)).format == 0.0
    assert score_module.reward("<think>3+4</think> no answer", spec, RewardSettings(format_weight=0.5)).score == 0.0
    strict = compute_score("mmcot/x", "so \\boxed{7}", "7", {}, require_reasoning=True)
    assert strict["acc"] == 0.0 and compute_score("mmcot/x", "so \\boxed{7}", "7", {})["acc"] == 1.0
    with pytest.raises(ValueError, match="format_weight"):
        RewardSettings(format_weight=1.5)


def test_answer_type_and_choices_come_from_the_row_not_guessed():
    completion = "<think>The red one is the square.</think> \\boxed{square}"
    info = {"answer_type": "multiple_choice", "choices": ["circle", "square", "triangle"], "unit": ""}
    assert compute_score("mmcot/x", completion, "B", info)["acc"] == 1.0
    assert compute_score("mmcot/x", completion, "B", None)["acc"] == 0.0  # no choices: "square" is not "B"
    spec = AnswerSpec.from_row("12", {"answer_type": "numeric", "choices": None, "unit": "cm"})
    assert (spec.answer_type, spec.choices, spec.unit) == ("numeric", [], "cm")


def test_the_unit_reaches_the_verifier_once_it_takes_one(monkeypatch):
    seen, real_verify = {}, score_module.verify

    def verify_with_unit(output, gold, answer_type=None, choices=None, *, unit=None, config=None):
        seen.update(unit=unit, answer_type=answer_type, choices=choices)
        return real_verify(output, gold, answer_type, choices, config=config)

    monkeypatch.setattr(score_module, "_VERIFY_TAKES_UNIT", True)
    monkeypatch.setattr(score_module, "verify", verify_with_unit)
    compute_score("mmcot/x", "<think>t</think> \\boxed{12}", "12", {"answer_type": "numeric", "unit": "cm"})
    assert seen == {"unit": "cm", "answer_type": "numeric", "choices": None}


def test_grpo_reward_takes_trls_completion_shapes_and_the_rows_columns(scored_chains):
    prompts = [student_prompt(problem())] * len(scored_chains)
    reward_model = [row["reward_model"] for row, _ in scored_chains]
    extra_info = [row["extra_info"] for row, _ in scored_chains]
    expected = [float(g["verdict"]["correct"]) for _, g in scored_chains]
    conversational = [[{"role": "assistant", "content": g["content"]}] for _, g in scored_chains]
    typed = [[{"role": "assistant", "content": [{"type": "text", "text": g["content"]}]}] for _, g in scored_chains]
    plain = [g["content"] for _, g in scored_chains]
    for completions in (conversational, typed, plain):
        got = accuracy_reward(prompts, completions, reward_model=reward_model, extra_info=extra_info,
                              completion_ids=None, trainer_state=None)
        assert got == expected
    with_format = make_reward(format_weight=0.1)(prompts, plain, reward_model=reward_model, extra_info=extra_info)
    assert all(math.isclose(w, 0.9 * e + 0.1 * f) for w, e, f in zip(
        with_format, expected, [float(c.startswith("<think>")) for c in plain]))
    assert accuracy_reward.__name__ == "mmcot_accuracy"
