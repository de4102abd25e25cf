"""Shared helpers for the core tests: fake plugin distributions on a temporary path."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def make_fake_distribution(root: Path, dist: str, entry_point: str, module: str, source: str, version: str = "1.2.3") -> None:
    """Write an installed-looking distribution (dist-info + module) under ``root``."""
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[rose.plugins]\n{entry_point} = {module}\n")
    (root / f"{module}.py").write_text(textwrap.dedent(source))


def run_rose(args: list[str], extra_path: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m rose ...`` in a fresh process with ``extra_path`` on PYTHONPATH."""
    environment = {k: v for k, v in os.environ.items() if k not in ("ROSE_STRICT_PLUGINS", "ROSE_DISABLE_PLUGINS")}
    environment.update(env)
    if extra_path is not None:
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), environment.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "rose", *args], capture_output=True, text=True, env=environment, timeout=120)


@pytest.fixture
def fake_site(tmp_path: Path) -> Path:
    """A directory for fake distributions."""
    site = tmp_path / "site"
    site.mkdir()
    return site
