"""Verdicts per second of ``transforms.verifiers.verify`` on one core, per answer type.

Generates a mixed, seeded set of outputs (multiple choice, numeric, expression), each with a
reasoning block of about ``--reasoning-chars`` characters and a final answer in one of the usual
forms (boxed, ``Answer:`` line, bold letter, option text, units, percent, thousands separators,
fractions vs decimals, equivalent algebraic forms; R1V's ``<answer>`` blocks, AMC-style boxed
letters, quantities whose units pint converts, angles in degrees against radians), about 30 % of
them wrong, and times
``verify`` on each, after a warm-up that is not timed.

Run from the repository root::

    PYTHONPATH=. python3 benchmarks/verify_throughput.py [--n 3000] [--reasoning-chars 2000] \
        [--against CHECKOUT] [--fast-path-off]

``--against`` measures another checkout's verifier (the baseline) on the same outputs in a
subprocess and prints this tree's speed ratio and how many verdicts (correct, extracted answer,
reasons) agree; ``--fast-path-off`` adds this tree with its exact fast path off.

Everything runs in one thread (one core); ``--pin`` also pins the process to one CPU. Reports,
per type: verdicts/s by CPU time of the process (the figure to compare with targets; it
does not move with other load on the machine) and by wall time, mean and p99 latency, the share
judged correct, and how many comparisons needed math-verify (the rest were decided by the plain
letter / number / string rules).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

#: ``--against`` runs this script again with another checkout's verifier first on the path.
ROOT = os.environ.get("MMCOT_VERIFY_BENCH_ROOT") or str(Path(__file__).resolve().parents[1])
sys.path.insert(0, ROOT)

from transforms.verifiers import equivalence, verify, warm_up  # noqa: E402

WORDS = ("triangle", "area", "angle", "side", "sum", "product", "ratio", "circle", "radius", "height",
         "value", "term", "sequence", "equation", "root", "factor", "length", "slope", "point", "line")
TEMPLATES = (
    "First, the {w1} is {a} and the {w2} is {b}, so their sum is {s}.",
    "Multiplying {a} by {b} gives {p}, which we compare with the {w1}.",
    "Let me double-check the {w2}: {a} + {b} = {s}, consistent with before.",
    "The {w1} of the figure depends on the {w2}, which we found to be {b}.",
    "Now subtract: {p} - {a} = {d}, so the remaining {w1} is {d}.",
    "Since the {w2} is {b}, the ratio {a}/{b} simplifies accordingly.",
    "Looking at the image, there are {a} marked points along the {w1}.",
    "We set up the equation {a}x + {b} = {s} and solve for x.",
)


def reasoning_text(rng: random.Random, chars: int) -> str:
    parts, size = [], 0
    while size < chars:
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        sentence = rng.choice(TEMPLATES).format(w1=rng.choice(WORDS), w2=rng.choice(WORDS), a=a, b=b,
                                                s=a + b, p=a * b, d=a * b - a)
        parts.append(sentence)
        size += len(sentence) + 1
        if rng.random() < 0.2:
            parts.append("\n")
    return " ".join(parts)


def wrap(rng: random.Random, final: str, chars: int) -> str:
    return f"<think>\n{reasoning_text(rng, chars)}\n</think>\n\n{final}"


def multiple_choice(rng: random.Random, chars: int) -> tuple:
    k = rng.choice((4, 5))
    values = rng.sample(range(1, 500), k)
    choices = [str(v) for v in values]
    gold_idx = rng.randrange(k)
    letter = "ABCDE"[gold_idx]
    gold = letter if rng.random() < 0.8 else choices[gold_idx]  # sometimes the gold is option text
    idx = gold_idx if rng.random() < 0.7 else (gold_idx + 1) % k
    said = "ABCDE"[idx]
    final = rng.choice((
        f"The answer is \\boxed{{{said}}}.",
        f"Therefore the answer is ({said}).",
        f"**{said}**",
        f"Answer: {said}",
        f"So the correct option is {said}.",
        f"\\boxed{{\\text{{({said})}}}}",
        f"The answer is \\boxed{{{choices[idx]}}}.",
        f"<answer>\\boxed{{{said}}}</answer>",
        f"\\boxed{{\\textbf{{({said})}}\\ {choices[idx]}}}",
    ))
    return wrap(rng, final, chars), gold, "multiple_choice", choices, ""


def numeric(rng: random.Random, chars: int) -> tuple:
    kind = rng.randrange(8)
    wrong = rng.random() < 0.3
    n = rng.randint(2, 999)
    unit = ""
    if kind == 0:
        gold, said = str(n), str(n + (1 if wrong else 0))
    elif kind == 1:  # fraction vs decimal
        gold, said = f"{n / 4:g}", f"\\frac{{{n + (1 if wrong else 0)}}}{{4}}"
    elif kind == 2:  # units
        gold, said = str(n), f"{n + (2 if wrong else 0)} \\text{{ cm}}^2"
    elif kind == 3:  # percent
        gold, said = f"{n}\\%", f"{(n + (5 if wrong else 0)) / 100:g}"
    elif kind == 4:  # thousands separators and currency
        m = n * 1000 + rng.randint(0, 999)
        gold, said = str(m), f"\\${m + (10 if wrong else 0):,}"
    elif kind == 5:  # decimals to the gold's precision
        x = rng.uniform(1, 100)
        gold, said = f"{x:.2f}", f"{x + (0.3 if wrong else 0):.5f}"
    elif kind == 6:  # a quantity in another unit (pint converts), sometimes in the problem's unit field
        if rng.random() < 0.5:
            gold, said = f"{n} m", f"{n * 100 + (7 if wrong else 0)} cm"
        else:
            gold, said = str(n), f"{n}{'' if wrong else '0'}00 \\text{{ mm}}"
        unit = "" if gold.endswith("m") else "m"
    else:  # an angle in degrees against radians
        k = rng.choice((2, 3, 4, 6))
        gold, said = f"{180 // k}^\\circ", f"\\frac{{\\pi}}{{{k + (1 if wrong else 0)}}}"
    final = rng.choice((f"The answer is \\boxed{{{said}}}.", f"Final Answer: ${said}$", f"**Answer:** {said}",
                        f"<answer>{said}</answer>"))
    return wrap(rng, final, chars), gold, "numeric", None, unit


def expression(rng: random.Random, chars: int) -> tuple:
    a, b = rng.randint(1, 9), rng.randint(1, 9)
    wrong = rng.random() < 0.3
    kind = rng.randrange(5)
    if kind == 0:
        gold, said = f"x^2+{2 * a}x+{a * a}", f"(x+{a})^2"
    elif kind == 1:
        gold, said = f"\\frac{{{a}\\sqrt{{2}}}}{{2}}", f"\\frac{{{a}}}{{\\sqrt{{2}}}}"
    elif kind == 2:
        gold, said = f"[{a}, {a + b})", f"[{a},{a + b})"
    elif kind == 3:
        gold, said = f"{a}\\pi/{b + 1}", f"\\frac{{{a}\\pi}}{{{b + 1}}}"
    else:
        gold, said = f"(x-{a})(x+{b})", f"x^2+{b - a}x-{a * b}"
    if wrong:
        said = said + "+1"
    final = rng.choice((f"The answer is \\boxed{{{said}}}.", f"Final Answer: ${said}$"))
    return wrap(rng, final, chars), gold, "expression", None, ""


GENERATORS = {"multiple_choice": multiple_choice, "numeric": numeric, "expression": expression}


def run(cases: list[tuple], config=None) -> dict:
    calls = {"n": 0}
    original = equivalence.math_equal

    def counted(*args, **kwargs):
        calls["n"] += 1
        return original(*args, **kwargs)

    equivalence.math_equal = counted
    latencies, correct, verdicts = [], 0, []
    extra = {"config": config} if config is not None else {}
    try:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for output, gold, answer_type, choices, unit in cases:
            t0 = time.perf_counter()
            verdict = verify(output, gold, answer_type, choices, finish_reason="stop",
                             **({"unit": unit} if unit else {}), **extra)
            latencies.append(time.perf_counter() - t0)
            correct += verdict.correct
            verdicts.append([verdict.correct, verdict.extracted_answer, sorted(verdict.reasons)])
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    finally:
        equivalence.math_equal = original
    latencies.sort()
    return {
        "n": len(cases), "cpu_rate": len(cases) / cpu, "wall_rate": len(cases) / wall,
        "mean_us": statistics.mean(latencies) * 1e6, "p99_us": latencies[int(0.99 * (len(latencies) - 1))] * 1e6,
        "correct": correct / len(cases), "math_verify": calls["n"], "verdicts": verdicts,
    }


def measure(args) -> dict:
    """Figures per answer type for this process's verifier, and with its exact fast path off."""
    rng = random.Random(args.seed)
    sets = {name: [gen(rng, args.reasoning_chars) for _ in range(args.n)] for name, gen in GENERATORS.items()}
    warm_up()
    for cases in sets.values():  # warm-up, untimed: imports, regex compilation, SymPy caches
        run(cases[:50])
    out = {"mean_len": statistics.mean(len(c[0]) for cases in sets.values() for c in cases), "rows": {}}
    variants = {"": None}
    if args.fast_path_off:
        from transforms.verifiers import DEFAULT_CONFIG

        variants["fast path off"] = DEFAULT_CONFIG.model_copy(update={"exact_before_math_verify": False})
    for label, config in variants.items():
        out["rows"][label] = {name: run(cases, config) for name, cases in sets.items()}
    return out


def _mixed(rows: dict) -> tuple[float, float]:
    n = sum(r["n"] for r in rows.values())
    return (n / sum(r["n"] / r["cpu_rate"] for r in rows.values()),
            n / sum(r["n"] / r["wall_rate"] for r in rows.values()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3000, help="verdicts per answer type")
    parser.add_argument("--reasoning-chars", type=int, default=2000, help="reasoning length per output")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pin", action="store_true",
                        help="pin the process to its first allowed CPU (only meaningful on an idle machine)")
    parser.add_argument("--fast-path-off", action="store_true",
                        help="also measure this verifier with its exact fast path off (math-verify decides)")
    parser.add_argument("--against", metavar="CHECKOUT",
                        help="also measure another checkout's verifier (e.g. `git worktree add /tmp/main main`) "
                             "on the same outputs, in a subprocess, and compare verdicts and speed")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    if args.json:
        print(json.dumps(measure(args)))
        return
    results = {}
    if args.against:
        child = [sys.executable, __file__, "--json", "--n", str(args.n), "--reasoning-chars", str(args.reasoning_chars),
                 "--seed", str(args.seed)] + (["--pin"] if args.pin else [])
        env = {**os.environ, "MMCOT_VERIFY_BENCH_ROOT": str(Path(args.against).resolve())}
        done = subprocess.run(child, env=env, cwd=args.against, capture_output=True, text=True, check=True)
        results[f"{args.against} (baseline)"] = json.loads(done.stdout.strip().splitlines()[-1])["rows"][""]
    mine = measure(args)
    for label, rows in mine["rows"].items():
        results[f"this tree{', ' + label if label else ''}"] = rows

    print(f"verify throughput: one core, {args.n} verdicts per type, mean output {mine['mean_len']:.0f} chars, "
          f"seed {args.seed}, python {sys.version.split()[0]}")
    header = f"{'verifier':34s} {'type':16s} {'verdicts/s(cpu)':>16s} {'verdicts/s(wall)':>17s} {'mean us':>9s} " \
             f"{'p99 us':>9s} {'correct':>8s} {'math-verify calls':>18s}"
    print(header)
    print("-" * len(header))
    for label, rows in results.items():
        for name, r in rows.items():
            print(f"{label:34s} {name:16s} {r['cpu_rate']:16,.0f} {r['wall_rate']:17,.0f} {r['mean_us']:9,.0f} "
                  f"{r['p99_us']:9,.0f} {r['correct']:8.1%} {r['math_verify']:>10d} / {r['n']}")
        cpu, wall = _mixed(rows)
        print(f"{label:34s} {'mixed':16s} {cpu:16,.0f} {wall:17,.0f}")
    this = results["this tree"]
    for label, rows in results.items():
        if label == "this tree":
            continue
        ratios = "  ".join(f"{name} {this[name]['cpu_rate'] / r['cpu_rate']:.2f}x" for name, r in rows.items())
        same = sum(a == b for name in rows for a, b in zip(rows[name]["verdicts"], this[name]["verdicts"]))
        total = sum(len(rows[name]["verdicts"]) for name in rows)
        print(f"this tree / {label}: {ratios}  mixed {_mixed(this)[0] / _mixed(rows)[0]:.2f}x (CPU time); "
              f"same verdicts (correct, extracted answer, reasons) on {same} / {total}")


if __name__ == "__main__":
    main()
