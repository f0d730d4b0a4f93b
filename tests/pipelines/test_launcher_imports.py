"""The launcher (the process running ``mmcot run``) does not import what only the workers or the card's plots use
(issue 29: its memory). SymPy, math-verify and latex2sympy are loaded by the first answer comparison, matplotlib by
the first plot; importing the CLI, the run and the graph builder must load none of them. Nor ``datasets`` (and its
pandas/fsspec/huggingface_hub plumbing): the schemas derive their ``datasets`` features without it (``schemas/derive.py``)
and only a card, Hub or consumer path imports it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache

from tests.support.paths import REPO

ROOT = REPO
#: Heavy modules the launcher imported before issue 29 only because a module imported them at its top.
WORKER_ONLY = ("sympy", "math_verify", "latex2sympy2_extended", "matplotlib")
#: Loaded by the launcher only to write the card (``data_cards/metadata.py``), by a worker to record a set's features.
CARD_ONLY = ("datasets",)

CHILD = f"""
import json, sys
HEAVY = {WORKER_ONLY!r}
loaded = lambda names=HEAVY: sorted(m for m in names if m in sys.modules)
import pipelines.cli, pipelines.run
from pipelines.build import build_pipeline
import schemas.output_sets, schemas.outputs, schemas.problem, schemas.generation, schemas.evaluation
after_import, card_only = loaded(), loaded({CARD_ONLY!r})
from schemas.derive import features
from schemas.problem import Problem
image_feature = type(features(Problem)["images"].feature).__name__
card_after_use = loaded({CARD_ONLY!r})
from transforms.verifiers import DEFAULT_CONFIG
from transforms.verifiers.symbolic import math_equal
equal = math_equal("\\\\frac{{1}}{{2}}x", "\\\\frac{{x}}{{2}}", DEFAULT_CONFIG)
from data_cards.plots import pyplot
pyplot()
print(json.dumps({{"after_import": after_import, "after_use": loaded(), "equal": equal, "card_only": card_only,
                  "card_after_use": card_after_use, "image_feature": image_feature}}))
"""


@cache
def _child() -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_launcher_loads_no_worker_only_module():
    seen = _child()
    assert seen["after_import"] == [], f"the launcher imports {seen['after_import']}: import them where they are used"
    # The same check sees them once they are used, and the lazily imported comparison still decides.
    assert seen["after_use"] == sorted(WORKER_ONLY)
    assert seen["equal"] is True


def test_importing_the_launcher_and_the_schemas_loads_no_datasets():
    seen = _child()
    assert seen["card_only"] == [], f"the launcher imports {seen['card_only']}: import it where a card needs it"
    # the features the schemas derive are real ``datasets`` features once asked for (and only then is it loaded)
    assert seen["card_after_use"] == list(CARD_ONLY)
    assert seen["image_feature"] == "Image"
