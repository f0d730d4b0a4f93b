"""Do the teacher's chain signals predict the verifier's verdict? Each signal's AUROC over a finished run's chains.

For every signal of ``teacher.logprobs`` (``generations/``'s ``signals``) the AUROC is the chance that a correct
chain's figure lies on the expected side of a wrong chain's (lower entropy, lower share of low-confidence tokens,
higher answer log probability), ties counting half: 0.5 is chance, 1 a perfect split. It is computed from ranks
(the Mann-Whitney U, ``scipy.stats.rankdata``), with a 95 % interval by Hanley and McNeil (1982). Two readings:
**pooled** over all chains (this mixes problems: an easy problem's chains are both calmer and more often right),
and **within problems**, over the pairs of a correct and a wrong chain of the same problem (does the signal pick
the right chain among one problem's samples, which is what selection does?). The baseline, measured on the same
chains, is chain length (fewer completion tokens on the correct side). Chains are the teacher's samples with a
decided verdict (unverifiable ones and repairs left out) and known signals.

    PYTHONPATH=. python3 benchmarks/chain_signals.py OUT_DIR
"""
from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from scipy.stats import rankdata

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schemas.signals import SIGNAL_NAMES
from transforms.figures.signals import verdict_class

#: +1: higher is expected on correct chains; -1: lower is.
DIRECTION = {"mean_entropy": -1, "critical_entropy": -1, "answer_logprob": 1, "low_confidence_share": -1,
             "completion_tokens": -1}
BASELINE = "completion_tokens"


@dataclass
class Chain:
    problem_id: str
    correct: bool
    figures: dict[str, float | None]


def rank_auroc(positives: list[float], negatives: list[float]) -> float | None:
    """P(a positive's value > a negative's), ties half, from average ranks; None when either side is empty."""
    if not positives or not negatives:
        return None
    ranks = rankdata(positives + negatives)
    n1, n0 = len(positives), len(negatives)
    return (sum(ranks[:n1]) - n1 * (n1 + 1) / 2) / (n1 * n0)


def hanley_mcneil(auc: float, n1: int, n0: int) -> float:
    """The AUROC's standard error (Hanley and McNeil 1982)."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    return math.sqrt(max(0.0, auc * (1 - auc) + (n1 - 1) * (q1 - auc * auc) + (n0 - 1) * (q2 - auc * auc)) / (n1 * n0))


def pair_auroc(chains: list[Chain], name: str) -> tuple[float | None, int]:
    """The AUROC over (correct, wrong) pairs of the same problem, and the number of pairs."""
    by_problem: dict[str, list[Chain]] = defaultdict(list)
    for c in chains:
        if c.figures[name] is not None:
            by_problem[c.problem_id].append(c)
    wins = pairs = 0.0
    for group in by_problem.values():
        right = [DIRECTION[name] * c.figures[name] for c in group if c.correct]
        wrong = [DIRECTION[name] * c.figures[name] for c in group if not c.correct]
        for r in right:
            for w in wrong:
                wins += 1.0 if r > w else 0.5 if r == w else 0.0
        pairs += len(right) * len(wrong)
    return (wins / pairs if pairs else None), int(pairs)


def read_chains(out_dir: Path) -> tuple[list[Chain], int]:
    """The decided teacher chains with known signals, and how many chains had unknown signals."""
    columns = ["problem_id", "signals", "verdict", "provenance", "completion_tokens"]
    table = pq.read_table(out_dir / "generations", columns=columns)
    chains, unknown = [], 0
    for row in table.to_pylist():
        kind, signals = verdict_class(row["verdict"], row["provenance"]), row["signals"]
        if kind is None or signals is None:
            continue
        if signals["unknown"]:
            unknown += 1
            continue
        figures = {name: signals[name] for name in SIGNAL_NAMES} | {BASELINE: row["completion_tokens"]}
        chains.append(Chain(row["problem_id"], kind == "correct", figures))
    return chains, unknown


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, help="a finished run's output directory (run with teacher.logprobs)")
    args = parser.parse_args()
    chains, unknown = read_chains(args.out_dir)
    if not chains:
        sys.exit(f"{args.out_dir}: no decided chain with signals (was the run made with teacher.logprobs?)")
    correct = sum(c.correct for c in chains)
    problems = len({c.problem_id for c in chains})
    mixed = len({c.problem_id for c in chains if c.correct} & {c.problem_id for c in chains if not c.correct})
    print(f"{len(chains)} chains of {problems} problems ({correct} correct, {len(chains) - correct} wrong; "
          f"{mixed} problems with both); {unknown} chains with unknown signals left out\n")
    print("| signal | expected on correct chains | chains (correct / wrong) | AUROC pooled [95 % CI] | "
          "pairs within problems | AUROC within problems |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name in (*SIGNAL_NAMES, BASELINE):
        right = [DIRECTION[name] * c.figures[name] for c in chains if c.correct and c.figures[name] is not None]
        wrong = [DIRECTION[name] * c.figures[name] for c in chains if not c.correct and c.figures[name] is not None]
        auc = rank_auroc(right, wrong)
        interval = "" if auc is None else (lambda se: f" [{max(0, auc - 1.96 * se):.2f}, {min(1, auc + 1.96 * se):.2f}]")(
            hanley_mcneil(auc, len(right), len(wrong)))
        within, pairs = pair_auroc(chains, name)
        label = f"{name} (baseline)" if name == BASELINE else name
        print(f"| {label} | {'higher' if DIRECTION[name] > 0 else 'lower'} | {len(right)} / {len(wrong)} | "
              f"{_fmt(auc)}{interval} | {pairs} | {_fmt(within)} |")


if __name__ == "__main__":
    main()
