# ICE-GRT server, GPU image (the `vllm` engine on CUDA).
#
#   docker build -t icegrt:gpu .
#   docker run --gpus all -p 8000:8000 -v icegrt-models:/models -v icegrt-data:/data icegrt:gpu
#
# Dependencies come from the project's own install step, scripts/setup.sh, the one CI runs on
# every change, so the image holds exactly the tested, pinned set (vllm 0.32.0 brings torch 2.13.0,
# built for CUDA 13.0, with its CUDA libraries). Configure with ICEGRT_* variables
# (`icegrt serve --help` lists them); see docs/deploy.md.
FROM nvidia/cuda:13.0.2-base-ubuntu24.04

# Python 3.12 is Ubuntu 24.04's python3; gcc and python3-dev: Triton compiles its launchers at start.
# Not version-pinned: Ubuntu's security updates replace old versions; the base image tag fixes the release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python3-dev gcc g++ \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/icegrt
COPY . .
RUN ICEGRT_ENGINE=gpu ICEGRT_SYSTEM_PACKAGES=0 ICEGRT_DEV=0 PIP_NO_CACHE_DIR=1 bash scripts/setup.sh

RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/icegrt icegrt \
    && mkdir -p /models /data \
    && chown icegrt:icegrt /models /data
VOLUME ["/models", "/data"]

ENV PATH=/opt/icegrt/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    ICEGRT_MODELS_DIR=/models \
    ICEGRT_DATA_DIR=/data \
    ICEGRT_HOST=0.0.0.0 \
    ICEGRT_PORT=8000 \
    ICEGRT_MODEL=SmolLM2-135M-Instruct \
    ICEGRT_GPU_MEMORY_UTILIZATION=0.9
USER 10001:10001
EXPOSE 8000
# /health answers as soon as the process is up; the engine loads behind it (/ready says when it serves).
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
    CMD ["python", "/opt/icegrt/deploy/healthcheck.py"]
ENTRYPOINT ["icegrt"]
CMD ["serve"]
