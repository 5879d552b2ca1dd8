"""`running`: a benchmark that is killed still stops the server it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

# A server with the `--port` flag that `running` reads, answering 200 on every path.
SERVER = ("import http.server, sys; port = int(sys.argv[sys.argv.index('--port') + 1]); "
          "http.server.HTTPServer(('127.0.0.1', port), http.server.SimpleHTTPRequestHandler).serve_forever()")

# A benchmark: start the server, print its pid, then wait to be killed. Ctrl-C's handler is set
# explicitly: a process started in the background by a non-interactive shell (as CI may run
# the suite) inherits SIGINT ignored, and Python then never raises KeyboardInterrupt.
BENCHMARK = f"""
import signal, sys, time
from pathlib import Path
signal.signal(signal.SIGINT, signal.default_int_handler)
from loadtests.compare import Target, free_port, running
t = Target("sleeper", [sys.executable, "-c", {SERVER!r}, "--port", str(free_port())], "/", {{}})
with running(t, Path(sys.argv[1]), 60) as (url, _):
    import httpx
    print(httpx.get(url + "/").status_code, flush=True)
    with open(sys.argv[2], "w") as f:
        f.write("ready")
    time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_killed_benchmark_stops_its_server(tmp_path, sig):
    ready = tmp_path / "ready"
    bench = subprocess.Popen([sys.executable, "-c", BENCHMARK, str(tmp_path / "server.log"), str(ready)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert _wait(ready.exists, 60), "the benchmark never got its server ready"
        assert bench.stdout.readline().strip() == "200"
        server_pids = [int(p) for p in subprocess.run(["pgrep", "-P", str(bench.pid)], capture_output=True,
                                                      text=True).stdout.split()]
        assert len(server_pids) == 1 and _alive(server_pids[0])
        bench.send_signal(sig)
        assert bench.wait(30) != 0
        assert _wait(lambda: not _alive(server_pids[0]), 10), "the server outlived its benchmark"
    finally:
        bench.kill()
        bench.wait()
