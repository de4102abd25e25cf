"""Every example under examples/active_learn runs with one command (shortened max_iter)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "active_learn"


def run(script: Path, tmp_path: Path, *args: str) -> str:
    env = {**os.environ, "ROSE_RUNS_DIR": str(tmp_path / "runs")}
    done = subprocess.run(
        [sys.executable, str(script), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def campaigns(tmp_path: Path) -> list[Path]:
    return sorted(p for p in (tmp_path / "runs").iterdir() if p.is_dir() and not p.name.startswith("."))


def test_basic_example(tmp_path: Path) -> None:
    out = run(EXAMPLES / "basic" / "run_me.py", tmp_path, "--max-iter", "2")
    assert re.findall(r"^iteration (\d+): MSE", out, re.M) in (["0"], ["0", "1"])
    [campaign] = campaigns(tmp_path)
    assert (campaign / "labeled.npz").exists() and (campaign / "journal.jsonl").exists()


def test_parallel_example_is_the_reference_script(tmp_path: Path) -> None:
    """The tutorial script, with every max_iter set to 1 in a copy."""
    copy = tmp_path / "parallel"
    shutil.copytree(EXAMPLES / "parallel", copy, ignore=shutil.ignore_patterns("__pycache__"))
    source = (copy / "run_me.py").read_text()
    assert len(re.findall(r"max_iter=\d+", source)) == 4
    (copy / "run_me.py").write_text(re.sub(r"max_iter=\d+", "max_iter=1", source))
    out = run(copy / "run_me.py", tmp_path)
    for title in ("Approach 1: static", "Approach 2: per-iteration", "Approach 3: adaptive", "Full example"):
        assert title in out
    assert len(re.findall(r"^  learner \d: .* at iteration 0, MSE", out, re.M)) == 2 + 3 + 2 + 3
    runs = campaigns(tmp_path)
    assert len(runs) == 4, "each start() of the tutorial gets its own campaign directory"
    assert sorted(p.name for p in runs[1].iterdir() if p.is_dir()) == ["learner-0", "learner-1", "learner-2"]
    assert (runs[1] / "learner-2" / "model.npz").exists()


def test_selector_example(tmp_path: Path) -> None:
    out = run(EXAMPLES / "selector" / "run_me.py", tmp_path, "--max-iter", "1")
    match = re.search(r"^best algorithm: (\w+) \(accuracy", out, re.M)
    assert match and match.group(1) in ("random", "margin", "diverse_margin")
    [campaign] = campaigns(tmp_path)
    assert {p.name for p in campaign.iterdir() if p.is_dir()} == {
        "algorithm-random", "algorithm-margin", "algorithm-diverse_margin"
    }


@pytest.mark.timeout(300)
def test_uq_example(tmp_path: Path) -> None:
    out = run(EXAMPLES / "uq" / "run_me.py", tmp_path, "--max-iter", "1", "--num-predictions", "2")
    assert re.findall(r"^iteration (\d+): mean predictive variance", out, re.M) == ["0"]
    [campaign] = campaigns(tmp_path)
    assert sorted(p.name for p in campaign.glob("pred_*.npy")) == [f"pred_{m}_{j}.npy" for m in ("poly", "rbf") for j in range(2)]
