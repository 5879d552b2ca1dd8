"""The user docs stay true: relative links resolve, and the configuration reference matches the settings."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from common.paths import REPO_ROOT

PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md")),
         REPO_ROOT / "results" / "README.md", REPO_ROOT / "loadtests" / "results" / "README.md"]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {slug(match) for match in re.findall(r"^#+ (.+)$", text, re.M)}


def relative_links(page: Path) -> list[str]:
    """Link targets outside code blocks that point into the repository (no scheme)."""
    text = FENCE.sub("", page.read_text())
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPO_ROOT)))
def test_relative_links_point_at_existing_files_and_headings(page):
    links = relative_links(page)
    for target in links:
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{page.relative_to(REPO_ROOT)}: {target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{page.relative_to(REPO_ROOT)}: no heading #{anchor} in {path or page.name}"


def test_the_readme_links_every_guide():
    linked = {(REPO_ROOT / target.partition("#")[0]).resolve() for target in relative_links(REPO_ROOT / "README.md")}
    assert set((REPO_ROOT / "docs").glob("*.md")) <= linked


def test_slug_follows_github():
    assert slug("Run directories: what they write, what they keep") == "run-directories-what-they-write-what-they-keep"
    assert slug("`vllm serve` flags that differ") == "vllm-serve-flags-that-differ"


def test_configuration_reference_is_up_to_date():
    """docs/configuration.md is what scripts/config_reference.py makes from server/settings.py now."""
    spec = importlib.util.spec_from_file_location("config_reference", REPO_ROOT / "scripts" / "config_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (REPO_ROOT / "docs" / "configuration.md").read_text() == module.render(), (
        "docs/configuration.md is out of date: run .venv/bin/python scripts/config_reference.py")


def test_configuration_reference_names_every_setting():
    from server.settings import ServerSettings

    text = (REPO_ROOT / "docs" / "configuration.md").read_text()
    for name in ServerSettings.model_fields:
        assert f"| `--{name.replace('_', '-')}`" in text and f"`ICEGRT_{name.upper()}`" in text, name
