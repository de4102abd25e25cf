"""docs/running-on-hpc.md: its code blocks compile or parse, and its complete script compiles and runs dry."""

from __future__ import annotations

import os
import py_compile
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from rose.cli import build_parser

REPO = Path(__file__).resolve().parents[3]
PAGE = REPO / "docs" / "running-on-hpc.md"
SCRIPT = REPO / "examples" / "active_learn" / "basic" / "run_hpc.py"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), flags=re.S)


def test_python_blocks_compile() -> None:
    assert blocks("python")
    for number, block in enumerate(blocks("python")):
        compile(block, f"{PAGE.name} block {number}", "exec")


def test_commands_are_valid() -> None:
    seen = set()
    for block in blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line)
            if not words:
                continue
            seen.add(words[0])
            if words[0] == "rose":
                args, _ = build_parser().parse_known_args(words[1:])
                assert args.backend == "radical" and all("=" in option for option in args.backend_option)
            else:
                assert words[0] == "python" and (REPO / words[1]).is_file(), words
    assert seen == {"rose", "python"}


def test_the_complete_script_compiles_and_runs_dry(tmp_path: Path) -> None:
    """The real run (a pilot here) is what test_radical_pilot does; this checks the script's own logic."""
    py_compile.compile(str(SCRIPT), cfile=str(tmp_path / "run_hpc.pyc"), doraise=True)
    pytest.importorskip("numpy", reason="the example's module `problem` needs numpy")
    pytest.importorskip("rose_plugin_dryrun", reason="the dry run needs rose-plugin-dryrun")
    env = {**os.environ, "ROSE_RUNS_DIR": str(tmp_path / "runs")}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "rose"), "run", str(SCRIPT), "--dry-run", "--", "--max-iter", "2",
         "--resource", "tacc.frontera", "--project", "ABC123", "--train-cores", "2"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "iteration 1: MSE" in result.stdout
