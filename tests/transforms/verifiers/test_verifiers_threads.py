"""Verdicts computed from eight worker threads equal the serial ones (math-verify included)."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from tests.transforms.verifiers.test_verifiers_table import CASES, Case, run, think
from transforms.verifiers import symbolic, warm_up

EXTRA = [
    Case(f"gen_expr_{i}", think(f"\\boxed{{(x+{i})^2}}"), f"x^2+{2 * i}x+{i * i}", True)
    for i in range(1, 16)
] + [
    Case(f"gen_expr_wrong_{i}", think(f"\\boxed{{(x+{i})^2}}"), f"x^2+{2 * i}x+{i * i + 1}", False)
    for i in range(1, 16)
] + [
    Case(f"gen_numeric_{i}", think(f"\\boxed{{\\frac{{{i}}}{{4}}}}"), str(i / 4), True) for i in range(1, 21)
]


def test_threaded_verdicts_equal_serial():
    warm_up()
    cases = (CASES + EXTRA)
    cases = (cases * 2)[:220]
    assert len(cases) >= 200
    serial = [run(c) for c in cases]
    threads_used: set[str] = set()

    def run_and_note(case):
        threads_used.add(threading.current_thread().name)
        return run(case)

    symbolic.parse_whole.cache_clear()  # make the workers parse with math-verify themselves
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(run_and_note, cases))
    assert threading.current_thread().name not in threads_used  # really off the main thread
    assert len(threads_used) > 1
    mismatches = [(c.id, s, t) for c, s, t in zip(cases, serial, threaded) if s != t]
    assert not mismatches, mismatches[:3]
    # and the expected answers hold off the main thread too (math-verify ran in workers)
    for case, verdict in zip(cases, threaded):
        assert verdict.correct is case.correct, (case.id, verdict)
