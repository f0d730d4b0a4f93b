# mmcot workers with a GPU for `teacher.backend: vllm` (the model inside each worker): Beam's Python
# SDK image plus vLLM's CUDA wheels (they bring their own CUDA runtime; the driver comes from the
# host: Dataflow's `install-nvidia-driver` service option, or the NVIDIA container toolkit on Flink).
# Build from the repo root:
#   docker build -f configs/containers/gpu.Dockerfile -t REGION-docker.pkg.dev/PROJECT/REPO/mmcot-gpu:0.1.0 .
# Dataflow:
#   --sdk_container_image=REGION-docker.pkg.dev/PROJECT/REPO/mmcot-gpu:0.1.0
#   --machine_type=g2-standard-16
#   --dataflow_service_options="worker_accelerator=type:nvidia-l4;count:1;install-nvidia-driver"
#   --experiments=no_use_multiple_sdk_containers   # one Python process per VM: one engine per GPU
#   --number_of_worker_harness_threads=4           # DoFn threads sharing that engine (each max_in_flight requests)
ARG BEAM_VERSION=2.77.0
FROM apache/beam_python3.11_sdk:${BEAM_VERSION}

ENV VLLM_WORKER_MULTIPROC_METHOD=spawn
WORKDIR /opt/mmcot
COPY pyproject.toml README.md ./
COPY pipelines pipelines
COPY transforms transforms
COPY schemas schemas
COPY data_cards data_cards
RUN pip install --no-cache-dir ".[gcp,aws,gpu]" && python -c "import vllm, transforms.teachers.vllm_engine"
