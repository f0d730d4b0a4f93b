"""Shared pytest fixtures: a live vLLM teacher server for integration tests.

Set ``MMCOT_TEST_BASE_URL`` (and ``MMCOT_TEST_MODEL``) to reuse a server that
is already running, e.g. one started with ``mmcot teacher serve``; otherwise
one server is started per test session on a free loopback port.
``MMCOT_TEST_SERVER_TIMEOUT`` (seconds) bounds its start-up.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

_REPO_ROOT = Path(__file__).resolve().parent.parent
if str(_REPO_ROOT) not in sys.path:  # lets plain `pytest` import the repo's packages
    sys.path.insert(0, str(_REPO_ROOT))

from pipelines.embedded_teacher import EMBEDDED_MODEL_NAME, prepare_embedded_teacher  # noqa: E402
from pipelines.vllm_server import VllmServer  # noqa: E402


class TeacherEndpoint(NamedTuple):
    """Where a test can reach the teacher: OpenAI API root and model name."""

    base_url: str
    model: str
    log_path: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "integration: needs more than this test process: the embedded teacher or a vLLM server, worker processes "
        "or a cluster, a storage server, a trainer or its venv (slow; the unit tier is `-m 'not integration'`)",
    )


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeacherEndpoint]:
    """A running OpenAI-compatible teacher server, shared by the whole session."""
    base_url = os.environ.get("MMCOT_TEST_BASE_URL")
    if base_url:
        model = os.environ.get("MMCOT_TEST_MODEL", EMBEDDED_MODEL_NAME)
        yield TeacherEndpoint(base_url.rstrip("/"), model)
        return
    model_dir = prepare_embedded_teacher()
    log_path = tmp_path_factory.mktemp("vllm") / "vllm-server.log"
    server = VllmServer(model_dir, EMBEDDED_MODEL_NAME, log_path=log_path, die_with_parent=True)
    server.start(timeout=float(os.environ.get("MMCOT_TEST_SERVER_TIMEOUT", "900")))
    try:
        yield TeacherEndpoint(server.base_url, EMBEDDED_MODEL_NAME, str(log_path))
    finally:
        server.stop()


@pytest.fixture(scope="module")
def engine_settings(tmp_path_factory):
    """Teacher settings for the in-process engine on the embedded teacher; its processes are stopped after the
    module (vLLM is imported here, not at collection: the unit tier never pays for it)."""
    from transforms.teachers.settings import TeacherSettings
    from transforms.teachers.vllm_engine import close_shared_engine

    settings = TeacherSettings(backend="vllm", engine={"model_path": str(prepare_embedded_teacher())},
                               cache_url=str(tmp_path_factory.mktemp("cache-vllm")))
    yield settings
    close_shared_engine(settings)
