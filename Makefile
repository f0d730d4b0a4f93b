# mmcot: `make demo` runs the sample pipeline on the embedded CPU teacher, `make test` runs the tests
# (`make test-fast`: the unit tier only, nothing beyond the test process: no model, server or worker processes;
# `make loop`: the closed loop, a student trained on a run's output and evaluated on held-out problems, ~30 min, not in CI).
# `make install` installs requirements/cpu-test.txt (the lock: the whole resolved environment) with pip, then mmcot;
# `make lock` re-resolves the locks from pyproject.toml (UPGRADE=1: the newest allowed versions, not the locked ones);
# `make test-latest` runs the unit tier in a fresh virtualenv on the newest versions pyproject.toml allows today.
PY ?= python3
SAMPLE_N ?= 120
LOOP_ARGS ?=
LOCK ?= requirements/cpu-test.txt
# Where torch's CPU build comes from when pip cannot find it on this machine (PyTorch's CPU wheel index)
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
LATEST_VENV ?= /tmp/mmcot-latest-venv
export TORCH_INDEX

.PHONY: install lock lint demo test test-fast test-latest loop

install:
	$(PY) tools/locks.py install $(LOCK)
	# the report's browser tests drive Debian's chromium with playwright (playwright cannot download browsers here)
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
		|| echo "chromium not installed: the report's browser tests will skip"

lock:
	$(PY) tools/locks.py compile $(if $(UPGRADE),--upgrade)

lint: install
	$(PY) -m ruff check .

demo: install
	mmcot teacher prepare
	mmcot synth --out data/sample --n $(SAMPLE_N) --seed 0
	mmcot run --config configs/sample.yaml

test: lint
	$(PY) -m pytest -q -rs

test-fast: install
	$(PY) -m pytest -q -rs -m "not integration"

test-latest:
	$(PY) tools/locks.py latest $(LATEST_VENV)

loop: install
	$(PY) benchmarks/closed_loop.py $(LOOP_ARGS)
