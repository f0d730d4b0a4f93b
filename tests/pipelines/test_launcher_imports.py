"""The launcher (the process running ``mmcot run``) does not import what only the workers or the card's plots use
(issue 29: its memory). SymPy, math-verify and latex2sympy are loaded by the first answer comparison, matplotlib by
the first plot; importing the CLI, the run and the graph builder must load none of them."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.paths import REPO

ROOT = REPO
#: Heavy modules the launcher imported before issue 29 only because a module imported them at its top.
WORKER_ONLY = ("sympy", "math_verify", "latex2sympy2_extended", "matplotlib")

CHILD = f"""
import json, sys
HEAVY = {WORKER_ONLY!r}
loaded = lambda: sorted(m for m in HEAVY if m in sys.modules)
import pipelines.cli, pipelines.run
from pipelines.build import build_pipeline
after_import = loaded()
from transforms.verifiers import DEFAULT_CONFIG
from transforms.verifiers.symbolic import math_equal
equal = math_equal("\\\\frac{{1}}{{2}}x", "\\\\frac{{x}}{{2}}", DEFAULT_CONFIG)
from data_cards.plots import pyplot
pyplot()
print(json.dumps({{"after_import": after_import, "after_use": loaded(), "equal": equal}}))
"""


def test_importing_the_launcher_loads_no_worker_only_module():
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120, check=True)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["after_import"] == [], f"the launcher imports {seen['after_import']}: import them where they are used"
    # The same check sees them once they are used, and the lazily imported comparison still decides.
    assert seen["after_use"] == sorted(WORKER_ONLY)
    assert seen["equal"] is True
