"""Before a command starts work: whatever it names must answer (buckets, storage emulators, the Hub, model servers).

Each place is asked once, with a short timeout and no retries; one that does not answer raises
:class:`~pipelines.reach.Unreachable`, whose one line names the config key, what was tried and what
to set. Any answer at all (a 404, a 401) counts as reached: what the place says is the work's concern.
Why ask first rather than let the work fail: a run would start the embedded teacher (a minute)
before its Hub listing fails; gcsfs retries a refused emulator for about 35 s and logs every try
with a traceback; and a teacher URL nothing listens on turns every problem into a dead letter, after
every retry, only once the job runs.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import httpx

from pipelines.reach import BY_SCHEME, HUB, Service, Unreachable, failed_connection, one_line
from pipelines.remote_guard import run_places, workers_are_remote
from pipelines.storage import config_paths, scheme

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def _http_failure(url: str) -> BaseException | None:
    """The connection failure of one GET to ``url``; None when anything answered. Direct, as the teacher client
    (aiohttp) connects: no proxy from the environment."""
    try:
        httpx.get(url, timeout=TIMEOUT, trust_env=False)
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        return exc
    except httpx.HTTPError as exc:
        return exc if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)) else None
    return None


def _hub_failure() -> BaseException | None:
    """The connection failure of one request to the Hub through its own client (offline mode, HF_ENDPOINT, its
    transport); None when the Hub answered."""
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    try:
        get_session().head(constants.ENDPOINT, timeout=TIMEOUT.read)
    except Exception as exc:  # the Hub's client raises its own transport's errors; only reach counts here
        return exc if failed_connection(exc) else None
    return None


def _failure(service: Service) -> BaseException | None:
    return _hub_failure() if service is HUB else _http_failure(service.url())


def check_places(paths: Mapping[str, str | None]) -> None:
    """Raise :class:`Unreachable` unless the service behind every remote path answers (``paths``: config key → path or
    URL; ``gs://``, ``s3://``, ``hf://``; each service asked once)."""
    asked: set[str] = set()
    for key, path in paths.items():
        service = BY_SCHEME.get(scheme(path) or "") if path else None
        if service is None or service.name in asked:
            continue
        asked.add(service.name)
        failure = _failure(service)
        if failure is not None:
            raise Unreachable(one_line(service.name, service.url(), failure, service.what_to_set(), key, path)) \
                from failure


def check_endpoints(urls: Mapping[str, str | None], what_to_set: Callable[[str], str]) -> None:
    """Raise :class:`Unreachable` unless an OpenAI-compatible server answers at every URL (``urls``: config key or
    option → base URL; ``what_to_set(key)`` says what a person changes)."""
    asked: set[str] = set()
    for key, url in urls.items():
        if not url or url in asked:
            continue
        asked.add(url)
        failure = _http_failure(url.rstrip("/") + "/models")
        if failure is not None:
            raise Unreachable(one_line("the model server", url, failure, what_to_set(key), key)) from failure


def run_endpoint_setting(key: str) -> str:
    """What to set when a run's model server at ``key`` does not answer."""
    option = " (or --teacher-url; null starts the embedded teacher)" if key == "teacher.base_url" else ""
    return f"start the server there or set {key}{option}; to rerun from the response cache alone, add --cache-only"


def check_run(config, options, cache_url: str, cache_only: bool = False) -> None:
    """Before a run (``config`` a PipelineConfig, ``options`` its PipelineOptions): its bucket and Hub paths, then,
    unless ``cache_only`` or its workers are remote (they may reach what this machine cannot), every model server."""
    check_places(config_paths(config, cache_url))
    if not cache_only and not workers_are_remote(options):
        check_endpoints(run_places(config, config.teacher.cache_url).urls, run_endpoint_setting)
