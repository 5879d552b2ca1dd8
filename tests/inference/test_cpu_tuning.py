"""CPU defaults: which variables `icegrt serve` sets for vLLM's engine processes."""

from __future__ import annotations

from inference.config import CpuTuning
from inference.cpu_tuning import apply_cpu_tuning, default_reserved_cpus, tuned_environment


def libs(tmp_path):
    tcmalloc, iomp = tmp_path / "libtcmalloc_minimal.so.4", tmp_path / "libiomp5.so"
    tcmalloc.touch()
    iomp.touch()
    return {"tcmalloc_paths": [str(tmp_path / "missing.so"), str(tcmalloc)], "iomp_paths": [str(iomp)]}


def test_both_preloads_found_appended_after_the_users_own(tmp_path):
    env, warnings = tuned_environment(preload_tcmalloc=True, preload_iomp=True, threads_bind=None, reserved_cpus=None,
                                      environ={"LD_PRELOAD": "/opt/mine.so"}, **libs(tmp_path))
    assert env == {"LD_PRELOAD": f"/opt/mine.so:{tmp_path}/libtcmalloc_minimal.so.4:{tmp_path}/libiomp5.so"}
    assert warnings == []


def test_a_library_already_preloaded_is_not_added_twice(tmp_path):
    env, _ = tuned_environment(preload_tcmalloc=True, preload_iomp=False, threads_bind=None, reserved_cpus=None,
                               environ={"LD_PRELOAD": "/usr/lib/libtcmalloc.so.4"}, **libs(tmp_path))
    assert env == {"LD_PRELOAD": "/usr/lib/libtcmalloc.so.4"}


def test_an_openmp_runtime_already_preloaded_keeps_iomp_out(tmp_path):
    """vLLM asserts on libgomp and libiomp together; a process that started an engine before has
    libgomp in LD_PRELOAD (vLLM's platform code puts it there), and its child servers inherit it."""
    gomp = "/venv/lib/python3.11/site-packages/torch/lib/libgomp.so.1"
    env, warnings = tuned_environment(preload_tcmalloc=True, preload_iomp=True, threads_bind=None, reserved_cpus=None,
                                      environ={"LD_PRELOAD": gomp}, **libs(tmp_path))
    assert env == {"LD_PRELOAD": f"{gomp}:{tmp_path}/libtcmalloc_minimal.so.4"}
    assert warnings == ["libiomp not added: LD_PRELOAD already holds an OpenMP runtime"]


def test_missing_library_warns_with_its_package_and_sets_nothing(tmp_path):
    env, warnings = tuned_environment(preload_tcmalloc=True, preload_iomp=True, threads_bind=None, reserved_cpus=None,
                                      environ={}, tcmalloc_paths=[str(tmp_path / "no.so")],
                                      iomp_paths=[str(tmp_path / "no5.so")])
    assert env == {}
    assert len(warnings) == 2 and "libtcmalloc-minimal4" in warnings[0] and "intel-openmp" in warnings[1]


def test_everything_off_leaves_vllm_defaults(tmp_path):
    env, warnings = tuned_environment(preload_tcmalloc=False, preload_iomp=False, threads_bind=None,
                                      reserved_cpus=None, environ={}, **libs(tmp_path))
    assert env == {} and warnings == []


def test_thread_settings_become_vllm_variables_and_are_logged(tmp_path, caplog):
    settings = CpuTuning(preload_tcmalloc=False, preload_iomp=False, threads_bind="0-1", reserved_cpus=0,
                         engine_poll_us=200)
    environ: dict[str, str] = {}
    with caplog.at_level("INFO", logger="inference.cpu_tuning"):
        applied = apply_cpu_tuning(settings, environ)
    assert applied == environ == {"VLLM_CPU_OMP_THREADS_BIND": "0-1", "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
                                  "ICEGRT_VLLM_POLL_US": "200"}
    assert "VLLM_CPU_OMP_THREADS_BIND=0-1" in caplog.text and "LD_PRELOAD=(vLLM default)" in caplog.text
    assert "ICEGRT_VLLM_POLL_US=200" in caplog.text


def test_model_threads_get_every_cpu_by_default_where_there_are_several():
    assert default_reserved_cpus({}, usable_cpus=2) == 0
    assert default_reserved_cpus({}, usable_cpus=1) is None  # vLLM's own choice
    assert default_reserved_cpus({"VLLM_CPU_NUM_OF_RESERVED_CPU": "1"}, usable_cpus=2) is None  # the operator's


def test_unset_reservation_is_applied_from_the_usable_cpus(monkeypatch):
    settings = CpuTuning(preload_tcmalloc=False, preload_iomp=False)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    assert apply_cpu_tuning(settings, {}) == {"VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}
    assert apply_cpu_tuning(settings, {"VLLM_CPU_NUM_OF_RESERVED_CPU": "2"}) == {}
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0})
    assert apply_cpu_tuning(settings, {}) == {}
