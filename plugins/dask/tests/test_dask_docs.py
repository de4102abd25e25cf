"""docs/running-on-dask.md: its code blocks compile or parse, and its complete script runs."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from rose.cli import build_parser

REPO = Path(__file__).resolve().parents[3]
PAGE = REPO / "docs" / "running-on-dask.md"
SCRIPT = REPO / "examples" / "active_learn" / "basic" / "run_dask.py"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), flags=re.S)


def commands() -> list[list[str]]:
    found = []
    for block in blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line)
            while words and "=" in words[0] and not words[0].startswith("-"):
                words = words[1:]  # VAR=value prefixes
            if words:
                found.append(words)
    return found


def test_python_blocks_compile() -> None:
    assert blocks("python")
    for number, block in enumerate(blocks("python")):
        compile(block, f"{PAGE.name} block {number}", "exec")


def test_commands_are_valid() -> None:
    seen = set()
    for words in commands():
        seen.add(words[0])
        if words[0] == "rose":
            args = build_parser().parse_known_args(words[1:])[0]
            assert Path(REPO / args.script).suffix == ".py"
        elif words[0] == "python":
            assert (REPO / words[1]).is_file(), words
        else:
            assert words[0] == "dask" and words[1] in ("scheduler", "worker"), words
    assert {"rose", "python", "dask"} <= seen


def test_the_complete_script_runs_on_a_local_cluster(tmp_path: Path) -> None:
    pytest.importorskip("numpy", reason="the example's task scripts need numpy")
    env = {**os.environ, "ROSE_RUNS_DIR": str(tmp_path / "runs")}
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    result = subprocess.run([sys.executable, str(SCRIPT), "--max-iter", "2"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "iteration 1: MSE" in result.stdout
    [campaign] = [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")]
    assert {"labeled.npz", "ensemble.npy", "selected.npz"} <= {p.name for p in campaign.iterdir()}
    assert not [p for p in tmp_path.iterdir() if p.name != "runs"]


@pytest.mark.parametrize("name", ["running-on-dask.md", "running-on-hpc.md"])
def test_pages_are_in_the_site_navigation(name: str) -> None:
    assert name in (REPO / "mkdocs.yml").read_text()
