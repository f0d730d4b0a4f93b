"""A small finished run for the consumer tests, written through mmcot's own stages and writer.

Problems a scripted teacher answered (named as such: fixed chains, no engine) go through the real
``VerifyChains`` and ``SelectChains`` stages, then the pipeline's own ``write_outputs`` and
``write_run_report`` (manifest, card, ``dataset_info.json``) on DirectRunner. The problems are harder
than the sample's: image markers in place inside the question, two-image problems, a question with no
marker, multiple choice, a unit, an expression answer, pass rates from 0 to 1 so RL, preference and
dropped rows all occur, and two RL shards so the curriculum spans shards.

    python tests/consumers/fixture_run.py OUT_DIR   # prints the output directory
"""
from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass

import apache_beam as beam

from pipelines.build import write_outputs
from pipelines.config import PipelineConfig, parse_config
from pipelines.run import write_run_report
from schemas.generation import Generation, ProblemChains
from schemas.output_sets import READ_COUNTS_SET
from schemas.plan import Assessment, PlannedProblem, SamplingPlan
from schemas.problem import ImageMeta, ImageRef, Problem
from schemas.signals import ChainSignals, TokenLogprobs
from tests.support.helpers import png_bytes
from transforms import failures
from transforms.chain_signals import chain_signals
from transforms.select import SelectChains, row_sets
from transforms.tags import DEAD_LETTER, DROPPED
from transforms.teachers.parse import split_reasoning
from transforms.teachers.settings import LogprobSettings
from transforms.verify import VerifyChains

PLAN = SamplingPlan(n=4, max_tokens=256, temperature=0.8, top_p=0.95, repetition_penalty=1.0,
                    prompt_style="standard", length_budget=40, policy="token_budget", band="medium")
COLORS = [(200, 30, 30), (30, 160, 40), (40, 60, 200), (220, 180, 20), (120, 40, 160), (20, 150, 150), (90, 90, 90)]


@dataclass
class Case:
    """A problem and the scripted teacher's chains for it (content strings)."""

    pid: str
    question: str
    answer: str
    n_images: int
    chains: list[str]
    difficulty: float
    choices: tuple[str, ...] = ()
    answer_type: str = "numeric"
    unit: str = ""


def think(reasoning: str, answer: str) -> str:
    return f"<think>\n{reasoning}\n</think>\n\nThe answer is \\boxed{{{answer}}}."


CASES = [
    Case("fx/mc-one", "<image>\nWhich shape in the picture is red?", "B", 1,
         [think("The square on the left is red.", "B"), think("I think it is the circle.", "A"),
          think("Red fills the square.", "B"), think("Looking again, the square is red.", "B")],
         0.2, choices=("circle", "square", "triangle"), answer_type="multiple_choice"),
    Case("fx/two-images", "Count the dots in <image> and in <image>. How many dots are there in total?", "7", 2,
         [think("The first has 3 dots and the second 4, so 3 + 4 = 7.", "7"), think("3 and 3 make 6.", "6"),
          think("2 and 4 make 6.", "6"), think("I count 4 and 4.", "8")], 0.7),
    Case("fx/unit", "The bar chart <image> shows heights. How tall is the tallest bar?", "12", 1,
         [think("The tallest bar reaches the 12 cm line.", "12\\text{ cm}"), think("It reaches 10.", "10"),
          think("Reading the axis the top is at 12.", "12"), think("About 11 cm.", "11")], 0.5, unit="cm"),
    Case("fx/expr-between", "Here is the figure: <image> The shaded part is what fraction of the whole? "
         "Compare with <image> before answering.", "\\frac{1}{2}", 2,
         [think("Half the area is shaded.", "\\frac{1}{2}"), think("Two of four parts, 2/4 = 1/2.", "2/4"),
          think("One third is shaded.", "\\frac{1}{3}"), "The shaded part is \\boxed{\\frac{1}{2}}."],
         0.4, answer_type="expression"),
    Case("fx/no-marker", "How many sides does the polygon have?", "5", 1,
         [think("It has 5 sides.", "5"), think("Counting corners: 6.", "6"), think("6 sides.", "6"),
          think("It is a hexagon.", "6")], 0.9),
    Case("fx/all-wrong", "<image> How many red squares are in the grid?", "9", 1,
         [think("I see 8.", "8"), think("There are 10.", "10"), think("7.", "7"), think("Maybe 6.", "6")], 0.8),
]


def _problem(case: Case, offset: int) -> Problem:
    blobs = [png_bytes(size=(56 + 8 * i, 48), color=COLORS[(offset + i) % len(COLORS)]) for i in range(case.n_images)]
    meta = [ImageMeta(56 + 8 * i, 48, "PNG", hashlib.sha256(b).hexdigest(), f"{offset * 4 + i:016x}")
            for i, b in enumerate(blobs)]
    return Problem(id=case.pid, source="fx", split="train", question=case.question, answer=case.answer,
                   answer_type=case.answer_type, images=[ImageRef(bytes=b, path=None) for b in blobs],
                   image_meta=meta, choices=list(case.choices), subject="math", caption="", unit=case.unit)


SCORER = "scripted-scorer"


def _assessment(case: Case, offset: int) -> Assessment:
    """A judged assessment (normalized scores, rationale, clarity) for most cases; a failed judgement for one."""
    if offset == 2:
        return Assessment(case.pid, case.difficulty, "metadata", clarity=0.31, judge_model="scripted-judge",
                          judge_error="malformed_judgement: JSON cut off")
    scores = [round((offset + k) % 5 / 4, 2) for k in range(3)]
    return Assessment(case.pid, case.difficulty, "judge", clarity=0.5 + offset / 20, vision_score=scores[0],
                      text_score=scores[1], integration_score=scores[2], judge_model="scripted-judge",
                      rationale=f"case {offset}: the image is needed", quality=1 + 4 * sum(scores) / 3)


LOGPROBS = LogprobSettings(top=3, keep=True)


def _token_logprobs(content: str, index: int) -> TokenLogprobs:
    """Scripted per-token data (no model): the content cut at spaces, each piece likelier the later the sample."""
    pieces = [p for p in re.split("(?= )", content) if p]
    sampled = [round(-0.05 - 0.4 * (3 - index) * (i % 3) / 3, 4) for i in range(len(pieces))]
    return TokenLogprobs(pieces, sampled, [[lp, -4.0, -5.0] for lp in sampled])


def _signals(case: Case, index: int, content: str) -> tuple[ChainSignals, TokenLogprobs | None]:
    """The chain's signals as the generate stage computes them from scripted per-token data; one chain's payload was
    refused (its signals unknown)."""
    if (case.pid, index) == ("fx/unit", 3):
        return ChainSignals(unknown="logprobs_bad_mass"), None
    data = _token_logprobs(content, index)
    return chain_signals(data, LOGPROBS), data


def _generation(case: Case, index: int, content: str, assessment: Assessment) -> Generation:
    reasoning, answer_text = split_reasoning(content, None)  # as the generate stage parses a response
    scored = assessment.judge_error is None  # the chain scorer answered for every chain but those of one problem
    signals, token_logprobs = _signals(case, index, content)
    return Generation(problem_id=case.pid, teacher="scripted-teacher", sample_index=index, content=content,
                      reasoning=reasoning, answer_text=answer_text, finish_reason="stop", prompt_tokens=40,
                      completion_tokens=12 + 6 * index + len(content) // 8, latency_s=0.0, sampling=PLAN,
                      difficulty=case.difficulty, cache_key=f"{case.pid}/{index}", assessment=assessment,
                      chain_score=float((index * 3 + len(case.pid)) % 6) if scored else None,
                      scorer=SCORER if scored else None, score_rationale="scripted" if scored else None,
                      signals=signals, token_logprobs=token_logprobs)


def problem_chains() -> list[ProblemChains]:
    """Every case as ProblemChains with unverified chains."""
    out = []
    for offset, case in enumerate(CASES):
        problem = _problem(case, offset)
        assessment = _assessment(case, offset)
        planned = PlannedProblem(problem=problem, assessment=assessment, plan=PLAN)
        out.append(ProblemChains(planned=planned,
                                 generations=[_generation(case, i, c, assessment) for i, c in enumerate(case.chains)]))
    return out


def fixture_config(out_dir: str, trainers: tuple[str, ...] = ("verl", "trl", "llamafactory")) -> PipelineConfig:
    return parse_config({
        "run": {"name": "mmcot-consumers-fixture", "output_dir": out_dir},
        "source": {"kind": "jsonl", "path": "scripted-teacher-fixture.jsonl", "name": "fx"},
        "verify": {"require_reasoning": False},
        "teacher": {"logprobs": LOGPROBS.model_dump()},
        "select": {"rl_order": "pass_rate"},
        "output": {"shards": {"rl": 2}, "license": "apache-2.0", "trainers": list(trainers)},
    })


def write_fixture(out_dir: str, trainers: tuple[str, ...] = ("verl", "trl", "llamafactory")) -> PipelineConfig:
    """Run verify → select → write on DirectRunner into ``out_dir`` and write its manifest and card."""
    config = fixture_config(out_dir, trainers)
    with beam.Pipeline() as p:
        failures.collect(p)
        verified = p | beam.Create(problem_chains()) | "Verify" >> VerifyChains(config.verify)
        selected = verified | "Select" >> SelectChains(config.select, config.verify.hygiene, config.output.trl_twins)
        write_outputs(p, {**{name: selected[name] for name in row_sets(config.output.trl_twins)},
                          DROPPED: selected[DROPPED], "generations": verified | beam.FlatMap(lambda c: c.generations),
                          READ_COUNTS_SET.name: p | "NoReads" >> beam.Create([])}, [selected[DEAD_LETTER]], config)
    write_run_report(config, "python tests/consumers/fixture_run.py", 0.0, "fixture")
    return config


if __name__ == "__main__":
    print(write_fixture(sys.argv[1]).run.output_dir)
