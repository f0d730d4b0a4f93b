# mmcot: `make demo` runs the sample pipeline on the embedded CPU teacher, `make test` runs the tests
# (`make test-fast`: the unit tier only, nothing beyond the test process: no model, server or worker processes;
# `make loop`: the closed loop, a student trained on a run's output and evaluated on held-out problems, ~30 min, not in CI).
# `make install` installs requirements/cpu-test.txt (the lock: the whole resolved environment) with pip, then mmcot;
# `make lock` re-resolves the locks from pyproject.toml (UPGRADE=1: the newest allowed versions, not the locked ones);
# `make test-latest` runs the unit tier in a fresh virtualenv on the newest versions pyproject.toml allows today.
# `make docs` builds the docs site (docs/, mkdocs.yml) strictly into site/; `make config-docs` regenerates the config reference (docs/config.md) and the configs' JSON Schemas from the settings models.
PY ?= python3
SAMPLE_N ?= 120
VISION_N ?= 12
LOOP_ARGS ?=
LOCK ?= requirements/cpu-test.txt
# Where torch's CPU build comes from when pip cannot find it on this machine (PyTorch's CPU wheel index)
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
LATEST_VENV ?= /tmp/mmcot-latest-venv
export TORCH_INDEX

.PHONY: install lock lint docs demo demo-vision test test-fast test-latest loop config-docs

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

# The image path end to end on the plumbing vision teacher (untrained vision tower: proves plumbing, not quality).
demo-vision: install
	mmcot teacher prepare --vision
	mmcot synth --out data/sample_vision --n $(VISION_N) --seed 0 --families compare_counts,counting,bar_chart
	mmcot run --config configs/sample_vision.yaml

docs: install
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --quiet

test: lint docs
	$(PY) -m pytest -q -rs

test-fast: install
	$(PY) -m pytest -q -rs -m "not integration"

test-latest:
	$(PY) tools/locks.py latest $(LATEST_VENV)

loop: install
	$(PY) benchmarks/closed_loop.py $(LOOP_ARGS)

config-docs:
	$(PY) -m pipelines.cli config schema > configs/mmcot.schema.json
	$(PY) -m pipelines.cli config schema --rounds > configs/mmcot-rounds.schema.json
	$(PY) -m pipelines.cli config reference > docs/config.md
