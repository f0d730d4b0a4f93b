"""The thread-safe time budget and the guarded math-verify wrapper."""
from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import math_verify
import pytest

from transforms.verifiers import VerifyConfig
from transforms.verifiers.budget import BudgetExceeded, call_with_budget
from transforms.verifiers.symbolic import guard_reason, math_equal, warm_up

CFG = VerifyConfig()


def spin_forever():
    x = 0
    while True:
        x += 1


def spin_for(seconds: float) -> str:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
    return "done"


def in_thread(fn, *args):
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result(timeout=30)


def test_budget_interrupts_a_loop_in_a_worker_thread():
    def job():
        start = time.thread_time()
        with pytest.raises(BudgetExceeded):
            call_with_budget(0.2, spin_forever)
        return time.thread_time() - start

    used = in_thread(job)
    assert 0.19 <= used < 0.6


def test_budget_returns_value_and_no_late_exception():
    def job():
        assert call_with_budget(0.3, spin_for, 0.05) == "done"
        # run well past the old deadline: nothing may arrive after the call returned
        return spin_for(0.5)

    assert in_thread(job) == "done"


def test_budget_counts_cpu_not_waiting():
    # sleeping uses no CPU, so a 0.1 s budget does not cut a 0.3 s sleep short
    assert in_thread(call_with_budget, 0.1, time.sleep, 0.3) is None


def test_budget_redelivers_when_swallowed():
    def swallow_once():
        with contextlib.suppress(BaseException):
            spin_forever()
        spin_forever()

    def job():
        with pytest.raises(BudgetExceeded):
            call_with_budget(0.1, swallow_once)
        return "ok"

    assert in_thread(job) == "ok"


def test_budget_only_hits_the_overrunning_thread():
    def overrun():
        try:
            call_with_budget(0.15, spin_forever)
        except BudgetExceeded:
            return "stopped"

    def honest():
        return call_with_budget(5.0, spin_for, 0.3)

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(overrun) for _ in range(3)] + [pool.submit(honest) for _ in range(3)]
        results = [f.result(timeout=30) for f in futures]
    assert results == ["stopped"] * 3 + ["done"] * 3


def test_math_verify_default_timeout_fails_off_the_main_thread():
    """Why the timeouts are disabled: math-verify's signal.alarm only works in the main thread."""
    with pytest.raises(ValueError, match="thread"):
        in_thread(math_verify.parse, "$1$")


def test_math_equal_works_off_the_main_thread():
    warm_up()
    assert in_thread(math_equal, "(x+1)^2", "x^2+2x+1", CFG) is True
    assert in_thread(math_equal, "(x+1)^2", "x^2+2x", CFG) is False
    assert threading.current_thread() is threading.main_thread()


def test_math_equal_gold_first():
    # math-verify is not symmetric: gold "x=3" takes the bare value 3
    assert math_equal("3", "x=3", CFG) is True


@pytest.mark.parametrize("text,reason", [
    ("x" * 300, "too_long"),
    ("(" * 13 + "x" + ")" * 13, "too_deep"),
    ("2^{2^{10}}", "power_tower"),
    ("2^3^4", "power_tower"),
    ("2**3**4", "power_tower"),
    ("10^{100000}", "huge_exponent"),
    ("5000!", "huge_factorial"),
    ("5!!", "huge_factorial"),
    ("\\binom{100000}{5}", "huge_factorial"),
    ("x^2+y^2", None),
    ("2^{1000}", None),
    ("10!", None),
    ("\\binom{10}{3}", None),
    ("x**2 + y**2", None),
    ("(" * 12 + "x" + ")" * 12, None),
])
def test_guard(text, reason):
    assert guard_reason(text, CFG) == reason


def test_guard_limits_are_configurable():
    assert guard_reason("x" * 300, VerifyConfig(max_math_chars=400)) is None
    assert guard_reason("2^{20000}", VerifyConfig(max_exponent=100_000)) is None


def test_refused_input_is_undecided_not_false():
    assert math_equal("2^{2^{100}}", "4", CFG) is None


def test_out_of_budget_is_undecided():
    warm_up()
    slow_gold = "\\frac{(\\sin a+\\cos b+\\tan c)^5}{\\sec d}"
    # the budget counts this thread's CPU; the process clock would also count other threads' work
    start = time.thread_time()
    assert math_equal("\\cos d(\\cos b+\\sin a+\\tan c)^5", slow_gold, VerifyConfig(math_verify_budget_s=0.1)) is None
    assert time.thread_time() - start < 0.5
