"""vLLM general plugin: what ``icegrt serve`` changes inside vLLM's own engine processes.

On CPU vLLM starts its engine-core and worker processes with ``spawn``, so a patch made in
the API process never reaches them. vLLM loads every ``vllm.general_plugins`` entry point in
each process it starts (engine core, workers); this is ours (``pyproject.toml``). It does
nothing unless ``icegrt serve`` set its variable, so plain ``vllm serve``, evaluations and
training that use the same environment run vLLM unchanged.

``ICEGRT_VLLM_POLL_US``: a reader of vLLM's shared-memory message queues (scheduler to worker,
worker to scheduler) that finds no message spins on ``sched_yield`` for up to one second
before it sleeps on a socket (``SpinCondition``, not configurable in vLLM 0.32). While the
worker computes a step the engine core spins, and on a CPU machine that spin takes CPU from
the API process and from the model's own threads: on this Linux (6.18, EEVDF) a process
beside a spinning vLLM reader got 4% of the core. With the variable set, the reader sleeps
that many microseconds between checks instead of yielding; vLLM's one-second window and its
socket wake-up after it are unchanged. `loadtests/cpu_tuning.py` measures it (``+poll``).
Sleeping on the socket at once (a zero window) is not offered: in vLLM 0.32 the engine core
and the worker then both waited on their sockets for a wake-up that did not come.

``ICEGRT_SERVER_PID``: the API process's id. Every vLLM process other than that one then exits
within about a second of its parent's death, so a SIGKILLed server leaves no engine processes
(gigabytes of memory) behind. A thread watches ``getppid()`` instead of ``prctl(PR_SET_PDEATHSIG)``:
that signal fires when the *thread* that spawned the process exits, and the API process spawns the
engine from a worker thread, whose end would then kill a healthy engine.
"""

from __future__ import annotations

import os
import signal
import threading
import time

POLL_ENV = "ICEGRT_VLLM_POLL_US"
SERVER_PID_ENV = "ICEGRT_SERVER_PID"


def register() -> None:
    """vLLM's plugin hook: patch the message queues' wait, and follow the server's death, when icegrt asked."""
    value = os.environ.get(POLL_ENV)
    if value is not None:
        poll_instead_of_spinning(int(value) / 1e6)
    server_pid = os.environ.get(SERVER_PID_ENV)
    if server_pid is not None and int(server_pid) != os.getpid():
        exit_with_parent()


def exit_with_parent(interval_s: float = 0.5) -> None:
    """SIGKILL this process as soon as its parent is gone (a daemon thread polls ``getppid()``)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval_s)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="icegrt-exit-with-parent", daemon=True).start()


def poll_instead_of_spinning(interval_s: float) -> None:
    """Readers of vLLM's shared-memory queues sleep `interval_s` between checks instead of yielding.

    ``wait`` is patched rather than ``__init__`` because a worker opens its queues before it
    loads plugins; existing queues follow it too.
    """
    from vllm.distributed.device_communicators.shm_broadcast import SpinCondition

    original = getattr(SpinCondition.wait, "__wrapped__", SpinCondition.wait)

    def wait(self, timeout_ms: int | None = None) -> None:
        if self.is_reader and time.monotonic() <= self.last_read + self.busy_loop_s:
            time.sleep(interval_s)
            return
        original(self, timeout_ms)

    wait.__wrapped__ = original
    SpinCondition.wait = wait
