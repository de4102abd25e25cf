"""The `rose` command does what it says (issue 17, item 2): one test per surprise a new user met."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rose.cli import main, typo_of_own_option
from rose.overrides import ENV
from rose.runs import find_runs, load_run

ARGV_SCRIPT = "import json, os, sys\njson.dump(sys.argv[1:], open(os.environ['REPORT'], 'w'))\n"

CAMPAIGN = textwrap.dedent(
    '''
    """A sequential AL campaign of executable tasks (so a dry run can plan them) on the local backend."""
    import asyncio
    import os
    import sys

    import rose
    from rose.al import SequentialActiveLearner
    from rose.metrics import MEAN_SQUARED_ERROR_MSE

    PY = sys.executable
    SLEEP = float(os.environ.get("TASK_SLEEP", "0"))

    async def main():
        async with rose.engine("local", max_workers=2) as engine:
            learner = SequentialActiveLearner(engine, name="surprise")
            learner.add_tracker(rose.tracker("progress", live=False))

            @learner.simulation_task
            async def simulate(*upstream):
                return [PY, "-c", f"import time; time.sleep({SLEEP}); print(1)"]

            @learner.training_task
            async def train(*upstream):
                return [PY, "-c", "print('model')"]

            @learner.active_learn_task
            async def select(*upstream):
                return [PY, "-c", "print('batch')"]

            @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=0.001)
            async def check(*upstream):
                return [PY, "-c", "print(0.5)"]

            async for state in learner.start(max_iter=int(os.environ.get("ITERS", "3"))):
                marker = os.environ.get("MARK")
                if marker:
                    open(marker, "a").write(f"{state.iteration}\\n")

    if __name__ == "__main__":
        asyncio.run(main())
    '''
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROSE_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("REPORT", str(tmp_path / "report.json"))
    for name in ENV.values():
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "argv.py").write_text(ARGV_SCRIPT)
    (tmp_path / "campaign.py").write_text(CAMPAIGN)
    return tmp_path


def script_argv(project: Path) -> list[str]:
    return json.loads((project / "report.json").read_text())


# -- rose run: whose option is it? ---------------------------------------------------------


def test_an_abbreviation_of_a_rose_option_stays_the_scripts(project):
    assert main(["run", "argv.py", "--ba", "4", "--max", "2", "--seed", "3"]) == 0
    # `--ba` is not `--backend`, `--max` is not `--max-iter`: argparse abbreviations are off
    assert script_argv(project) == ["--ba", "4", "--max", "2", "--seed", "3"]


@pytest.mark.parametrize(("typo", "meant"), [("--max-iters", "--max-iter"), ("--resmue", "--resume"),
                                             ("--dryrun", "--dry-run"), ("--max_iter=2", "--max-iter")])
def test_a_typo_of_a_rose_option_is_an_error_that_names_the_option_and_the_way_out(project, capsys, typo, meant):
    with pytest.raises(SystemExit) as stopped:
        main(["run", "argv.py", typo, "1"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"did you mean rose's {meant}?" in err
    assert f"pass it after `--`: rose run argv.py -- {typo} 1" in err
    assert err.startswith("usage: rose run ")
    assert not (project / "report.json").exists()  # the script never ran
    # after `--` it is the script's, as the message says
    assert main(["run", "argv.py", "--", typo, "1"]) == 0
    assert script_argv(project) == [typo, "1"]


def test_typo_detection_leaves_a_scripts_own_options_alone():
    own = ["--backend", "--tracker", "--max-iter", "--dry-run", "--resume", "--runs-dir", "--log-level"]
    for option in ("--seed", "--target", "--iterations", "--batch", "--no-mlflow", "--iters", "--ba", "-v", "4"):
        assert typo_of_own_option(option, own) is None, option


# -- rose runs / rose show ----------------------------------------------------------------


def write_run(root: Path, name: str, started: float, values=(0.5, 0.2), plot: bool = False) -> Path:
    from rose.journal import Journal

    run_dir = root / name
    journal = Journal(str(run_dir))
    journal.open()
    manifest = {"learner_type": "SequentialActiveLearner", "max_iter": 5,
                "criterion": {"metric_name": "mean_squared_error_mse", "threshold": 0.1, "operator": "<"}}
    journal.write("start", learner_id=None, manifest=manifest)
    for it, value in enumerate(values):
        journal.write("iteration", learner_id=None, state={"iteration": it, "metric_name": "mean_squared_error_mse",
                                                           "metric_value": value, "should_stop": False})
    journal.write("stop", learner_id=None, reason="max_iter_reached", final=None)
    journal.close()
    lines = (run_dir / "journal.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    for offset, record in enumerate(records):  # fix the start times: "latest" means started last
        record["time"] = started + offset
    (run_dir / "journal.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return run_dir


def test_show_with_several_matches_shows_the_latest_and_says_so(project, capsys):
    root = project / "runs"
    write_run(root, "20260101-000000-surrogate-demo", 100.0)
    write_run(root, "20260103-000000-surrogate-demo", 300.0, values=(0.9, 0.05))
    write_run(root, "20260102-000000-surrogate-demo", 200.0)
    assert main(["show", "surrogate-demo", "--no-plot"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("20260103-000000-surrogate-demo: SequentialActiveLearner")
    assert ("'surrogate-demo' matches 3 campaigns; showing the latest, 20260103-000000-surrogate-demo "
            "(the others: 20260101-000000-surrogate-demo, 20260102-000000-surrogate-demo)") in captured.err


def test_runs_keeps_the_full_name_on_a_narrow_terminal(project, capsys, monkeypatch):
    root = project / "runs"
    name = "20260101-000000-a-rather-long-campaign-name"
    write_run(root, name, 100.0)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)  # rich's table, as on a terminal
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    assert name in out  # whole, on one line: it is what `rose show` takes
    assert main(["show", name, "--no-plot"]) == 0


def test_plugins_verbose_outside_a_terminal_prints_readable_lines(capsys):
    assert main(["plugins", "-v"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 100
    # learners and support objects (experience banks, configs) are listed apart
    rl = out[out.index("\nrl "):]
    learners = next(line for line in rl.splitlines() if line.startswith("  learners: "))
    support = next(line for line in rl.splitlines() if line.startswith("  support: "))
    assert "SequentialReinforcementLearner" in learners and "ExperienceBank" not in learners
    assert "ExperienceBank" in support
    assert main(["plugins"]) == 0
    assert "support: " in capsys.readouterr().out


def test_show_never_overwrites_the_campaigns_own_plot(project, capsys):
    from rose.plotting import PLOT_NAME, SHOW_MAKER, learning_curve, plot_maker

    root = project / "runs"
    titled = write_run(root, "20260101-000000-titled", 100.0)
    learning_curve(titled, title="The campaign's own, titled plot")  # what the demo does
    before = (titled / PLOT_NAME).read_bytes()
    assert main(["show", "titled"]) == 0
    out = capsys.readouterr().out
    assert (titled / PLOT_NAME).read_bytes() == before
    assert "drawn by the campaign, left as it is" in out
    own = project / "mine.png"
    assert main(["show", "titled", "--plot", str(own)]) == 0
    assert plot_maker(own) == SHOW_MAKER

    plain = write_run(root, "20260102-000000-plain", 200.0)
    assert main(["show", "plain"]) == 0  # no plot yet: rose show draws one, and redraws its own later
    assert plot_maker(plain / PLOT_NAME) == SHOW_MAKER
    write_run(root, "20260102-000000-plain", 200.0, values=(0.5, 0.2, 0.01))
    first = (plain / PLOT_NAME).read_bytes()
    assert main(["show", "plain"]) == 0
    assert (plain / PLOT_NAME).read_bytes() != first
    capsys.readouterr()


# -- real campaigns through `rose run` ----------------------------------------------------


def test_progress_counts_like_the_summary_and_shows_the_effective_max_iter(project, capsys, monkeypatch):
    monkeypatch.setenv("ITERS", "16")
    assert main(["run", "campaign.py", "--max-iter", "2"]) == 0
    out = capsys.readouterr().out
    assert "at most 2 iterations" in out and "at most 16" not in out
    iterations = [line for line in out.splitlines() if "] iteration " in line]
    assert [line.split(" iteration ")[1].split(",")[0] for line in iterations] == ["1", "2"]
    (run_dir,) = find_runs(project / "runs")
    assert main(["show", "surprise", "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "learner: max_iter_reached after 2 iteration(s)" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("learner ") and "iteration" not in line]
    assert [row[1] for row in rows] == ["1", "2"]
    # resuming says where it resumes
    assert main(["run", "campaign.py", "--resume", "latest", "--max-iter", "3"]) == 0
    captured = capsys.readouterr()
    assert f"resuming at iteration 3 (2 already done, journaled in {run_dir})" in captured.out
    assert f"rose run: campaign {run_dir}  (rose show {os.path.basename(run_dir)})" in captured.err


def test_docs_spelling_of_the_progress_tracker_works_after_import_rose():
    import warnings

    import rose

    with warnings.catch_warnings():  # the alias warns (once per process) that it is deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        tracker = rose.progress.ProgressTracker()
    assert type(tracker) is type(rose.tracker("progress"))


def test_engine_folders_do_not_pile_up(project):
    for _ in range(2):
        assert main(["run", "campaign.py"]) == 0
    engines = project / "runs" / ".engines"
    assert not engines.exists() or list(engines.iterdir()) == []


def test_a_dry_run_says_where_its_report_is_and_is_marked_everywhere(project, capsys):
    assert main(["run", "campaign.py", "--dry-run"]) == 0
    captured = capsys.readouterr()
    (run_dir,) = find_runs(project / "runs")
    report = os.path.join(run_dir, "dry-run.txt")
    assert f"dry run, nothing was executed; report of the planned tasks: {report}" in captured.err
    assert "simulation" in Path(report).read_text()
    # the progress lines never show the placeholder criterion values as results
    assert "(dry run: no task runs, metric values are placeholders)" in captured.out
    iteration_lines = [line for line in captured.out.splitlines() if "] iteration " in line]
    assert iteration_lines and all("MSE (dry run)" in line for line in iteration_lines)
    assert load_run(run_dir).dry_run

    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith(os.path.basename(run_dir)))
    assert "max_iter_reached (dry run)" in line and "- (dry run: no task ran)" in line
    assert main(["runs", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)[0]
    assert listed["dry_run"] is True and listed["best_metric"] is None
    from rose.plotting import learning_curve

    drawn = learning_curve(run_dir, project / "dry.png")  # drawn on purpose: it says what it is
    from PIL import Image

    assert Image.open(drawn).info["Description"].startswith("DRY RUN, placeholder values")

    assert main(["show", "latest"]) == 0
    out = capsys.readouterr().out
    assert "DRY RUN: no task ran; the metric values are placeholders, not results" in out
    assert "no plot: a dry run has no real metric values" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("learner ") and "iteration" not in line]
    assert rows and all(row[2:4] == ["(dry", "run)"] for row in rows)
    assert not os.path.exists(os.path.join(run_dir, "learning_curve.png"))
    # a real run afterwards is not marked
    assert main(["run", "campaign.py", "--max-iter", "1"]) == 0
    assert not load_run(find_runs(project / "runs")[-1]).dry_run


@pytest.mark.parametrize(("sig", "code", "name"), [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM")])
def test_an_interrupted_run_prints_one_line_with_the_resume_command(project, sig, code, name):
    mark = project / "iterations.txt"
    env = {**os.environ, "ITERS": "50", "TASK_SLEEP": "0.3", "MARK": str(mark)}
    process = subprocess.Popen(
        [sys.executable, "-m", "rose", "run", "campaign.py", "--tracker", "console", "--", "--my-flag"],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (mark.exists() and mark.read_text().strip()):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the campaign never finished an iteration"
            time.sleep(0.05)
        process.send_signal(sig)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    (run_dir,) = find_runs(project / "runs")
    assert process.returncode == code, err
    assert "Traceback" not in err and "Traceback" not in out
    expected = (f"rose run: interrupted ({name}); resume with: rose run campaign.py --tracker console "
                f"--resume {os.path.basename(run_dir)} -- --my-flag")
    assert expected in err.splitlines()
    assert load_run(run_dir).status in ("stopped", "interrupted")
