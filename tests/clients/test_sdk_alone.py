"""The SDK as its own distribution: ``pip install ./clients`` into a clean venv (no torch, no vLLM,
none of the project), then the SDK's own tests from that venv against this session's live server.

The venv is made once per session; pip uses this machine's configuration (indexes, find-links,
cache), so it works offline where the pinned httpx, pydantic and pytest are on local indexes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "clients"
HERE = Path(__file__).resolve().parent
# tests/clients/ files that need more than the SDK (the server's app in-process), and this file.
NEEDS_THE_PROJECT = {"test_contract_inprocess.py", Path(__file__).name}
HEAVY = ("torch", "vllm", "transformers", "fastapi")


def pyproject(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))["project"]


def pins(requirements: list[str]) -> dict[str, str]:
    """Requirement name (lower case, no extras) -> the requirement as written, comment-free."""
    return {re.match(r"[A-Za-z0-9_.-]+", r).group().lower(): r.split("#")[0].strip() for r in requirements}


def test_the_sdk_pins_what_the_project_pins():
    """icegrt-client depends on httpx and pydantic only, at the project's versions (its openai
    extra too), and icegrt depends on exactly this icegrt-client."""
    main, sdk = pyproject(ROOT / "pyproject.toml"), pyproject(SDK / "pyproject.toml")
    main_pins = pins(main["dependencies"])
    assert set(pins(sdk["dependencies"])) == {"httpx", "pydantic"}
    for name, requirement in pins(sdk["dependencies"] + sdk["optional-dependencies"]["openai"]).items():
        assert main_pins[name] == requirement, f"clients/ pins {requirement}, the project {main_pins[name]}"
    assert main_pins["icegrt-client"] == f"icegrt-client=={sdk['version']}"


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (f"{' '.join(cmd)} exited {result.returncode}:\n"
                                    f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment (pip's configuration included) without what would leak the project in."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return env | {"PYTHONNOUSERSITE": "1"} | extra


@pytest.fixture(scope="session")
def sdk_python(tmp_path_factory) -> Path:
    """A fresh venv's python with ``./clients`` and the test tools (the dev extra's pins) installed."""
    venv = tmp_path_factory.mktemp("sdk-alone") / "venv"
    run([sys.executable, "-m", "venv", str(venv)], env=clean_env())
    python = venv / "bin" / "python"
    dev = pins(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"])
    run([str(python), "-m", "pip", "install", "--quiet", str(SDK), dev["pytest"], dev["pytest-timeout"]],
        env=clean_env(), timeout=600)
    return python


@pytest.mark.slow
@pytest.mark.e2e
def test_the_sdk_installs_and_passes_its_tests_alone(sdk_python, live_server, tmp_path):
    probe = ("import importlib.util, json, icegrt_client, icegrt_client.client, icegrt_client.async_client, "
             "icegrt_client.commands; print(json.dumps({'file': icegrt_client.__file__, 'present': "
             f"[m for m in {HEAVY + ('openai',)!r} if importlib.util.find_spec(m)]}}))")
    found = json.loads(run([str(sdk_python), "-c", probe], cwd=tmp_path, env=clean_env()).stdout)
    assert found["present"] == [], f"the SDK's venv holds {found['present']}"
    assert Path(found["file"]).is_relative_to(sdk_python.parent.parent), "icegrt_client must come from the venv"
    installed = {p["name"].lower() for p in json.loads(run([str(sdk_python), "-m", "pip", "list", "--format", "json"],
                                                           env=clean_env()).stdout)}
    assert {"icegrt-client", "httpx", "pydantic"} <= installed and not installed & set(HEAVY)

    tests = sorted(str(p.relative_to(ROOT)) for p in HERE.glob("test_*.py") if p.name not in NEEDS_THE_PROJECT)
    result = subprocess.run([str(sdk_python), "-m", "pytest", "-x", "-q", "-rA", "-p", "no:cacheprovider", *tests],
                            cwd=ROOT, capture_output=True, text=True, timeout=1800,
                            env=clean_env(ICEGRT_TEST_SERVER_URL=live_server.base_url,
                                          ICEGRT_TEST_SERVER_KEY=live_server.api_key))
    assert result.returncode == 0, f"the SDK's tests in its own venv:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    e2e = [f"PASSED tests/clients/test_e2e_sdk.py::{name}" for name in ("test_async_client", "test_ads_check_cli")]
    assert all(line in result.stdout for line in e2e), "the SDK's end-to-end tests must run against the server"
