"""A time budget for a Python call that works in any thread.

math-verify bounds its work with ``signal.alarm``, which only works in the main thread. Here one
daemon watchdog thread keeps the deadlines of all budgeted calls. The budget counts the CPU time
of the calling thread (``time.pthread_getcpuclockid``), so eight threads sharing the GIL do not
run each other out of budget and a verdict does not depend on the load; where per-thread CPU
clocks are unavailable it falls back to wall time. When a call overruns, the watchdog raises
:class:`BudgetExceeded` *in the thread running it* with CPython's ``PyThreadState_SetAsyncExc``,
and repeats every ``RETRY_S`` while the call is still running (in case library code swallowed
it). No cost while a call is within budget besides one heap push.

Limits: the exception is delivered between bytecodes, so a single long C call (a huge integer
power, say) is only interrupted when it returns; callers must refuse such inputs beforehand
(``symbolic.guard_reason``). :class:`BudgetExceeded` derives from ``BaseException`` so the
``except Exception`` blocks in math-verify and SymPy do not swallow it.
"""
from __future__ import annotations

import ctypes
import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: After the first delivery, re-deliver this often while the call still runs.
RETRY_S = 0.05


class BudgetExceeded(BaseException):
    """A budgeted call ran past its deadline."""


def _set_async_exc(thread_id: int, exc: type[BaseException] | None) -> None:
    # exc None clears a pending, undelivered exception (passes NULL).
    obj = ctypes.py_object(exc) if exc is not None else None
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), obj)


def _thread_cpu_clock(thread_id: int) -> int | None:
    try:
        clock = time.pthread_getcpuclockid(thread_id)
        time.clock_gettime(clock)
        return clock
    except (AttributeError, OSError):
        return None


class _Ticket:
    __slots__ = ("active", "budget", "clock", "cpu_start", "fired", "lock", "thread_id")

    def __init__(self, thread_id: int, budget: float) -> None:
        self.thread_id = thread_id
        self.lock = threading.Lock()
        self.active = True
        self.fired = False
        self.budget = budget
        self.clock = _thread_cpu_clock(thread_id)
        self.cpu_start = time.clock_gettime(self.clock) if self.clock is not None else 0.0

    def remaining(self) -> float:
        """CPU seconds left (0 when spent); with no CPU clock the wall deadline decides alone."""
        if self.clock is None:
            return 0.0
        try:
            used = time.clock_gettime(self.clock) - self.cpu_start
        except OSError:  # the thread is gone
            return 0.0
        return max(self.budget - used, 0.0)

    def fire(self) -> bool:
        """Deliver the exception if the call still runs; True if it does."""
        with self.lock:
            if not self.active:
                return False
            self.fired = True
            _set_async_exc(self.thread_id, BudgetExceeded)
            return True

    def disarm(self) -> bool:
        """Stop any further delivery; True if one was ever made."""
        with self.lock:
            self.active = False
            return self.fired


class _Watchdog:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Ticket]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._pid = -1

    def arm(self, seconds: float) -> _Ticket:
        ticket = _Ticket(threading.get_ident(), seconds)
        with self._cond:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                # First use, or a forked child (threads do not survive fork).
                self._heap = []
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="verifier-budget", daemon=True)
                self._thread.start()
            heapq.heappush(self._heap, (time.monotonic() + seconds, next(self._seq), ticket))
            if self._heap[0][2] is ticket:
                self._cond.notify()
        return ticket

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                deadline, _, ticket = self._heap[0]
                now = time.monotonic()
                if now < deadline:
                    self._cond.wait(deadline - now)
                    continue
                heapq.heappop(self._heap)
                if not ticket.active:
                    continue
                if not ticket.fired:
                    left = ticket.remaining()
                    if left > 0.001:  # waited for the GIL or the CPU: not yet spent
                        heapq.heappush(self._heap, (now + left, next(self._seq), ticket))
                        continue
            if ticket.fire():
                with self._cond:
                    heapq.heappush(self._heap, (time.monotonic() + RETRY_S, next(self._seq), ticket))


_WATCHDOG = _Watchdog()


def call_with_budget(seconds: float, fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn(*args, **kwargs)``, or :class:`BudgetExceeded` once it has used ``seconds`` of this
    thread's CPU time (wall time without per-thread CPU clocks)."""
    ticket = _WATCHDOG.arm(seconds)
    try:
        try:
            return fn(*args, **kwargs)
        finally:
            if ticket.disarm():
                # The deadline passed: drop a delivery that may still be pending so it cannot
                # surface later, outside this call.
                _set_async_exc(ticket.thread_id, None)
    except BudgetExceeded:
        _reset_sympy_flags()
        raise


def _reset_sympy_flags() -> None:
    """An interrupted SymPy call may have skipped the ``finally`` that restores its thread-local
    evaluation flags; put them back to their defaults."""
    try:
        from sympy.core.parameters import global_parameters
    except ImportError:  # pragma: no cover - sympy comes with math-verify
        return
    global_parameters.evaluate = True
    global_parameters.distribute = True
    global_parameters.exp_is_pow = False
