"""Where the checkout is, for tests in any folder of tests/ (the one place that knows tests/support's depth)."""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
