"""``rose runs`` and ``rose show``: list past campaigns, print one campaign's table and plot."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from typing import Any

from rose.cli.output import print_table

__all__ = ["cmd_runs", "cmd_show"]


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def _duration(run: Any) -> str:
    if run.started is None or run.ended is None:
        return "-"
    seconds = run.ended - run.started
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _run_summary(run: Any) -> dict[str, Any]:
    return {
        "name": run.name,
        "path": run.path,
        "learner_type": run.learner_type,
        "status": run.status,
        "learners": len(run.learners),
        "iterations": run.iterations,
        "metric": run.metric_name,
        "operator": run.operator,
        "threshold": run.threshold,
        "best_metric": run.best_metric(),
        "started": run.started,
        "ended": run.ended,
    }


def cmd_runs(args: argparse.Namespace) -> int:
    """List campaigns under the runs root, oldest first."""
    from rose.engine import runs_root
    from rose.runs import list_runs

    root = os.path.abspath(args.root) if args.root else runs_root()
    runs = list_runs(root)
    if args.json:
        print(json.dumps([_run_summary(run) for run in runs], indent=1))
        return 0
    if not runs:
        print(f"no campaigns under {root} (a campaign writes runs/<timestamp>-<name>/journal.jsonl)")
        return 0
    rows = []
    for run in runs:
        best = run.best_metric()
        metric = f"{_fmt(best)} {run.metric_name}" if best is not None and run.metric_name else _fmt(best)
        rows.append([run.name, run.learner_type, run.status, str(len(run.learners)), str(run.iterations),
                     metric, _when(run.started), _duration(run)])
    print_table(f"ROSE campaigns in {root}", ["run", "learner", "status", "learners", "iterations", "best metric",
                                         "started", "duration"], rows)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """Print one campaign's per-iteration table and write its learning curve."""
    from rose.errors import RoseError
    from rose.runs import load_run, resolve_run

    try:
        path = resolve_run(args.run, args.root)
    except FileNotFoundError as exc:
        print(f"rose show: {exc}", file=sys.stderr)
        return 2
    run = load_run(path)
    if args.json:
        data = _run_summary(run)
        data["learners"] = [
            {"learner_id": h.learner_id, "label": h.label, "status": h.status, "iterations": h.iterations}
            for h in run.ordered_learners()
        ]
        print(json.dumps(data, indent=1, default=str))
    else:
        criterion = (f"stop when {run.metric_name} {run.operator or ''} {_fmt(run.threshold)}"
                     if run.threshold is not None else "no stop criterion")
        print(f"{run.name}: {run.learner_type}, {criterion}")
        print(f"  directory: {run.path}")
        print(f"  status: {run.status}, {len(run.learners)} learner(s), started {_when(run.started)}, "
              f"duration {_duration(run)}")
        for history in run.ordered_learners():
            print(f"  {history.label}: {history.status} after {len(history.iterations)} iteration(s)")
        with_labels = any(s.get("labeled_count") is not None for h in run.learners.values() for s in h.iterations)
        headers = ["learner", "iteration", run.metric_name or "metric"]
        headers += ["labeled"] if with_labels else []
        headers += ["task s", "stop"]
        rows = []
        for history in run.ordered_learners():
            for state in history.iterations:
                row = [history.label, str(state.get("iteration")), _fmt(state.get("metric_value"))]
                if with_labels:
                    row.append(_fmt(state.get("labeled_count")))
                row += [f"{history.task_seconds(state.get('iteration')):.2f}", "yes" if state.get("should_stop") else ""]
                rows.append(row)
        print_table("iterations", headers, rows)
    if args.no_plot:
        return 0
    from rose.plotting import learning_curve

    try:
        plot = learning_curve(run, args.plot)
    except RoseError as exc:
        print(f"rose show: no plot: {exc}", file=sys.stderr)
        return 0
    print(f"learning curve: {plot}", file=sys.stderr if args.json else sys.stdout)
    return 0
