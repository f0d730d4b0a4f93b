"""A failure to reach something (the Hub, a model endpoint, a bucket, a storage emulator), told in one line.

:class:`Unreachable` is the error the checks before work raise (:mod:`pipelines.preflight`): its
message names the config key, what was tried and what to set. :func:`reach_failure` words a
connection failure found anywhere in an exception's chain the same way (httpx, aiohttp,
requests/urllib3, botocore, the Hub's client and the socket layer each raise their own), naming the
host it tried and, when :data:`SERVICES` knows the host, the setting that points there.
"""
from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

# class names (anywhere in an exception's MRO) of the clients' "could not connect" errors
CONNECT_ERRORS = {"ConnectError", "ConnectTimeout", "ClientConnectorError", "EndpointConnectionError",
                  "ConnectTimeoutError", "NewConnectionError", "NameResolutionError", "ConnectionError"}
UNKNOWN_HOST_TEXT = ("name or service not known", "nodename nor servname", "temporary failure in name resolution",
                     "getaddrinfo failed", "no address associated", "name does not resolve")


class Unreachable(ConnectionError):
    """Something a command needs does not answer; the message is one line: what was tried and what to set."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def _is_connect_error(exc: BaseException) -> bool:
    if isinstance(exc, BrokenPipeError):  # a reader that went away (``| head``), not a place out of reach
        return False
    return isinstance(exc, (ConnectionError, socket.gaierror)) or bool(
        {cls.__name__ for cls in type(exc).__mro__} & CONNECT_ERRORS)


def failed_connection(exc: BaseException) -> BaseException | None:
    """The first link of ``exc``'s chain that is a failure to connect (None: there is none)."""
    return next((link for link in _chain(exc) if _is_connect_error(link)), None)


def _url_of(exc: BaseException) -> str | None:
    try:  # httpx raises RuntimeError when an error carries no request
        request = getattr(exc, "request", None)
    except RuntimeError:
        request = None
    if getattr(request, "url", None):
        return str(request.url)
    if getattr(exc, "host", None) and getattr(exc, "port", None):  # aiohttp
        return f"{exc.host}:{exc.port}"
    kwargs = getattr(exc, "kwargs", None)  # botocore
    if isinstance(kwargs, dict) and kwargs.get("endpoint_url"):
        return kwargs["endpoint_url"]
    pool = getattr(exc, "pool", None)  # urllib3
    if getattr(pool, "host", None):
        return f"{pool.scheme}://{pool.host}:{pool.port}{getattr(exc, 'url', '') or ''}"
    return None


def tried(exc: BaseException) -> str | None:
    """The URL (or host:port) the failed connection in ``exc``'s chain was for, when the client recorded it."""
    return next((url for link in _chain(exc) if (url := _url_of(link))), None)


def cause(exc: BaseException) -> str:
    """Why the connection failed, in a few words: unknown host, connection refused, timed out, offline mode …"""
    links = list(_chain(exc))
    text = " ".join(str(link) for link in links).lower()
    names = {cls.__name__ for link in links for cls in type(link).__mro__}
    if "OfflineModeIsEnabled" in names:
        return "HF_HUB_OFFLINE is set"
    if any(isinstance(link, socket.gaierror) for link in links) or any(t in text for t in UNKNOWN_HOST_TEXT):
        return "unknown host"
    if any(isinstance(link, ConnectionRefusedError) for link in links) or "refused" in text:
        return "connection refused"
    if "timed out" in text or "timeout" in text or any("Timeout" in n for n in names):
        return "timed out"
    first = failed_connection(exc) or exc
    return f"{type(first).__name__}: {first}"[:200]


def _host_port(url: str) -> str:
    parts = urlsplit(url if "://" in url else f"//{url}")
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme, "")
    return f"{(parts.hostname or '').lower()}:{port}"


def _env_url(*names: str) -> tuple[str, str] | None:
    """The first of the environment variables ``names`` that is set (a bare host:port read as http://): (name, URL)."""
    for name in names:
        value = os.environ.get(name, "")
        if value and value != "default":
            return name, value if "://" in value else f"http://{value}"
    return None


@dataclass(frozen=True)
class Service:
    """A service mmcot reaches through a library: where it is reached now (``url``, following the environment
    variables that move it), which hosts are its, and what a person sets when it does not answer."""

    name: str
    url: Callable[[], str]
    domains: tuple[str, ...]
    what_to_set: Callable[[], str]

    def owns(self, url: str) -> bool:
        """Whether ``url`` (or host:port) is this service's."""
        host = _host_port(url).rsplit(":", 1)[0]
        return _host_port(url) == _host_port(self.url()) or any(
            host == d or host.endswith("." + d) for d in self.domains)


def _hub_url() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def _hub_setting() -> str:
    from huggingface_hub import constants

    local = "(a source can also be a local copy of the repo: its folder as the path)"
    if constants.is_offline_mode():
        return f"HF_HUB_OFFLINE is set, so the Hub is not asked: unset it {local}"
    if os.environ.get("HF_ENDPOINT"):
        return f"HF_ENDPOINT is {os.environ['HF_ENDPOINT']}: start that Hub there or unset HF_ENDPOINT {local}"
    return f"check this machine's network, or set HF_ENDPOINT to a Hub mirror it reaches {local}"


def _gcs_url() -> str:
    found = _env_url("STORAGE_EMULATOR_HOST")  # as gcsfs and google-cloud-storage (Beam's GCS client) read it
    return found[1] if found else "https://storage.googleapis.com"


def _gcs_setting() -> str:
    found = _env_url("STORAGE_EMULATOR_HOST")
    if found:
        return (f"STORAGE_EMULATOR_HOST is {os.environ['STORAGE_EMULATOR_HOST']}: start the emulator there, or unset "
                "STORAGE_EMULATOR_HOST to use Google Cloud Storage")
    return ("check this machine's network and Google credentials (GOOGLE_APPLICATION_CREDENTIALS), or set "
            "STORAGE_EMULATOR_HOST to use a GCS emulator")


S3_ENDPOINT_VARS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")  # as botocore (s3fs, Beam's S3 client) reads them


def _s3_url() -> str:
    found = _env_url(*S3_ENDPOINT_VARS)
    return found[1] if found else "https://s3.amazonaws.com"


def _s3_setting() -> str:
    found = _env_url(*S3_ENDPOINT_VARS)
    if found:
        return f"{found[0]} is {os.environ[found[0]]}: start the S3 server there, or unset {found[0]} to use AWS S3"
    return ("check this machine's network and AWS credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID), or set "
            "AWS_ENDPOINT_URL to use an S3-compatible server")


HUB = Service("the Hugging Face Hub", _hub_url, ("huggingface.co", "hf.co"), _hub_setting)
GCS = Service("Google Cloud Storage", _gcs_url, ("googleapis.com", "metadata.google.internal"), _gcs_setting)
S3 = Service("S3", _s3_url, ("amazonaws.com",), _s3_setting)
SERVICES = (HUB, GCS, S3)
BY_SCHEME = {"hf": HUB, "gs": GCS, "s3": S3}  # a path's URL scheme -> the service behind it


def one_line(tried_what: str, url: str | None, exc: BaseException, to_set: str, key: str | None = None,
             path: str | None = None) -> str:
    """``[key: ]cannot reach <what>[ at <url>][ for <path>] (<cause>); <what to set>``."""
    head = f"{key}: " if key else ""
    at = f" at {url}" if url else ""
    place = f" for {path}" if path and path != url else ""
    return f"{head}cannot reach {tried_what}{at}{place} ({cause(exc)}); {to_set}"


def reach_failure(exc: BaseException) -> str | None:
    """One line for ``exc`` when it is a failure to reach something (None otherwise)."""
    if isinstance(exc, Unreachable):
        return str(exc)
    if failed_connection(exc) is None:
        return None
    url = tried(exc) or (HUB.url() if cause(exc) == "HF_HUB_OFFLINE is set" else None)
    service = next((s for s in SERVICES if url and s.owns(url)), None)
    if service is not None:
        return one_line(service.name, url, exc, service.what_to_set())
    return one_line("a server", url, exc, "check the URL or host in the config or command line, and that its server "
                                           "is running")
