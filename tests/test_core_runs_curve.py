"""The curve (``curve.jsonl``): `rose show` and `rose runs` read a campaign's iterations from
short rows, and print exactly what the full iteration records give; run directories written
before curves existed still list, show and resume (their curve is written on resume)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from rose import journal as journal_module
from rose import journal_read
from rose.cli import main
from rose.journal import CURVE_NAME, JOURNAL_NAME, SUMMARY_NAME, Journal, read_curve, read_journal
from rose.runs import load_run

MANIFEST = {"learner_type": "ParallelActiveLearner", "max_iter": 6,
            "criterion": {"metric_name": "mean_squared_error_mse", "threshold": 0.1, "operator": "<"}}


def state(learner_id, iteration, value, *, label=None, labeled=True):
    """An iteration state as IterationState.to_dict writes it (a label inside ``state``)."""
    inner = {"labeled_count": 10 * (iteration + 1)} if labeled else {}
    if label:
        inner["learner_label"] = label
    return {"iteration": iteration, "metric_name": "mean_squared_error_mse", "metric_value": value,
            "metric_threshold": 0.1, "metric_history": None, "should_stop": value < 0.1, "learner_id": learner_id,
            "current_config": None, "labeled_count": 10 * (iteration + 1) if labeled else None, "state": inner}


def write_campaign(run_dir: Path) -> None:
    """A parallel campaign with the awkward cases: an iteration recorded twice (a killed
    campaign ran it again), iterations out of order, a label, a NaN metric, task seconds."""
    parent = Journal(str(run_dir))
    parent.open()
    parent.write("start", learner_id=None, manifest=MANIFEST)
    values = {0: [0.5, 0.3, float("nan"), 0.05], 1: [0.9, 0.6, 0.4, 0.2]}
    for learner_id in (0, 1):
        child = Journal(str(run_dir / f"learner-{learner_id}"))
        child.open()
        child.write("start", learner_id=learner_id, manifest=MANIFEST)
        order = [0, 1, 3, 2] if learner_id == 1 else [0, 1, 1, 2, 3]
        for iteration in order:
            child.write("task", grouped=True, learner_id=learner_id, iteration=iteration, task="training",
                        kind="training", attempt=1, status="done", seconds=0.25 * (iteration + 1), result=None)
            record = state(learner_id, iteration, values[learner_id][iteration],
                           label="wide" if learner_id == 1 else None, labeled=learner_id == 0)
            child.write("iteration", learner_id=learner_id, state=record)
            parent.write("iteration", learner_id=None, state=record)
        if learner_id == 0:
            child.write("stop", learner_id=0, reason="criterion_met", final=None)
        child.close()
    parent.write("stop", learner_id=None, reason="max_iter_reached", final=None)
    parent.close()


def cli(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def outputs(capsys, root: Path, run_dir: Path) -> list[str]:
    return [
        cli(capsys, "show", str(run_dir), "--no-plot", "--last", "0"),
        cli(capsys, "show", str(run_dir), "--no-plot", "--last", "2"),
        cli(capsys, "show", str(run_dir), "--json", "--no-plot"),
        cli(capsys, "runs", "--root", str(root)),
        cli(capsys, "runs", "--root", str(root), "--json"),
    ]


def summary_of(run) -> list[tuple]:
    return [(h.learner_id, h.label, h.status, [s["iteration"] for s in h.iterations], h.metric_values(),
             h.x_values(), [h.task_seconds(s["iteration"]) for s in h.iterations]) for h in run.ordered_learners()]


def test_show_and_runs_print_the_same_from_the_curve_as_from_the_full_records(tmp_path, capsys):
    root = tmp_path / "runs"
    run_dir = root / "20260101-000000-curve"
    write_campaign(run_dir)
    assert (run_dir / CURVE_NAME).is_file() and (run_dir / "learner-1" / CURVE_NAME).is_file()

    quick, full = load_run(run_dir, full=False), load_run(run_dir)
    assert summary_of(quick) == summary_of(full)
    for name in ("status", "started", "ended", "metric_name", "threshold", "operator", "learner_type", "iterations"):
        assert getattr(quick, name) == getattr(full, name), name
    assert quick.best_metric() == pytest.approx(0.05)
    learner_1 = quick.learners[1]
    assert [s["iteration"] for s in learner_1.iterations] == [0, 1, 2, 3]  # sorted, as from the full records
    assert learner_1.label == "wide" and learner_1.x_values()[0] == "iteration"
    assert len(quick.learners[0].iterations) == 4  # iteration 1 recorded twice, shown once

    with_curve = outputs(capsys, root, run_dir)
    assert "learner 0: criterion_met after 4 iteration(s)" in with_curve[0]
    assert "wide: max_iter_reached after 4 iteration(s)" in with_curve[0]
    assert "(4 earlier iteration(s) not shown" in with_curve[1]

    # the same directory as a campaign of ROSE 0.5 left it: no curves
    for curve in run_dir.rglob(CURVE_NAME):
        curve.unlink()
    assert outputs(capsys, root, run_dir) == with_curve


async def test_show_and_plot_agree_with_the_full_records_on_a_real_campaign(rose_engine, tmp_path, capsys):
    from rose.al import SequentialActiveLearner
    from rose.metrics import MEAN_SQUARED_ERROR_MSE

    async def campaign(max_iter, resume=None):
        learner = SequentialActiveLearner(rose_engine, name="curve-real")
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
            return {"learner_label": "real"}

        @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=0.001, as_executable=False)
        async def check(*args):
            return 1.0 / labeled["n"]

        states = [s async for s in learner.start(max_iter=max_iter, resume=resume)]
        return learner, states

    learner, first = await campaign(3)
    run_dir = Path(learner.run_dir)
    # as a campaign of ROSE 0.5 left it: no curve; it lists, shows and resumes all the same
    (run_dir / CURVE_NAME).unlink()
    before = cli(capsys, "show", str(run_dir), "--no-plot")
    assert "real: max_iter_reached after 3 iteration(s)" in before
    assert "curve-real" in cli(capsys, "runs")

    resumed, later = await campaign(5, resume=str(run_dir))
    assert resumed.run_dir == str(run_dir) and len(later) == 2
    rows = [r for r in read_curve(str(run_dir)) if isinstance(r, list)]
    assert [r[3] for r in rows] == [0, 1, 2, 3, 4]  # the first run's iterations written in on resume
    quick, full = load_run(run_dir, full=False), load_run(run_dir)
    assert summary_of(quick) == summary_of(full)
    assert quick.status == full.status == "max_iter_reached"
    out = cli(capsys, "show", str(run_dir), "--plot", str(tmp_path / "curve.png"))
    assert "real: max_iter_reached after 5 iteration(s)" in out
    assert (tmp_path / "curve.png").read_bytes().startswith(b"\x89PNG")


def test_a_damaged_curve_line_is_skipped_and_a_cut_off_one_removed(tmp_path, capsys, caplog):
    root = tmp_path / "runs"
    run_dir = root / "20260101-000000-damaged"
    write_campaign(run_dir)
    curve = run_dir / "learner-1" / CURVE_NAME
    lines = curve.read_text().splitlines(keepends=True)
    lines.insert(2, "garbage\n")
    lines.insert(3, "[1, 2]\n")  # a row of another length
    curve.write_text("".join(lines) + '[1796000000.5, 1, 0.1, 4, "mean_sq')  # killed mid-write
    with caplog.at_level(logging.WARNING):
        out = cli(capsys, "show", str(run_dir), "--no-plot")
    assert "wide: max_iter_reached after 4 iteration(s)" in out
    assert f"skipping damaged line 3 of {curve}" in caplog.text
    assert "with 2 fields (expected 10" in caplog.text
    assert "20260101-000000-damaged" in cli(capsys, "runs", "--root", str(root))

    # the next campaign on the directory (a resume) removes the cut-off row before appending
    journal = Journal(str(run_dir / "learner-1"))
    journal.open()
    journal.close()
    assert curve.read_text().endswith("\n")


def test_read_journal_in_blocks_keeps_every_line_and_names_the_damaged_one(tmp_path, monkeypatch, caplog):
    path = tmp_path / JOURNAL_NAME
    lines = [json.dumps({"type": "task", "n": n, "text": "x" * (n % 7) * 30}) for n in range(200)]
    lines[57] = '{"type": "task", "n": 5'  # damaged
    lines[90] = ""  # blank: skipped quietly
    lines[120] = json.dumps({"type": "task", "note": "caf\u00e9 \u2713"}, ensure_ascii=False)  # UTF-8
    lines[150] = json.dumps({"type": "task", "long": "y" * 1000})  # over ten blocks
    path.write_text("\n".join(lines))  # no newline after the last line
    path.write_bytes(path.read_bytes() + b'\n{"type": "task", "bad": "\xff"}\n')  # not UTF-8: read with U+FFFD
    monkeypatch.setattr(journal_read, "READ_BLOCK", 97)  # lines across block ends, longer than a block
    with caplog.at_level(logging.WARNING):
        records = list(read_journal(str(path)))
    expected = [json.loads(line) for n, line in enumerate(lines) if n not in (57, 90)]
    assert records[:-1] == expected
    assert records[-1] == {"type": "task", "bad": "\ufffd"}
    assert f"skipping damaged line 58 of {path}" in caplog.text
    assert caplog.text.count("skipping") == 1


def test_the_curve_holds_the_summary_with_short_iteration_rows(tmp_path):
    run_dir = tmp_path / "run"
    write_campaign(run_dir)
    summary = list(read_journal(str(run_dir / "learner-1" / SUMMARY_NAME)))
    curve = list(read_curve(str(run_dir / "learner-1")))
    assert len(curve) == len(summary)
    for record, line in zip(summary, curve):
        if record["type"] == "iteration":
            assert line == journal_module.curve_row(record)
            assert dict(zip(journal_module.CURVE_FIELDS, line))["learner_label"] == "wide"
        else:
            assert line == record
    assert os.path.getsize(run_dir / CURVE_NAME) < os.path.getsize(run_dir / SUMMARY_NAME) / 2


def test_a_curve_behind_its_summary_is_not_trusted(tmp_path, capsys):
    """An older ROSE resuming the directory appends to the journal and summary only."""
    run_dir = tmp_path / "runs" / "20260101-000000-behind"
    write_campaign(run_dir)
    child = run_dir / "learner-1"
    record = {"type": "iteration", "time": 1e10, "learner_id": 1, "task_seconds": 0.5,
              "state": state(1, 4, 0.01, label="wide", labeled=False)}
    for name in (JOURNAL_NAME, SUMMARY_NAME):
        with open(child / name, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
    assert not journal_module.curve_is_current(str(child))
    assert journal_module.curve_is_current(str(run_dir / "learner-0"))
    out = cli(capsys, "show", str(run_dir), "--no-plot", "--last", "0")
    assert "wide: max_iter_reached after 5 iteration(s)" in out
    assert summary_of(load_run(run_dir, full=False)) == summary_of(load_run(run_dir))


def test_a_journal_without_summary_or_curve_gets_both_when_resumed(tmp_path, capsys):
    """A directory of ROSE 0.4 (the journal alone) shows the same before and after a resume
    derived its summary and curve, task seconds included."""
    root = tmp_path / "runs"
    run_dir = root / "20260101-000000-old"
    write_campaign(run_dir)
    expected = outputs(capsys, root, run_dir)
    for derived in [*run_dir.rglob(CURVE_NAME), *run_dir.rglob(SUMMARY_NAME)]:
        derived.unlink()
    for path in run_dir.rglob(JOURNAL_NAME):  # ROSE 0.4 wrote no task_seconds in iteration lines
        records = [json.loads(line) for line in path.read_text().splitlines()]
        path.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "task_seconds"}) + "\n"
                                for r in records))
    old = outputs(capsys, root, run_dir)
    assert old[3:] == expected[3:]  # rose runs
    assert old[0].splitlines()[:5] == expected[0].splitlines()[:5]  # rose show: everything but the seconds
    for directory in (run_dir, run_dir / "learner-0", run_dir / "learner-1"):
        journal = Journal(str(directory))  # what a resume does first
        journal.open()
        journal.close()
        assert (directory / SUMMARY_NAME).is_file() and journal_module.curve_is_current(str(directory))
    assert outputs(capsys, root, run_dir) == expected
    assert summary_of(load_run(run_dir, full=False)) == summary_of(load_run(run_dir))
