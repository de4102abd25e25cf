"""What a campaign writes (issue 27, items 7, 8 and 10): each value once, a bounded failure
message with the whole stderr in a file, private modes. Real campaigns in subprocesses."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from rose.journal import CURVE_NAME, JOURNAL_NAME, SUMMARY_NAME, load_resume_point, read_journal

HERE = Path(__file__).parent
MB = 1024 * 1024


def run_campaign(tmp_path: Path, *args: str, env: dict[str, str] | None = None,
                 **popen: object) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "ROSE_RUNS_DIR": str(tmp_path / "runs"), **(env or {})}
    if "ROSE_RUNS_MODE" not in (env or {}):
        environment.pop("ROSE_RUNS_MODE", None)
    return subprocess.run([sys.executable, str(HERE / "io_campaign.py"), *args], capture_output=True, text=True,
                          env=environment, cwd=tmp_path, timeout=180, **popen)  # type: ignore[call-overload]


def run_dir_of(result: subprocess.CompletedProcess[str]) -> Path:
    return Path(result.stdout.strip().splitlines()[-1])


def sizes(directory: Path) -> dict[str, int]:
    return {str(path.relative_to(directory)): path.stat().st_size for path in directory.rglob("*") if path.is_file()}


# -- item 7: one copy of each value on disk ------------------------------------------------


def test_a_large_state_value_is_written_once_and_a_resume_gets_it_back(tmp_path: Path) -> None:
    first = run_campaign(tmp_path, "--iterations", "3", "--value-mb", "1")
    assert first.returncode == 0, first.stderr
    run_dir = run_dir_of(first)
    written = sizes(run_dir)
    total = sum(written.values())
    # three iterations of one 1 MB value each: 3 MB of results, the records around them small
    # (before: each value 5 times, in the journal line twice, the summary twice and in results/)
    assert 3 * MB <= total < 3 * MB + 100_000, written
    for name in (JOURNAL_NAME, SUMMARY_NAME, CURVE_NAME):
        assert written[name] < 50_000, (name, written[name])
    results = [name for name in written if name.startswith("results/")]
    assert len(results) == 3, results
    summary = [json.loads(line) for line in (run_dir / SUMMARY_NAME).read_text().splitlines()]
    iterations = [r for r in summary if r["type"] == "iteration"]
    assert [r["state"]["labeled_count"] for r in iterations] == [1, 2, 3]  # rose show reads it at the top
    assert all("carry" not in r and "blob" not in r["state"] for r in iterations)
    # the resume point hands the last state back in full
    point = load_resume_point(str(run_dir))
    assert point.states[-1]["state"]["blob"] == "3" * MB
    # rose show still reads the campaign
    shown = subprocess.run([sys.executable, "-m", "rose", "show", str(run_dir), "--no-plot", "--json"],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    again = run_campaign(tmp_path, "--iterations", "5", "--value-mb", "1", "--resume", str(run_dir))
    assert again.returncode == 0, again.stderr
    assert "iteration 3 blob" in again.stdout and "iteration 0 blob" not in again.stdout
    states = [r["state"]["iteration"] for r in read_journal(str(run_dir)) if r["type"] == "iteration"]
    assert states == [0, 1, 2, 3, 4]


# -- item 8: bounded console output ----------------------------------------------------------


def test_a_task_failing_with_megabytes_of_stderr_prints_its_end_and_the_path_of_the_whole(tmp_path: Path) -> None:
    result = run_campaign(tmp_path, "--iterations", "3", "--value-mb", "0", "--fail-lines", "200000")
    assert result.returncode != 0
    assert "TaskFailedError" in result.stderr and "exit code: 3" in result.stderr
    assert "LAST LINE OF STDERR" in result.stderr and "line 199999 of the noise" in result.stderr
    assert "line 199900 of the noise" not in result.stderr  # only the last 40 lines
    assert len(result.stderr) < 20_000, len(result.stderr)  # the task wrote 5 MB of stderr
    run_dir = run_dir_of(result)
    kept = list((run_dir / "failed").glob("active_learn-iteration-1-*.stderr"))
    assert len(kept) == 1 and str(kept[0]) in result.stderr
    whole = kept[0].read_text()
    assert whole.startswith("line 0 of the noise\n") and whole.rstrip().endswith("LAST LINE OF STDERR")
    assert len(whole.splitlines()) == 200_001


# -- item 10: private by default -------------------------------------------------------------


def modes(run_dir: Path) -> dict[str, int]:
    return {str(path.relative_to(run_dir.parent)): stat.S_IMODE(path.stat().st_mode)
            for path in [run_dir, *run_dir.rglob("*")]}


def test_campaign_directories_are_private_whatever_the_umask(tmp_path: Path) -> None:
    result = run_campaign(tmp_path, "--iterations", "2", "--value-mb", "0.1", "--fail-lines", "5",
                          preexec_fn=lambda: os.umask(0o022))
    assert "TaskFailedError" in result.stderr
    run_dir = run_dir_of(result)
    found = modes(run_dir)
    assert any(name.endswith(".stderr") for name in found) and any("/results/" in name for name in found)
    for name, mode in found.items():
        expected = 0o700 if (run_dir.parent / name).is_dir() else 0o600
        assert mode == expected, (name, oct(mode))
    assert stat.S_IMODE((tmp_path / "runs").stat().st_mode) == 0o700


def test_rose_runs_mode_shared_follows_the_umask(tmp_path: Path) -> None:
    result = run_campaign(tmp_path, "--iterations", "1", "--value-mb", "0.1", env={"ROSE_RUNS_MODE": "shared"},
                          preexec_fn=lambda: os.umask(0o022))
    assert result.returncode == 0, result.stderr
    run_dir = run_dir_of(result)
    for name, mode in modes(run_dir).items():
        expected = 0o755 if (run_dir.parent / name).is_dir() else 0o644
        assert mode == expected, (name, oct(mode))


def test_an_unknown_rose_runs_mode_is_an_error_naming_it(tmp_path: Path) -> None:
    result = run_campaign(tmp_path, "--iterations", "1", env={"ROSE_RUNS_MODE": "public"})
    assert result.returncode != 0
    assert "ROSE_RUNS_MODE='public' is not a mode; use one of private, shared" in result.stderr
