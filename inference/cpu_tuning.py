"""CPU defaults for the vLLM engine: preloaded allocator and OpenMP runtime, thread binding.

vLLM's CPU worker warns when ``LD_PRELOAD`` lacks ``libtcmalloc`` and ``libiomp`` (Intel
OpenMP); without them its platform code preloads only torch's ``libgomp``. ``LD_PRELOAD`` is
read when a process starts, so it is set in this process's environment before the engine is
built: vLLM starts its engine-core and worker processes with ``spawn`` (a fresh interpreter
that inherits the environment), which is where the model runs. The API process itself is
not re-executed: it does no tensor work.

Thread binding goes to vLLM as ``VLLM_CPU_OMP_THREADS_BIND`` (``auto``, ``nobind`` or a CPU
list such as ``0-1``) and ``VLLM_CPU_NUM_OF_RESERVED_CPU`` (CPUs left to the API and
scheduler processes; vLLM reserves one, ``icegrt serve`` none where more than one is usable). ``--cpu-engine-poll-us`` goes to
``inference/vllm_plugin.py`` in the engine's processes (poll with sleeps instead of spinning).
The settings come as a `inference.config.CpuTuning`; for ``icegrt serve`` each is a flag and an
``ICEGRT_*`` variable; `loadtests.cpu_tuning` measures what each one is worth and the defaults
keep only what the figures support (see loadtests/README.md).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path

from inference.config import CpuTuning
from inference.vllm_plugin import POLL_ENV

log = logging.getLogger(__name__)

RESERVED_ENV = "VLLM_CPU_NUM_OF_RESERVED_CPU"
TCMALLOC_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",  # Debian libtcmalloc-minimal4
    "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4",  # Debian libgoogle-perftools4
    "/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4",
    "/usr/lib64/libtcmalloc_minimal.so.4",
)


def iomp_candidates() -> tuple[str, ...]:
    """Where PyPI's ``intel-openmp`` puts ``libiomp5.so``: the environment's ``lib/``."""
    return (str(Path(sys.prefix) / "lib" / "libiomp5.so"),)


def first_existing(paths: Sequence[str]) -> str | None:
    return next((p for p in paths if Path(p).is_file()), None)


def tuned_environment(
    *,
    preload_tcmalloc: bool,
    preload_iomp: bool,
    threads_bind: str | None,
    reserved_cpus: int | None,
    environ: Mapping[str, str],
    poll_us: int | None = None,
    tcmalloc_paths: Sequence[str] = TCMALLOC_CANDIDATES,
    iomp_paths: Sequence[str] | None = None,
) -> tuple[dict[str, str], list[str]]:
    """The variables to set for the engine's processes, and warnings about libraries not found.

    Libraries already in ``LD_PRELOAD`` stay, in front; a wanted library that is already
    there (by name) is not added twice.
    """
    preload = [p for p in environ.get("LD_PRELOAD", "").replace(" ", ":").split(":") if p]
    warnings = []
    wanted = [("libtcmalloc", preload_tcmalloc, tcmalloc_paths, "Debian package libtcmalloc-minimal4"),
              ("libiomp", preload_iomp, iomp_paths or iomp_candidates(), "PyPI package intel-openmp")]
    for name, enabled, paths, source in wanted:
        if not enabled or any(name in p for p in preload):
            continue
        if name == "libiomp" and any("libgomp" in p or "libomp" in p for p in preload):
            # vLLM refuses two OpenMP runtimes in one process (it asserts); one already preloaded
            # (by the user, or by vLLM itself in a process that started an engine before) wins.
            warnings.append("libiomp not added: LD_PRELOAD already holds an OpenMP runtime")
            continue
        found = first_existing(paths)
        if found is None:
            warnings.append(f"{name} not found (install the {source}; looked in {', '.join(paths)})")
        else:
            preload.append(found)
    env = {"LD_PRELOAD": ":".join(preload)} if preload else {}
    if threads_bind is not None:
        env["VLLM_CPU_OMP_THREADS_BIND"] = threads_bind
    if reserved_cpus is not None:
        env[RESERVED_ENV] = str(reserved_cpus)
    if poll_us is not None:
        env[POLL_ENV] = str(poll_us)
    return env, warnings


def default_reserved_cpus(environ: Mapping[str, str], usable_cpus: int) -> int | None:
    """0 where more than one CPU is usable and the operator has not set vLLM's variable, else
    None (vLLM's choice). vLLM keeps one CPU per rank off the model's threads for its API and
    engine-core processes; on 2 CPUs that is half the machine, and giving the model both
    measured 1.45-1.50x the output throughput at concurrency 16 (loadtests/README.md)."""
    return 0 if usable_cpus > 1 and RESERVED_ENV not in environ else None


def apply_cpu_tuning(tuning: CpuTuning, environ: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """Set the tuned variables in `environ` before the engine starts; logs and returns them."""
    reserved = tuning.reserved_cpus
    if reserved is None:
        reserved = default_reserved_cpus(environ, len(os.sched_getaffinity(0)))
    env, warnings = tuned_environment(
        preload_tcmalloc=tuning.preload_tcmalloc, preload_iomp=tuning.preload_iomp,
        threads_bind=tuning.threads_bind, reserved_cpus=reserved, environ=environ,
        poll_us=tuning.engine_poll_us,
    )
    for warning in warnings:
        log.warning("CPU tuning: %s", warning)
    environ.update(env)
    shown = {k: environ.get(k) for k in ("LD_PRELOAD", "VLLM_CPU_OMP_THREADS_BIND", RESERVED_ENV,
                                         POLL_ENV, "OMP_NUM_THREADS")}
    log.info("CPU tuning: %s", " ".join(f"{k}={v if v is not None else '(vLLM default)'}" for k, v in shown.items()))
    return env
