"""The launcher (the process running ``mmcot run``) does not import what only the workers or the card's plots use
(issue 29: its memory). SymPy, math-verify and latex2sympy are loaded by the first answer comparison, matplotlib by
the first plot; importing the CLI, the run and the graph builder must load none of them, a worker draws the plots so
rendering the run's report does not load matplotlib either, and building and running a graph does not import IPython
(Beam's check for an IPython session imported it). Nor ``datasets`` (and its pandas/fsspec/huggingface_hub plumbing):
the schemas derive their ``datasets`` features without it (``schemas/derive.py``) and only a card, Hub or consumer path
imports it."""
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


def _child(code: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@cache
def _imports() -> dict:
    """What importing the launcher loads (one child process for the tests that read it)."""
    return _child(CHILD)


def test_importing_the_launcher_loads_no_worker_only_module():
    seen = _imports()
    assert seen["after_import"] == [], f"the launcher imports {seen['after_import']}: import them where they are used"
    # The same check sees them once they are used, and the lazily imported comparison still decides.
    assert seen["after_use"] == sorted(WORKER_ONLY)
    assert seen["equal"] is True


def test_importing_the_launcher_and_the_schemas_loads_no_datasets():
    seen = _imports()
    assert seen["card_only"] == [], f"the launcher imports {seen['card_only']}: import it where a card needs it"
    # the features the schemas derive are real ``datasets`` features once asked for (and only then is it loaded)
    assert seen["card_after_use"] == list(CARD_ONLY)
    assert seen["image_feature"] == "Image"


REPORT_CHILD = """
import json, sys
from pipelines.run import write_run_report
from tests.data_cards.test_card_publish import _config
manifest = write_run_report(_config(sys.argv[1]), "pytest", 1.0, "r1")
print(json.dumps({"matplotlib": "matplotlib" in sys.modules, "plots": manifest.plots}))
"""


def test_a_worker_draws_the_plots_and_the_launcher_lists_them_without_matplotlib(tmp_path):
    from tests.data_cards.test_card_publish import write_fake_outputs

    out = tmp_path / "out"
    write_fake_outputs(out)  # the workers' part (DirectRunner, in this process): shards, _meta/ and the plots
    drawn = sorted(str(p.relative_to(out)) for p in (out / "plots").glob("*.png"))
    assert drawn == ["plots/length_by_band.png", "plots/length_by_difficulty.png"]
    seen = _child(REPORT_CHILD, str(out))  # the launcher's part after the job: manifest, card, report.html
    assert seen["matplotlib"] is False, "rendering the run's report imported matplotlib"
    assert sorted(seen["plots"]) == drawn
    card = (out / "README.md").read_text()
    assert all(plot in card for plot in drawn)


IPYTHON_CHILD = """
import json, sys
import apache_beam as beam
from apache_beam import pipeline as beam_pipeline
from apache_beam.utils import interactive_utils
from pipelines.ipython_probe import _BEAM_CHECK
from pipelines.runners import parse_options
p = beam.Pipeline(options=parse_options(["--runner", "direct"]))
p | "Numbers" >> beam.Create([1, 2, 3]) | "Sum" >> beam.CombineGlobally(sum) | "Keep" >> beam.Map(print)
p.run().wait_until_finish()
after_run = "IPython" in sys.modules
from IPython.core.interactiveshell import InteractiveShell
outside = [beam_pipeline.is_in_ipython(), interactive_utils.is_in_ipython(), _BEAM_CHECK()]
InteractiveShell.instance()
inside = [beam_pipeline.is_in_ipython(), interactive_utils.is_in_ipython(), _BEAM_CHECK()]
print(json.dumps({"after_run": after_run, "outside": outside, "inside": inside}))
"""


def test_building_and_running_a_graph_imports_no_ipython_and_the_check_still_sees_a_session():
    seen = _child(IPYTHON_CHILD)
    assert seen["after_run"] is False, "Beam's IPython check imported IPython"
    assert seen["outside"] == [False, False, False]  # IPython imported, no session: every check agrees with Beam's
    assert seen["inside"] == [True, True, True]  # inside a session the lean check answers as Beam's does
