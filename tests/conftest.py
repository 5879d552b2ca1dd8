"""Session-wide fixtures: one real server (vLLM on the tiny model) shared by all end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

API_KEY = "test-key"
READY_TIMEOUT_S = 240


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    base_url: str
    api_key: str
    process: subprocess.Popen
    log_path: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def metrics(self) -> str:
        return httpx.get(f"{self.base_url}/metrics", timeout=10).text


def start_server(log_path: Path, *extra: str, api_key: str | None = API_KEY, preexec_fn=None) -> LiveServer:
    """Start ``icegrt serve`` on the tiny model and wait until /ready answers 200 (`preexec_fn` runs in the
    child before it starts, e.g. to set its resource limits)."""
    port = free_port()
    cmd = [sys.executable, "-m", "cli.main", "serve", "--model", "tiny", "--port", str(port),
           "--enforce-eager", "--max-model-len", "4096", "--kv-cache-space", "1",
           "--data-dir", str(log_path.parent / "data"), *extra]
    if api_key:
        cmd += ["--api-key", api_key]
    log = log_path.open("w")
    process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                               preexec_fn=preexec_fn)
    server = LiveServer(f"http://127.0.0.1:{port}", api_key or "", process, log_path)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()[-4000:]}")
        try:
            if httpx.get(f"{server.base_url}/ready", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop_server(server)
    raise RuntimeError(f"server not ready after {READY_TIMEOUT_S} s:\n{log_path.read_text()[-4000:]}")


def stop_server(server: LiveServer, timeout: float = 60) -> int:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()
    return server.process.returncode


@pytest.fixture(scope="session")
def tiny_model_path() -> Path:
    from common.models import build_model

    return build_model("tiny")


@pytest.fixture(scope="session")
def tiny_lora_path(tiny_model_path, tmp_path_factory) -> Path:
    """A LoRA adapter (PEFT folder) on the tiny model, random so that it answers differently."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_path, dtype=torch.float32)
    config = LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False)
    path = tmp_path_factory.mktemp("lora") / "tiny-lora"
    get_peft_model(model, config).save_pretrained(path)
    return path


LIVE_SERVER_FLAGS = ("--served-model-name", "tiny", "tiny-alias", "--max-num-batched-tokens", "4096",
                     "--enable-auto-tool-choice", "--tool-call-parser", "hermes")
"""Beyond the defaults, the shared server takes a second name, an engine flag passed through to vLLM, and
vLLM's hermes tool parser (auto tool choice; forced choices in hermes's markup)."""


@pytest.fixture(scope="session")
def live_server(tiny_model_path, tiny_lora_path, tmp_path_factory) -> LiveServer:
    server = start_server(tmp_path_factory.mktemp("server") / "server.log", *LIVE_SERVER_FLAGS,
                          "--lora-modules", f"tiny-lora={tiny_lora_path}")
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def openai_client(live_server):
    import openai

    return openai.OpenAI(base_url=f"{live_server.base_url}/v1", api_key=live_server.api_key, max_retries=0,
                         timeout=120)
