"""Installing from a checkout, as README.md says (the packages are not on a registry yet; issue 26, 6).

Runs README's "core plus a plugin" command in a fresh virtual environment (dependencies from the
machine's package index, through uv, ~20 s) and checks that the plugins are discovered and a
learner imports.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_command() -> list[str]:
    text = (ROOT / "README.md").read_text()
    found = re.search(r"^pip install (-e rose_core -e plugins/\S+.*?)\s+#", text, re.M)
    assert found, "README.md lost the command that installs the core and a plugin from a checkout"
    return shlex.split(found.group(1))


def test_readme_installs_the_core_and_a_plugin_into_a_fresh_environment(tmp_path: Path) -> None:
    uv = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    if not Path(uv).exists():
        pytest.skip("uv is not installed (run `make setup`): cannot build a fresh environment quickly")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "ROSE_STRICT_PLUGINS")}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, env=env, timeout=60)
    python = str(venv / "bin" / "python")
    args = readme_command()
    assert args[:4] == ["-e", "rose_core", "-e", "plugins/al"]
    done = subprocess.run([uv, "pip", "install", "--quiet", "--python", python, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    listed = subprocess.run([str(venv / "bin" / "rose"), "plugins"], env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines() if line.strip()}
    assert "rose-plugin-al" in rows["al"] and "active" in rows["al"], listed.stdout
    assert "rose-plugin-local" in rows["local"] and "active" in rows["local"], listed.stdout
    imported = subprocess.run([python, "-c", "from rose.al import SequentialActiveLearner; print(SequentialActiveLearner)"],
                              env=env, capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0 and "SequentialActiveLearner" in imported.stdout, imported.stderr
