"""The closed loop: does a run's output make a student better? Train on it, measure on held-out problems.

Run from the repository root (``make loop``; needs the embedded teacher, ``mmcot teacher prepare``)::

    PYTHONPATH=. python3 benchmarks/closed_loop.py [--work out/loop] [--train 120] [--heldout 160] [--steps 12] ...

1. ``mmcot synth`` makes a train set and a held-out set with disjoint seeds.
2. The held-out set is checked against the train set with mmcot's own dedup (``mmcot dedup`` over both,
   the held-out set preferred: a train problem that is an exact or near duplicate of a held-out problem
   is dropped with the held-out problem as its survivor); the train problems left are the run's input.
3. One pipeline run with the embedded teacher (``configs/loop.yaml``: the sample run's settings), and
   its ablations on the same teacher server: ``select.strategy: shortest_correct`` (every chain from the
   response cache) and ``length.policy: pass_rate``.
4. Each arm's rows are turned into the text student's rows: the SFT row's user turn with the caption in
   the images' place (:func:`transforms.student.student_text`, the prompt ``mmcot evaluate`` asks with)
   and the arm's chain; the base model (the embedded teacher's SmolLM2-135M-Instruct) is fine-tuned on
   them with TRL on the CPU (``benchmarks/loop_train.py``; every arm the same steps, batch, learning
   rate and seed).
5. ``mmcot evaluate`` of the base model and of every student on the held-out set, greedy, the same
   token budget; accuracy with its Wilson interval, and each student against the base and against the
   main arm with a paired bootstrap interval over the held-out problems.

Arms: ``mmcot`` (sft: verified chains, length-fit, token_budget), ``every chain`` (the run's
``generations``: no verifier filter), ``shortest`` (sft with shortest_correct), ``pass_rate`` (sft of
the pass_rate run). Writes ``<work>/loop.json`` and prints the table. A rerun in the same work
directory takes the teacher's chains and the evaluations' answers from ``<work>/cache`` and reuses
a student trained on the same rows with the same settings (a student's served name carries a hash
of its weights, so an answer is never taken from another model's cache).
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.cli import main as mmcot
from pipelines.config import PipelineConfig, load_config
from pipelines.dedup_run import run_dedup
from pipelines.embedded_teacher import EMBEDDED_MODEL_NAME, prepare_embedded_teacher
from pipelines.eval_stats import paired_difference
from pipelines.evaluate import EvalSetup, model_endpoint, run_evaluation
from pipelines.run import run_pipeline
from pipelines.vllm_server import VllmServer
from schemas.convert import from_table
from schemas.evaluation import EvalReport, PairedDifference
from schemas.generation import Generation
from schemas.outputs import RejectRow
from schemas.problem import Problem
from transforms.evaluate import EvaluateSettings
from transforms.rows import assistant_text
from transforms.sources import SourceSettings
from transforms.student import student_text
from transforms.teachers.messages import student_prompt

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "loop.yaml"
TRAINER = Path(__file__).with_name("loop_train.py")
log = logging.getLogger("closed_loop")

#: arm → (the run it reads, the set it trains on, what it shows)
ARMS = {
    "mmcot": ("main", "sft", "verified chains, length-fit, token_budget (the sample run's settings)"),
    "every_chain": ("main", "generations", "every chain of the same run, wrong and truncated ones too (no verifier)"),
    "shortest": ("shortest", "sft", "verified chains, shortest correct instead of length-fit"),
    "pass_rate": ("pass_rate", "sft", "verified chains, length-fit, pass_rate policy instead of token_budget"),
}
#: run → the overrides of configs/loop.yaml it runs with
RUNS = {"main": {}, "shortest": {"select.strategy": "shortest_correct"}, "pass_rate": {"length.policy": "pass_rate"}}


@dataclass
class ArmResult:
    """One arm: its training rows, what training did, its evaluation, and its paired differences."""

    name: str
    description: str
    rows: int = 0
    chain_tokens: float | None = None
    training: dict = field(default_factory=dict)
    evaluation: EvalReport | None = None
    vs_base: PairedDifference | None = None
    vs_mmcot: PairedDifference | None = None


class Phases:
    """Wall-clock seconds per phase of the loop."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        log.info("loop: %s", name)
        try:
            yield
        finally:
            self.seconds[name] = round(time.monotonic() - started, 1)
            log.info("loop: %s done in %.0f s", name, self.seconds[name])


def read_set(run_dir: Path, name: str) -> list[dict]:
    """The rows of one output set of a finished run."""
    return pq.read_table(run_dir / name).to_pylist() if (run_dir / name).exists() else []


def decontaminate(train: Path, heldout: Path, config: PipelineConfig, work: Path) -> dict:
    """``mmcot dedup`` over the held-out and the train set, the held-out set preferred; writes ``train/clean.jsonl`` (the
    train problems no held-out problem duplicates) and returns what the check found."""
    dedup = config.dedup.model_copy(update={"preferred_sources": ["heldout"]})
    sources = [SourceSettings(kind="jsonl", path=str(heldout / "problems.jsonl"), name="heldout"),
               SourceSettings(kind="jsonl", path=str(train / "problems.jsonl"), name="train")]
    counts = run_dedup(sources, config.normalize, dedup, str(work / "decontam"), [])
    dropped = [RejectRow(**row) for row in read_set(work / "decontam", "dropped")]
    leaked = {r.row_id.split("/", 1)[1]: r.survivor_id for r in dropped
              if r.source == "train" and (r.survivor_id or "").startswith("heldout/")}
    kept = 0
    with open(train / "problems.jsonl") as src, open(train / "clean.jsonl", "w") as dst:
        for line in src:
            if json.loads(line)["id"] not in leaked:
                dst.write(line)
                kept += 1
    return {"read": counts.read, "train_duplicating_heldout": len(leaked), "examples": dict(list(leaked.items())[:5]),
            "train_kept": kept, "dropped": counts.dropped, "dead_lettered": counts.dead_lettered}


def problems_of(run_dir: Path) -> dict[str, Problem]:
    """The run's problems (``problems/``), by id."""
    return {p.id: p for p in from_table(Problem, pq.read_table(run_dir / "problems"))}


def text_row(problem: Problem, chain: str) -> dict:
    """A text student's prompt-completion row: the SFT user turn with the caption, then the chain."""
    return {"prompt": [{"role": "user", "content": student_text(problem)}],
            "completion": [{"role": "assistant", "content": chain}]}


def sft_rows(run_dir: Path) -> tuple[list[dict], list[int]]:
    """The run's SFT rows as text rows (their prompt checked to be the SFT row's own), and their chains' token counts."""
    problems = problems_of(run_dir)
    rows, tokens = [], []
    for row in read_set(run_dir, "sft"):
        problem = problems[row["id"]]
        user, assistant = row["messages"]
        if user["content"] != student_prompt(problem):
            raise ValueError(f"{row['id']}: the SFT row's prompt is not the student prompt of its problem")
        rows.append(text_row(problem, assistant["content"]))
        tokens.append(row["completion_tokens"])
    return rows, tokens


def generation_rows(run_dir: Path) -> tuple[list[dict], list[int]]:
    """Every chain of the run (``generations/``), as the SFT rows would write it, as text rows."""
    problems = problems_of(run_dir)
    generations = from_table(Generation, pq.read_table(run_dir / "generations"))
    return ([text_row(problems[g.problem_id], assistant_text(g)) for g in generations],
            [g.completion_tokens for g in generations])


def train_student(rows: list[dict], base: Path, out: Path, args: argparse.Namespace) -> dict:
    """Fine-tune ``base`` on ``rows`` in a child process (``benchmarks/loop_train.py``); its report.

    A student this work directory already holds, trained on the same rows with the same settings
    (``training.json`` beside it), is reused: a rerun after a failure later in the loop does not train again.
    """
    out.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
    recipe = {"rows_sha256": hashlib.sha256(text.encode()).hexdigest(), "base": str(base), "steps": args.steps,
              "batch": args.batch, "learning_rate": args.learning_rate, "seed": args.seed}
    record = out.parent / f"{out.name}.training.json"
    if record.exists() and json.loads(record.read_text()).get("recipe") == recipe:
        log.info("loop: reusing the student in %s (same rows and settings)", out)
        return json.loads(record.read_text())["report"]
    rows_path = out.parent / f"{out.name}.rows.jsonl"
    rows_path.write_text(text)
    command = [sys.executable, str(TRAINER), "--rows", str(rows_path), "--base", str(base), "--out", str(out),
               "--steps", str(args.steps), "--batch", str(args.batch), "--learning-rate", str(args.learning_rate),
               "--seed", str(args.seed)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"training failed ({done.returncode}):\n{done.stderr[-4000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    record.write_text(json.dumps({"recipe": recipe, "report": report}, indent=2) + "\n")
    return report


def correct_by_problem(report_dir: Path) -> dict[str, bool]:
    """Problem id → correct, from an evaluation's ``items/``."""
    return {row["problem_id"]: row["correct"] for row in read_set(report_dir, "items")}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _delta(d: PairedDifference | None) -> str:
    if d is None:
        return "-"
    verdict = "" if d.excludes_zero() else " (noise)"
    return f"{100 * d.difference:+.1f} [{100 * d.low:+.1f}, {100 * d.high:+.1f}]{verdict}"


def loop_table(base: EvalReport, arms: list[ArmResult], args: argparse.Namespace) -> str:
    """The loop's figures for a person: accuracy with intervals, differences with paired intervals, lengths."""
    header = (f"{'arm':<12} {'rows':>5} {'chain':>6} {'accuracy %':>10} {'95 % Wilson':>14} "
              f"{'vs base, points [95 % paired]':>34} {'vs mmcot, points [95 % paired]':>34} {'answer':>7} {'correct':>8} "
              f"{'no answer':>9}")
    lines = [f"closed loop: {base.evaluated} held-out problems, greedy, at most {args.max_tokens} answer tokens; "
             f"each student {args.steps} steps x {args.batch} rows, lr {args.learning_rate:g}, seed {args.seed}", header]

    def line(name: str, rows: str, chain: str, report: EvalReport, vs_base: str, vs_mmcot: str) -> str:
        o = report.overall
        no_answer = report.reasons.get("no_answer", 0) / max(report.evaluated, 1)
        return (f"{name:<12} {rows:>5} {chain:>6} {_pct(o.accuracy):>10} {f'[{_pct(o.low)}, {_pct(o.high)}]':>14} "
                f"{vs_base:>34} {vs_mmcot:>34} {o.mean_tokens or 0:>7.0f} {o.mean_tokens_correct or 0:>8.0f} "
                f"{_pct(no_answer):>9}")

    lines.append(line("base", "-", "-", base, "-", "-"))
    for arm in arms:
        chain = "-" if arm.chain_tokens is None else f"{arm.chain_tokens:.0f}"
        lines.append(line(arm.name, str(arm.rows), chain, arm.evaluation, _delta(arm.vs_base),
                          "-" if arm.name == "mmcot" else _delta(arm.vs_mmcot)))
    lines.append("rows: training rows of the arm; chain: their mean chain tokens (the teacher's count); answer / correct: "
                 "mean tokens of the student's answers / of its correct ones; no answer: % of answers the verifier found "
                 "no answer in; (noise): the paired interval holds 0")
    return "\n".join(lines)


def run_loop(args: argparse.Namespace) -> dict:
    """The whole loop; returns what ``loop.json`` holds."""
    work, phases = args.work.resolve(), Phases()
    cache = str(work / "cache")
    base_model = prepare_embedded_teacher()
    with phases.timed("synth"):
        mmcot(["synth", "--out", str(work / "train"), "--n", str(args.train), "--seed", str(args.train_seed)])
        mmcot(["synth", "--out", str(work / "heldout"), "--n", str(args.heldout), "--seed", str(args.heldout_seed)])
    base_config = load_config(CONFIG)
    with phases.timed("decontamination check"):
        check = decontaminate(work / "train", work / "heldout", base_config, work)
    setup = EvalSetup(source=SourceSettings(kind="jsonl", path=str(work / "heldout" / "problems.jsonl"), name="heldout"),
                      normalize=base_config.normalize, assess=base_config.assess, bands=base_config.length.bands,
                      verify=base_config.verify, ask=EvaluateSettings(max_tokens=args.max_tokens))
    manifests = {}
    teacher = VllmServer(base_model, EMBEDDED_MODEL_NAME, seed=args.seed, die_with_parent=True,
                         log_path=work / "teacher.log")
    with phases.timed("teacher start"):
        teacher.start()
    try:
        for name, overrides in RUNS.items():
            with phases.timed(f"run {name}"):
                config = load_config(CONFIG, {"source.path": str(work / "train" / "clean.jsonl"),
                                              "run.output_dir": str(work / "runs" / name),
                                              "teacher.base_url": teacher.base_url, "teacher.cache_url": cache,
                                              **overrides})
                manifest = run_pipeline(config, [], command=f"closed_loop run {name}")
                manifests[name] = {"read": manifest.counts.read, "kept": manifest.counts.kept,
                                   "dropped": manifest.counts.dropped, "balanced": manifest.counts.balanced()}
        with phases.timed("evaluate base"), \
                model_endpoint(cache, base_url=teacher.base_url, model=EMBEDDED_MODEL_NAME) as endpoint:
            base = run_evaluation(setup, endpoint, str(work / "eval" / "base"))
    finally:
        teacher.stop()
    base_correct = correct_by_problem(work / "eval" / "base")
    arms: list[ArmResult] = []
    for name, (run, output_set, description) in ARMS.items():
        arm = ArmResult(name, description)
        rows, tokens = (sft_rows if output_set == "sft" else generation_rows)(work / "runs" / run)
        arm.rows, arm.chain_tokens = len(rows), (statistics.fmean(tokens) if tokens else None)
        if not rows:
            log.warning("loop: arm %s has no rows to train on; skipped", name)
            continue
        student = work / "students" / name
        with phases.timed(f"train {name}"):
            arm.training = train_student(rows, base_model, student, args)
        with phases.timed(f"evaluate {name}"), model_endpoint(cache, model_dir=student, seed=args.seed) as endpoint:
            arm.evaluation = run_evaluation(setup, endpoint, str(work / "eval" / name))
        correct = correct_by_problem(work / "eval" / name)
        arm.vs_base = paired_difference(base_correct, correct, seed=args.seed)
        if arms and arms[0].name == "mmcot":
            arm.vs_mmcot = paired_difference(correct_by_problem(work / "eval" / "mmcot"), correct, seed=args.seed)
        arms.append(arm)
    table = loop_table(base, arms, args)
    result = {"arguments": {k: str(v) for k, v in vars(args).items()}, "decontamination": check, "runs": manifests,
              "base": asdict(base), "arms": [asdict(a) for a in arms], "seconds": phases.seconds,
              "total_seconds": round(sum(phases.seconds.values()), 1), "table": table}
    (work / "loop.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("out/loop"), help="where everything goes")
    parser.add_argument("--train", type=int, default=120, help="train problems made (before the check)")
    parser.add_argument("--heldout", type=int, default=160, help="held-out problems")
    parser.add_argument("--train-seed", type=int, default=1)
    parser.add_argument("--heldout-seed", type=int, default=2)
    parser.add_argument("--steps", type=int, default=12, help="training steps of every student")
    parser.add_argument("--batch", type=int, default=8, help="rows per step")
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--max-tokens", type=int, default=256, help="the evaluated answers' budget")
    parser.add_argument("--seed", type=int, default=0, help="training, servers and bootstrap seed")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S",
                        force=True)  # Beam logs a warning on import, which configures the root logger first
    for name in ("apache_beam", "httpx", "httpcore", "urllib3", "filelock", "fsspec"):
        logging.getLogger(name).setLevel(logging.WARNING)
    result = run_loop(args)
    print(result["table"])
    print("decontamination: " + json.dumps({k: result["decontamination"][k] for k in ("train_duplicating_heldout", "train_kept")}))
    print("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in result["seconds"].items()) + f"; total {result['total_seconds']:.0f}")
    print(f"output: {args.work}/loop.json")


if __name__ == "__main__":
    main()
