"""A scripted teacher backend for unit tests (``teacher.backend: scripted``): no server, no model.

A test writes a :class:`Script`, rules that map a request (its text, sample number, plan) to a
scripted reply, failure or delay, and installs it with :func:`scripted_settings`, whose
``model`` names the script. The script records every call and the peak number in flight, so a
test can assert what a stage sent. Scripts live in the process that installed them: this backend
serves in-process runners (TestPipeline, DirectRunner), which is what unit tests use.
"""
from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from schemas.plan import SamplingPlan
from transforms.teachers.base import Completion, TeacherError
from transforms.teachers.settings import TeacherSettings

SCRIPTS: dict[str, Script] = {}


@dataclass(frozen=True)
class Reply:
    """What one call returns: a completion, or a failure with ``fail`` as the TeacherError reason.

    ``completion_tokens`` None counts the content's words (at most the plan's ``max_tokens``); ``retries`` are
    reported as the retries a retrying client made before this reply; ``delay_s`` is slept first. The reply's
    fields go to the reply gate as they are, so a test may script any value a server could send (typed
    content parts, a negative or huge count, a finish reason of its own).
    """

    content: Any = ""
    reasoning: Any = None
    finish_reason: Any = "stop"
    prompt_tokens: Any = 10
    completion_tokens: Any = None
    fail: str | None = None
    delay_s: float = 0.0
    retries: int = 0


@dataclass(frozen=True)
class Call:
    """One request as the script saw it: the messages' text (images left out), plan, output constraint, sample."""

    text: str
    plan: SamplingPlan
    response_format: dict[str, Any] | None
    sample: int


@dataclass
class Rule:
    """``reply`` for calls whose text contains ``match``, whose sample is ``sample`` (None: any) and
    for which ``when`` holds; at most ``times`` times (None: always)."""

    reply: Reply
    match: str = ""
    sample: int | None = None
    when: Callable[[Call], bool] | None = None
    times: int | None = None

    def applies(self, call: Call) -> bool:
        return (self.match in call.text and self.sample in (None, call.sample)
                and (self.when is None or self.when(call)) and self.times != 0)


@dataclass
class Script:
    """Rules tried in order (the first that applies answers); ``default`` answers the rest (None: they fail as ``unscripted``)."""

    rules: list[Rule] = field(default_factory=list)
    default: Reply | None = Reply("<think>scripted</think> \\boxed{0}")
    calls: list[Call] = field(default_factory=list)
    peak_in_flight: int = 0
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self, call: Call) -> Reply:
        """Record ``call`` and pick its reply."""
        with self._lock:
            self.calls.append(call)
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            for rule in self.rules:
                if rule.applies(call):
                    if rule.times is not None:
                        rule.times -= 1
                    return rule.reply
        if self.default is None:
            return Reply(fail="unscripted")
        return self.default

    def finish(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def texts(self) -> list[str]:
        """The text of every call so far."""
        with self._lock:
            return [c.text for c in self.calls]


def scripted_settings(script: Script, name: str | None = None, **fields: Any) -> TeacherSettings:
    """Teacher settings that answer from ``script``, installed in this process as model ``name`` (None: a fresh
    name; an installed name is replaced, so a rerun under the same model name meets the first run's cache)."""
    name = name or f"scripted-{uuid.uuid4().hex[:8]}"
    SCRIPTS[name] = script
    return TeacherSettings(backend="scripted", model=name, **fields)


def message_text(messages: list[dict[str, Any]]) -> str:
    """The text of every message, in order (image parts left out)."""
    parts = []
    for message in messages:
        content = message["content"]
        if isinstance(content, str):
            parts.append(content)
        else:
            parts.extend(part["text"] for part in content if part.get("type") == "text")
    return "\n".join(parts)


class ScriptedTeacher:
    """The Teacher interface over the script ``settings.model`` names."""

    def __init__(self, settings: TeacherSettings):
        if settings.model not in SCRIPTS:
            raise ValueError(f"no script named {settings.model!r} in this process (install one with scripted_settings)")
        self.model = settings.model
        self.retries = 0
        self._script = SCRIPTS[settings.model]

    async def complete(self, messages: list[dict[str, Any]], plan: SamplingPlan,
                       response_format: dict[str, Any] | None = None, sample: int = 0) -> Completion:
        """The scripted reply for this call (after its delay); raises TeacherError for a scripted failure."""
        reply = self._script.start(Call(message_text(messages), plan, response_format, sample))
        try:
            await asyncio.sleep(reply.delay_s)
        finally:
            self._script.finish()
        self.retries += reply.retries
        if reply.fail is not None:
            raise TeacherError(reply.fail, "scripted failure")
        words = len(reply.content.split()) if isinstance(reply.content, str) else 0
        tokens = min(words, plan.max_tokens) if reply.completion_tokens is None else reply.completion_tokens
        return Completion(content=reply.content, reasoning=reply.reasoning, finish_reason=reply.finish_reason,
                          prompt_tokens=reply.prompt_tokens, completion_tokens=tokens, latency_s=reply.delay_s)

    async def aclose(self) -> None:
        """Nothing to release."""
