"""Fixtures for the consumer tests: one small finished run, and the trainers' venvs (built once, cached)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.consumers.fixture_run import write_fixture
from tests.support.consumer_venvs import LLAMAFACTORY, VERL, ensure_venv

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def consumer_run(tmp_path_factory) -> Path:
    """The scripted-teacher run of ``fixture_run.py``: verify → select → write, manifest, card, dataset_info.json."""
    out = tmp_path_factory.mktemp("consumers") / "out"
    write_fixture(str(out))
    return out


@pytest.fixture(scope="session")
def verl_python() -> Path:
    return ensure_venv(VERL)


@pytest.fixture(scope="session")
def llamafactory_python() -> Path:
    return ensure_venv(LLAMAFACTORY)
