"""Beam's "are we in IPython?" check without importing IPython in a process that is no IPython session.

Beam asks ``apache_beam.utils.interactive_utils.is_in_ipython`` for every transform applied at the top of a
pipeline and again when the pipeline runs, and the check imports IPython to ask it: with IPython installed (it
usually is, next to Jupyter), that import cost the launcher 21 MB (issue 29). An IPython session has imported
IPython before any user code runs, so when ``IPython`` is not in ``sys.modules`` the answer is "no" without asking;
otherwise Beam's own check decides. Beam imports the function into two more modules by name, so each is pointed at
the lean check (Beam offers no setting for it).
"""
from __future__ import annotations

import importlib
import sys

from apache_beam.utils import interactive_utils

#: The modules that hold Beam's check under the name ``is_in_ipython``.
HOLDERS = ("apache_beam.utils.interactive_utils", "apache_beam.pipeline", "apache_beam.runners.direct.direct_runner")
_BEAM_CHECK = interactive_utils.is_in_ipython


def is_in_ipython() -> bool:
    """Beam's answer, asked only when IPython is already imported (it always is inside an IPython session)."""
    return "IPython" in sys.modules and _BEAM_CHECK()


def lean_ipython_probe() -> None:
    """Point Beam at :func:`is_in_ipython` (idempotent)."""
    for name in HOLDERS:
        importlib.import_module(name).is_in_ipython = is_in_ipython
