"""Record builders for stage tests."""
from __future__ import annotations

from schemas.generation import Generation, ProblemChains, Verdict
from schemas.plan import Assessment, PlannedProblem, SamplingPlan
from schemas.problem import ImageMeta, ImageRef, Problem
from tests.support.helpers import png_bytes


def problem(pid: str = "s/1", question: str = "How many dots?", answer: str = "3", choices: list[str] | None = None,
            image_hash: str = "ab" * 32, caption: str = "three red dots", metadata: str = "{}",
            phash: str = "0" * 16, source: str = "s") -> Problem:
    return Problem(
        id=pid, source=source, split="train", question=question, answer=answer,
        answer_type="multiple_choice" if choices else "numeric",
        images=[ImageRef(bytes=png_bytes(), path="a.png")],
        image_meta=[ImageMeta(64, 48, "PNG", image_hash, phash)],
        choices=choices or [], subject="counting", caption=caption, metadata=metadata,
    )


PLAN = SamplingPlan(n=3, max_tokens=64, temperature=0.8, top_p=0.95, repetition_penalty=1.0,
                    prompt_style="concise", length_budget=64, policy="token_budget", band="easy")


def planned(p: Problem | None = None, difficulty: float = 0.3) -> PlannedProblem:
    p = p or problem()
    return PlannedProblem(problem=p, assessment=Assessment(p.id, difficulty, "metadata"), plan=PLAN)


def generation(index: int, correct: bool, tokens: int, content: str = "", reasoning: str = "",
               reasons: list[str] | None = None, pid: str = "s/1") -> Generation:
    reasons = [] if correct else (reasons or ["wrong_answer"])
    verdict = Verdict(correct=correct, extracted_answer="3" if correct else "4",
                      checks={"answer_match": correct}, reasons=reasons, unverifiable=reasons == ["unverifiable"])
    return Generation(problem_id=pid, teacher="t", sample_index=index, content=content or f"chain {index} \\boxed{{3}}",
                      reasoning=reasoning, answer_text=content or f"chain {index} \\boxed{{3}}", finish_reason="stop",
                      prompt_tokens=20, completion_tokens=tokens, latency_s=0.1, sampling=PLAN, difficulty=0.3, cache_key=f"k{index}",
                      verdict=verdict)


def chains(gens: list[Generation], p: Problem | None = None) -> ProblemChains:
    return ProblemChains(planned=planned(p), generations=gens)
