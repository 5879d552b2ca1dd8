"""promtool checks the Prometheus config and alert rules, and runs the rules' unit tests."""

from __future__ import annotations

import subprocess

from tests.deploy.conftest import PROMETHEUS_DIR


def promtool_run(promtool: str, *args: str) -> subprocess.CompletedProcess:
    """Run from deploy/prometheus, as docs/deploy.md's commands do (rule files are relative to it)."""
    return subprocess.run([promtool, *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=120)


def test_config_is_valid_and_finds_the_rules(promtool):
    run = promtool_run(promtool, "check", "config", "prometheus.yml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 rule files found" in run.stdout


def test_rules_are_valid(promtool):
    run = promtool_run(promtool, "check", "rules", "alerts.yml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS: 6 rules found" in run.stdout


def test_rules_unit_tests_pass(promtool):
    run = promtool_run(promtool, "test", "rules", "alerts_test.yml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout


def test_rules_unit_tests_can_fail(promtool, tmp_path):
    """A rule with a wrong threshold must fail its unit test (the tests really check the rules)."""
    rules = (PROMETHEUS_DIR / "alerts.yml").read_text()
    assert rules.count("> 0.05") == 1
    (tmp_path / "alerts.yml").write_text(rules.replace("> 0.05", "> 0.5"))
    (tmp_path / "alerts_test.yml").write_text((PROMETHEUS_DIR / "alerts_test.yml").read_text())
    run = subprocess.run([promtool, "test", "rules", "alerts_test.yml"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode != 0
    assert "IcegrtHighErrorRate" in run.stdout + run.stderr
