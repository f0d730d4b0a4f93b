# mmcot workers, CPU: Beam's Python SDK image with mmcot[gcp,aws] installed.
# Build from the repo root (the launcher's Beam and Python versions must match the image's):
#   docker build -f configs/containers/cpu.Dockerfile -t REGION-docker.pkg.dev/PROJECT/REPO/mmcot-cpu:0.1.0 .
# Dataflow: --sdk_container_image=REGION-docker.pkg.dev/PROJECT/REPO/mmcot-cpu:0.1.0
# Flink:    --environment_type=DOCKER --environment_config=REGISTRY/mmcot-cpu:0.1.0
#           or a worker-pool sidecar: `docker run IMAGE --worker_pool` + --environment_type=EXTERNAL --environment_config=localhost:50000
ARG BEAM_VERSION=2.77.0
FROM apache/beam_python3.11_sdk:${BEAM_VERSION}

WORKDIR /opt/mmcot
COPY pyproject.toml README.md ./
COPY pipelines pipelines
COPY transforms transforms
COPY schemas schemas
COPY data_cards data_cards
RUN pip install --no-cache-dir ".[gcp,aws]" && python -c "import transforms.read, pipelines.build"
# The image keeps Beam's entrypoint (/opt/apache/beam/boot), which starts the SDK harness.
