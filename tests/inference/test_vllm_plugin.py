"""The vLLM plugin that makes the engine processes poll their message queues instead of spinning."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from vllm.distributed.device_communicators import shm_broadcast
from vllm.distributed.device_communicators.shm_broadcast import SpinCondition

from inference.vllm_plugin import POLL_ENV, poll_instead_of_spinning


class FakePoller:
    def __init__(self):
        self.polls = []

    def poll(self, timeout=None):
        self.polls.append(timeout)
        return []


def reader(last_read: float) -> SpinCondition:
    """A reader-side SpinCondition without sockets: only what `wait` reads."""
    condition = SpinCondition.__new__(SpinCondition)
    condition.is_reader, condition.last_read, condition.busy_loop_s = True, last_read, 1.0
    condition.poller, condition.read_cancel_socket, condition.local_notify_socket = FakePoller(), object(), object()
    return condition


@pytest.fixture
def yields(monkeypatch):
    """Restores SpinCondition.wait after the test and counts vLLM's sched_yield calls."""
    calls = []
    monkeypatch.setattr(SpinCondition, "wait", SpinCondition.wait)
    monkeypatch.setattr(shm_broadcast, "sched_yield", lambda: calls.append(1))
    return calls


def test_vllm_spins_on_sched_yield_inside_its_window(yields):
    """The behaviour the plugin replaces: a reader that just read yields instead of sleeping."""
    condition = reader(time.monotonic())
    condition.wait()
    assert yields == [1] and condition.poller.polls == []


def test_patched_reader_sleeps_inside_the_window_and_never_yields(yields):
    poll_instead_of_spinning(0.002)
    condition = reader(time.monotonic())
    start = time.perf_counter()
    condition.wait()
    assert time.perf_counter() - start >= 0.002
    assert yields == [] and condition.poller.polls == []


def test_patched_reader_after_the_window_still_waits_on_vllms_socket(yields):
    poll_instead_of_spinning(0.002)
    condition = reader(time.monotonic() - 5)
    condition.wait(timeout_ms=7)
    assert condition.poller.polls == [7] and yields == []


def test_patching_twice_wraps_vllms_wait_once(yields):
    poll_instead_of_spinning(0.001)
    poll_instead_of_spinning(0.001)
    assert SpinCondition.wait.__wrapped__.__qualname__ == "SpinCondition.wait"


@pytest.mark.parametrize("value, patched", [("150", True), (None, False)])
def test_vllm_loads_the_plugin_from_the_installed_entry_point(value, patched):
    """Through vLLM's own loader, as its engine processes do; a fresh interpreter each time."""
    env = {k: v for k, v in os.environ.items() if k != POLL_ENV}
    if value is not None:
        env[POLL_ENV] = value
    code = ("from vllm.plugins import load_general_plugins; load_general_plugins()\n"
            "from vllm.distributed.device_communicators.shm_broadcast import SpinCondition\n"
            "print(hasattr(SpinCondition.wait, '__wrapped__'))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip().splitlines()[-1] == str(patched)


PARENT = """
import multiprocessing, os, sys, time

def child():
    from inference.vllm_plugin import register
    register()  # what vLLM does in each process it spawns
    time.sleep(60)

if __name__ == "__main__":
    os.environ["ICEGRT_SERVER_PID"] = str(os.getpid())  # as VllmEngine.start sets it
    multiprocessing.set_start_method("spawn")
    proc = multiprocessing.Process(target=child)
    proc.start()
    print(proc.pid, flush=True)
    time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def test_engine_processes_exit_when_the_server_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    child = int(parent.stdout.readline())
    time.sleep(1.0)  # the child has registered its watcher
    assert _alive(child)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child), "the engine process outlived the killed server"


def test_the_server_process_itself_does_not_watch_its_parent(monkeypatch):
    import threading

    from inference import vllm_plugin

    monkeypatch.setenv(vllm_plugin.SERVER_PID_ENV, str(os.getpid()))
    monkeypatch.delenv(POLL_ENV, raising=False)
    vllm_plugin.register()
    assert "icegrt-exit-with-parent" not in [t.name for t in threading.enumerate()]
