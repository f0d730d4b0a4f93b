"""Which of a prompt's samples go in one request, and which servers refuse more than one.

A request for ``n`` samples (OpenAI's ``n``, the engine's ``SamplingParams.n``) sends the prompt, and its
images, once and returns ``n`` completions; each is cached under its own sample's key, so a resume asks
only for the samples it lacks, in one request again. Unseeded samples of one prompt and plan are
exchangeable: the missing ones go in chunks of at most ``teacher.samples_per_request``. A seeded
request (``teacher.send_seed``) carries its first sample's seed, and vLLM seeds the request's i-th
sample with ``seed + i`` (``vllm.v1.engine.parallel_sampling.ParentRequest``): exactly the seed
:meth:`~transforms.teachers.settings.TeacherSettings.request_seed` gives sample ``first + i`` alone, so
a seeded request takes only a run of consecutive sample numbers and every sample keeps its own seed.
A greedy plan (temperature 0) asks one sample a request: vLLM refuses ``n`` > 1 with greedy sampling
(``SamplingParams._verify_greedy_sampling``), and its samples are the same chain anyway.

A server that answers a request for several samples with a client error (HTTP 400 or 422, online or in
a batch) while the same prompt for one sample goes through, or that sends fewer choices than asked,
refuses ``n``: the process notes it (:func:`note_refusal`, said once in the log) and asks that endpoint
one request per sample from then on.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from schemas.plan import SamplingPlan

log = logging.getLogger(__name__)

#: Failure reasons of a request for several samples that may mean the server refuses ``n``.
MAYBE_REFUSED = frozenset({"http_400", "http_422", "batch_http_400", "batch_http_422"})

Endpoint = tuple[str, str | None, str]  # backend, base URL, model
_REFUSED: set[Endpoint] = set()
_REFUSED_LOCK = threading.Lock()


#: Below this temperature vLLM samples greedily (its ``_SAMPLING_EPS``).
GREEDY_BELOW = 1e-5


def samples_per_request(plan: SamplingPlan, max_n: int) -> int:
    """The most samples of ``plan`` one request takes from a backend that takes ``max_n``: 1 for a greedy plan."""
    return 1 if plan.temperature < GREEDY_BELOW else max_n


def request_groups(missing: Sequence[int], per_request: int, seeded: bool) -> list[list[int]]:
    """``missing`` sample numbers (ascending) split into requests of at most ``per_request`` samples; with
    ``seeded``, each request a run of consecutive numbers."""
    groups: list[list[int]] = []
    for sample in missing:
        last = groups[-1] if groups else None
        if last is None or len(last) >= per_request or (seeded and sample != last[-1] + 1):
            groups.append([sample])
        else:
            last.append(sample)
    return groups


def refuses_n(endpoint: Endpoint) -> bool:
    """Whether this process saw ``endpoint`` refuse requests for several samples."""
    return endpoint in _REFUSED


def note_refusal(endpoint: Endpoint, why: str) -> None:
    """Remember that ``endpoint`` refuses ``n`` (said in the log the first time)."""
    with _REFUSED_LOCK:
        first = endpoint not in _REFUSED
        _REFUSED.add(endpoint)
    if first:
        backend, base_url, model = endpoint
        where = f" at {base_url}" if base_url else ""
        log.warning("%s%s (%s) does not take several samples in one request (%s): asking one request per sample "
                    "from now on", model, where, backend, why)
