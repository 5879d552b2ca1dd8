"""The container images: linted by hadolint, built by the project's own install step, configured right.

No Docker engine runs here, so the Dockerfiles are linted and read rather than built; the install
step they run (scripts/setup.sh) is the one `make test` runs on every CI machine.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys

import pytest

from common.paths import REPO_ROOT
from server.settings import ServerSettings
from tests.conftest import free_port
from tests.deploy.conftest import DOCKERFILES

# ICEGRT_* variables read outside ServerSettings: common.paths.models_dir
OTHER_ICEGRT_VARIABLES = {"ICEGRT_MODELS_DIR"}
VOLUMES = {"ICEGRT_MODELS_DIR": "/models", "ICEGRT_DATA_DIR": "/data"}


def instructions(path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comment lines dropped."""
    result, pending = [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        result.append((keyword.upper(), " ".join(args.split())))
        pending = ""
    return result


def env_of(path) -> dict[str, str]:
    env = {}
    for keyword, args in instructions(path):
        if keyword == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(args))
    return env


def test_hadolint_passes_both_dockerfiles(hadolint):
    """Any finding, down to style, fails: the few accepted ones carry an inline ignore with a reason."""
    run = subprocess.run([hadolint, "--no-color", "--failure-threshold", "style", *map(str, DOCKERFILES.values())],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


def test_hadolint_catches_what_it_should(hadolint, tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11-slim\nRUN pip install requests\nUSER root\n")
    run = subprocess.run([hadolint, "--no-color", "--failure-threshold", "style", str(bad)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert "DL3013" in run.stdout  # unpinned pip install


@pytest.mark.parametrize("engine", sorted(DOCKERFILES))
def test_image_installs_through_setup_sh_only(engine):
    steps = instructions(DOCKERFILES[engine])
    runs = [args for keyword, args in steps if keyword == "RUN"]
    install = [args for args in runs if "scripts/setup.sh" in args]
    assert install == [f"ICEGRT_ENGINE={engine} ICEGRT_SYSTEM_PACKAGES=0 ICEGRT_DEV=0 PIP_NO_CACHE_DIR=1 "
                       "bash scripts/setup.sh"], "the image installs through setup.sh, without the dev extra"
    assert not [args for args in runs if "pip " in args], "the image must not install Python packages of its own"
    assert steps.index(("COPY", ". .")) < steps.index(("RUN", install[0])), "setup.sh needs the whole source"


@pytest.mark.parametrize("engine", sorted(DOCKERFILES))
def test_image_runs_as_non_root_with_volumes_healthcheck_and_settings(engine):
    steps = instructions(DOCKERFILES[engine])
    users = [args for keyword, args in steps if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert [args for keyword, args in steps if keyword == "VOLUME"] == ['["/models", "/data"]']
    env = env_of(DOCKERFILES[engine])
    assert {name: env.get(name) for name in VOLUMES} == VOLUMES
    settings = {f"ICEGRT_{name.upper()}" for name in ServerSettings.model_fields}
    unknown = {name for name in env if name.startswith("ICEGRT_")} - settings - OTHER_ICEGRT_VARIABLES
    assert not unknown, f"ENV names no setting: {unknown}"
    healthcheck = [args for keyword, args in steps if keyword == "HEALTHCHECK"]
    assert len(healthcheck) == 1 and healthcheck[0].endswith('CMD ["python", "/opt/icegrt/deploy/healthcheck.py"]')
    assert ("ENTRYPOINT", '["icegrt"]') in steps and ("CMD", '["serve"]') in steps


def test_dockerignore_keeps_local_state_out():
    ignored = set((REPO_ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "runs", "**/*.db"} <= ignored
    assert not {"deploy", "scripts", "server", "pyproject.toml"} & ignored  # the image needs these


def _setup_sandbox(tmp_path, extras="cpu,dev"):
    """A copy of setup.sh whose .venv looks installed with `extras`, and a system_packages.sh that leaves a mark."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "clients").mkdir()
    stamped = ("pyproject.toml", "clients/pyproject.toml", "scripts/setup.sh")
    for name in stamped:
        (tmp_path / name).write_bytes((REPO_ROOT / name).read_bytes())
    (tmp_path / "scripts/system_packages.sh").write_text("touch system-packages-ran\n")
    digest = hashlib.sha256(b"".join((tmp_path / name).read_bytes() for name in stamped))
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv/.icegrt-setup").write_text(f"{digest.hexdigest()[:16]} {extras}\n")
    return tmp_path


@pytest.mark.parametrize(("switch", "runs_system_packages"), [("0", False), ("1", True), (None, True)])
def test_setup_sh_skips_system_packages_only_when_asked(tmp_path, switch, runs_system_packages):
    sandbox = _setup_sandbox(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "ICEGRT_SYSTEM_PACKAGES"} | {"ICEGRT_ENGINE": "cpu"}
    if switch is not None:
        env["ICEGRT_SYSTEM_PACKAGES"] = switch
    run = subprocess.run(["bash", "scripts/setup.sh"], cwd=sandbox, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "creating .venv" not in run.stdout, "the sandbox's stamp should make setup.sh a no-op"
    assert (sandbox / "system-packages-ran").exists() == runs_system_packages


def test_setup_sh_leaves_out_the_dev_extra_when_asked(tmp_path):
    """ICEGRT_DEV=0 (the images' install line) wants the engine extra alone: a .venv set up that way is current."""
    sandbox = _setup_sandbox(tmp_path, extras="cpu")
    env = os.environ | {"ICEGRT_ENGINE": "cpu", "ICEGRT_DEV": "0", "ICEGRT_SYSTEM_PACKAGES": "0"}
    run = subprocess.run(["bash", "scripts/setup.sh"], cwd=sandbox, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "creating .venv" not in run.stdout, "with ICEGRT_DEV=0 setup.sh should want [cpu], the sandbox's stamp"


@pytest.mark.e2e
def test_healthcheck_script(live_server, tmp_path):
    script = REPO_ROOT / "deploy" / "healthcheck.py"
    port = live_server.base_url.rsplit(":", 1)[1]
    ok = subprocess.run([sys.executable, str(script)], env=os.environ | {"ICEGRT_PORT": port},
                        capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    down = subprocess.run([sys.executable, str(script)], env=os.environ | {"ICEGRT_PORT": str(free_port())},
                          capture_output=True, text=True, timeout=30)
    assert down.returncode == 1
    assert "/health" in down.stderr
