"""`rose runs` and `rose show`: campaigns read back from their journals, tables and plots."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rose.cli import main
from rose.journal import Journal
from rose.runs import load_run, match_run, resolve_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


async def run_small_campaign(engine, name: str = "cli-test", threshold: float = 0.05, max_iter: int = 8, trackers=()):
    """A real SequentialActiveLearner campaign: labeled_count grows by 5, error = 1/labeled."""
    from rose.al import SequentialActiveLearner
    from rose.metrics import MEAN_SQUARED_ERROR_MSE

    learner = SequentialActiveLearner(engine, name=name)
    for tracker in trackers:
        learner.add_tracker(tracker)
    labeled = {"n": 0}

    @learner.simulation_task(as_executable=False)
    async def simulate(*upstream):
        labeled["n"] += 5
        return {"labeled_count": labeled["n"]}

    @learner.training_task(as_executable=False)
    async def train(*upstream):
        return "model"

    @learner.active_learn_task(as_executable=False)
    async def select(*upstream):
        return {"learner_label": "only"}

    @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=threshold, as_executable=False)
    async def check(*args):
        return 1.0 / labeled["n"]

    states = [state async for state in learner.start(max_iter=max_iter)]
    return learner, states


def write_parallel_journals(run_dir: Path, *, finished: bool = True) -> None:
    """The shape ParallelActiveLearner writes: the parent's journal plus learner-<i>/journal.jsonl."""
    manifest = {"learner_type": "ParallelActiveLearner", "parallel_count": 2, "max_iter": 3,
                "criterion": {"metric_name": "mean_squared_error_mse", "threshold": 0.1, "operator": "<"}}
    parent = Journal(str(run_dir))
    parent.open()
    parent.write("start", learner_id=None, manifest=manifest)
    subs = {}
    for i in (0, 1):
        subs[i] = Journal(str(run_dir / f"learner-{i}"))
        subs[i].open()
        subs[i].write("start", learner_id=i, manifest=manifest)
    values = {0: [0.5, 0.2, 0.05], 1: [0.6, 0.4, 0.3]}
    for it in range(3):
        for i in (0, 1):
            if i == 0 and it == 2 and not finished:
                continue
            state = {"iteration": it, "metric_name": "mean_squared_error_mse", "metric_value": values[i][it],
                     "metric_threshold": 0.1, "should_stop": values[i][it] < 0.1, "learner_id": i,
                     "labeled_count": 10 + 10 * it, "state": {"labeled_count": 10 + 10 * it}}
            subs[i].write("task", learner_id=i, iteration=it, task="training", kind="training", attempt=1,
                          status="done", seconds=0.25)
            subs[i].write("iteration", learner_id=i, state=state)
            parent.write("iteration", learner_id=None, state=state)
    if finished:
        subs[0].write("stop", learner_id=0, reason="criterion_met", final=None)
        subs[1].write("stop", learner_id=1, reason="max_iter_reached", final=None)
        parent.write("stop", learner_id=None, reason="max_iter_reached", final=None)
    for journal in (parent, *subs.values()):
        journal.close()


def png_info(path: str):
    from PIL import Image

    with open(path, "rb") as handle:
        assert handle.read(8) == PNG_SIGNATURE
    image = Image.open(path)
    image.load()
    return image


def count_color(image, hex_color: str, tolerance: int = 40) -> int:
    """Pixels close to ``hex_color`` (a drawn line of that colour covers hundreds)."""
    import numpy as np

    target = np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)])
    pixels = np.asarray(image.convert("RGB"), dtype=int)
    return int((np.abs(pixels - target).sum(axis=2) < tolerance).sum())


async def test_runs_and_show_read_a_real_campaign(rose_engine, tmp_path, capsys):
    learner, states = await run_small_campaign(rose_engine)
    assert states[-1].should_stop
    root = tmp_path / "runs"

    assert main(["runs", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    name = os.path.basename(learner.run_dir)
    line = next(line for line in out.splitlines() if line.startswith(name))
    assert "SequentialActiveLearner" in line and "criterion_met" in line
    assert f"{min(s.metric_value for s in states):.4g} mean_squared_error_mse" in line

    assert main(["runs", "--root", str(root), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in listed] == [name]
    assert listed[0]["status"] == "criterion_met"
    assert listed[0]["iterations"] == len(states)
    assert listed[0]["best_metric"] == pytest.approx(min(s.metric_value for s in states))

    # by unique part of the name, with the runs root from ROSE_RUNS_DIR (set by the fixture)
    assert main(["show", "cli-test"]) == 0
    out = capsys.readouterr().out
    assert f"{name}: SequentialActiveLearner, stop when mean_squared_error_mse < 0.05" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("only ")]
    assert [int(r[1]) for r in rows] == [s.iteration + 1 for s in states]  # counted from 1, like the summary
    assert f"only: criterion_met after {len(states)} iteration(s)" in out
    assert [float(r[2]) for r in rows] == pytest.approx([s.metric_value for s in states], rel=1e-3)
    assert [int(r[3]) for r in rows] == [s.labeled_count for s in states]
    assert rows[-1][-1] == "yes"
    plot = os.path.join(learner.run_dir, "learning_curve.png")
    assert f"learning curve: {plot}" in out
    image = png_info(plot)
    assert image.size[0] > 400 and image.size[1] > 300
    assert image.info["Description"].startswith("learning curves: only")
    assert "threshold: < 0.05" in image.info["Description"]
    assert count_color(image, "#0072B2") > 200  # the learner's line


def test_show_merges_parallel_journals_and_plots_one_line_per_learner(tmp_path, capsys):
    run_dir = tmp_path / "runs" / "20260101-000000-parallel"
    write_parallel_journals(run_dir)
    run = load_run(run_dir)
    assert run.learner_type == "ParallelActiveLearner"
    assert sorted(run.learners) == [0, 1]
    assert [len(h.iterations) for h in run.ordered_learners()] == [3, 3]  # parent + own journal, no duplicates
    assert run.learners[0].status == "criterion_met"
    assert run.learners[1].status == "max_iter_reached"
    assert run.status == "max_iter_reached"
    assert run.best_metric() == pytest.approx(0.05)
    assert run.learners[0].x_values() == ("labeled_count", [10.0, 20.0, 30.0])
    assert run.learners[0].task_seconds(1) == pytest.approx(0.25)

    plot = tmp_path / "curve.png"
    assert main(["show", str(run_dir), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "learner 0: criterion_met after 3 iteration(s)" in out
    assert "learner 1: max_iter_reached after 3 iteration(s)" in out
    image = png_info(str(plot))
    assert image.info["Description"] == "learning curves: learner 0; learner 1 | threshold: < 0.1"
    assert count_color(image, "#0072B2") > 200 and count_color(image, "#D55E00") > 200  # two lines


def test_unfinished_and_truncated_runs_are_listed(tmp_path, capsys):
    root = tmp_path / "runs"
    write_parallel_journals(root / "20260101-000000-crashed", finished=False)
    with open(root / "20260101-000000-crashed" / "journal.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"type": "iteration", "learner_id": nu')  # cut off mid-write
    assert main(["runs", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "20260101-000000-crashed" in out and "unfinished" in out
    run = load_run(root / "20260101-000000-crashed")
    assert [len(h.iterations) for h in run.ordered_learners()] == [2, 3]


def test_resolve_run_names_what_exists(tmp_path):
    root = tmp_path / "runs"
    for name in ("20260101-000000-alpha", "20260102-000000-beta"):
        write_parallel_journals(root / name)
    assert resolve_run("alpha", root).endswith("20260101-000000-alpha")
    assert resolve_run("latest", root).endswith("20260102-000000-beta")  # started last
    # several match: the latest one (match_run also lists them all, for `rose show` to say so)
    assert resolve_run("2026010", root).endswith("20260102-000000-beta")
    path, matches = match_run("2026010", root)
    assert [os.path.basename(m) for m in matches] == ["20260101-000000-alpha", "20260102-000000-beta"]
    with pytest.raises(FileNotFoundError, match="no campaign 'gamma'.*beta"):
        resolve_run("gamma", root)


def test_show_unknown_run_is_a_clear_error(tmp_path, capsys):
    assert main(["show", "nothing-here", "--root", str(tmp_path)]) == 2
    assert "no campaigns under" in capsys.readouterr().err


def test_plot_without_matplotlib_names_the_package(tmp_path, monkeypatch, capsys):
    import builtins

    run_dir = tmp_path / "20260101-000000-parallel"
    write_parallel_journals(run_dir)
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):  # a missing optional dependency cannot be produced otherwise
        if name.startswith("matplotlib"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert main(["show", str(run_dir)]) == 0
    captured = capsys.readouterr()
    assert "learner 0" in captured.out
    assert "pip install matplotlib" in captured.err
    assert not (run_dir / "learning_curve.png").exists()


def test_show_prints_the_last_iterations_of_a_long_campaign(tmp_path, capsys):
    from rose.journal import Journal

    run_dir = tmp_path / "runs" / "20260101-000000-long"
    journal = Journal(str(run_dir))
    journal.open()
    journal.write("start", learner_id=None, manifest={"learner_type": "SequentialActiveLearner"})
    for i in range(120):
        journal.write("iteration", learner_id=None, state={"iteration": i, "metric_value": 1.0 / (i + 1)})
    journal.close()
    assert main(["show", str(run_dir), "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "(70 earlier iteration(s) not shown: --last 0 shows every one)" in out
    rows = [line for line in out.splitlines() if line.startswith("learner ") and "iteration" not in line]
    assert len(rows) == 50 and rows[0].split()[1] == "71" and rows[-1].split()[1] == "120"
    assert main(["show", str(run_dir), "--no-plot", "--last", "0"]) == 0
    assert "not shown" not in capsys.readouterr().out


def test_a_long_curve_is_drawn_from_the_points_that_decide_its_look() -> None:
    """250,000 points become a few thousand: per column the first, lowest, highest and last
    point, in order, so spikes and the ends survive; short curves are left alone."""
    import random

    from rose.plotting import _drawn

    rng = random.Random(7)
    xs = [float(i) for i in range(250_000)]
    ys = [1.0 / (1 + i) + rng.random() * 1e-3 for i in range(250_000)]
    ys[123_457] = 5.0  # one spike
    drawn_x, drawn_y = _drawn(xs, ys)
    assert len(drawn_x) <= 8_000
    assert drawn_x == sorted(drawn_x) and (drawn_x[0], drawn_x[-1]) == (xs[0], xs[-1])
    assert max(drawn_y) == 5.0 and min(drawn_y) == min(ys)
    assert all(ys[int(x)] == y for x, y in zip(drawn_x, drawn_y))
    assert _drawn(xs[:500], ys[:500]) == (xs[:500], ys[:500])
