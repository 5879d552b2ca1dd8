"""Process lifecycle of ``icegrt serve``: graceful SIGTERM and clear start-up failures."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tests.conftest import start_server, stop_server


@pytest.mark.slow
def test_sigterm_lets_in_flight_requests_finish(tiny_model_path, tmp_path):
    server = start_server(tmp_path / "server.log", api_key=None)
    result: dict = {}

    def long_request():
        body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 300, "temperature": 1.0, "seed": 3,
                "stop": ["unlikely-stop-string-xyz"]}
        result["response"] = httpx.post(f"{server.base_url}/v1/chat/completions", json=body, timeout=120)

    worker = threading.Thread(target=long_request)
    worker.start()
    time.sleep(1.0)  # the request is now generating
    server.process.send_signal(signal.SIGTERM)
    worker.join(120)
    # uvicorn re-raises the signal once shutdown is complete, so the exit reads "terminated by SIGTERM"
    assert server.process.wait(60) == -signal.SIGTERM
    response = result["response"]
    assert response.status_code == 200
    assert response.json()["usage"]["completion_tokens"] == 300
    assert "Application shutdown complete" in server.log_path.read_text()


def test_unknown_model_fails_fast_with_a_clear_message(tmp_path):
    run = subprocess.run([sys.executable, "-m", "cli.main", "serve", "--model", str(tmp_path / "missing")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "neither a checkpoint directory nor a known name" in run.stderr


def test_bad_setting_fails_before_loading():
    run = subprocess.run([sys.executable, "-m", "cli.main", "serve", "--port", "70000"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "port" in run.stderr
