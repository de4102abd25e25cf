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
        "best_metric": None if run.dry_run else run.best_metric(),  # a dry run's values are placeholders
        "started": run.started,
        "ended": run.ended,
        "dry_run": run.dry_run,
        "jobs": run.jobs,
    }


def _status(run: Any) -> str:
    return f"{run.status} (dry run)" if run.dry_run else run.status


def cmd_runs(args: argparse.Namespace) -> int:
    """List campaigns under the runs root, oldest first."""
    from rose.engine import runs_root
    from rose.runs import list_runs

    root = os.path.abspath(args.root) if args.root else runs_root()
    runs = list_runs(root, full=False)
    if args.json:
        print(json.dumps([_run_summary(run) for run in runs], indent=1))
        return 0
    if not runs:
        print(f"no campaigns under {root} (a campaign writes runs/<timestamp>-<name>/journal.jsonl)")
        return 0
    rows = []
    for run in runs:
        best = None if run.dry_run else run.best_metric()
        metric = f"{_fmt(best)} {run.metric_name}" if best is not None and run.metric_name else _fmt(best)
        if run.dry_run:
            metric = "- (dry run: no task ran)"
        rows.append([run.name, run.learner_type, _status(run), str(len(run.learners)), str(run.iterations),
                     metric, _when(run.started), _duration(run)])
    print_table(f"ROSE campaigns in {root}", ["run", "learner", "status", "learners", "iterations", "best metric",
                                         "started", "duration"], rows, keep=(0,))
    from rose.allocation import describe_jobs

    for run in runs:
        if run.jobs:
            print(f"{run.name} ran in batch jobs: {describe_jobs(run.jobs)}")
    print(f"(`rose show RUN` takes a run's name, a part of it, or latest; {len(runs)} campaign(s))")
    return 0


def _backend_jobs(run: Any) -> list[dict[str, Any]]:
    """The batch jobs of the campaign's backend (a pilot, Dask workers) alive while it ran."""
    from rose.allocation import batch_jobs_during

    return batch_jobs_during(run.started, run.ended, os.path.dirname(run.path))


def _print_jobs(run: Any) -> None:
    """The campaign's own batch jobs (allocations) and its backend's."""
    from rose.allocation import describe_jobs

    if run.jobs:
        print(f"  batch jobs (allocations): {describe_jobs(run.jobs)}")
    for job in _backend_jobs(run):
        queued = job.get("queued_seconds")
        waited = f"{queued:.0f} s in the queue" if isinstance(queued, (int, float)) else "not started"
        states = " -> ".join(str(s.get("state")) for s in job.get("states") or ())
        print(f"  {job.get('backend')} {job.get('kind')} {job.get('name')}: batch job {job.get('job_id') or '?'} on "
              f"{job.get('resource')}, {waited}; states {states or '-'}")


def cmd_show(args: argparse.Namespace) -> int:
    """Print one campaign's per-iteration table and write its learning curve."""
    from rose.errors import RoseError
    from rose.runs import load_run, match_run

    try:
        path, matches = match_run(args.run, args.root)
    except FileNotFoundError as exc:
        print(f"rose show: {exc}", file=sys.stderr)
        return 2
    if len(matches) > 1:
        others = ", ".join(os.path.basename(m) for m in matches[:-1])
        print(f"rose show: {args.run!r} matches {len(matches)} campaigns; showing the latest, "
              f"{os.path.basename(path)} (the others: {others})", file=sys.stderr)
    run = load_run(path, full=args.json)  # --json prints the full states; the table and plot need a few fields
    if args.json:
        data = _run_summary(run)
        data["learners"] = [
            {"learner_id": h.learner_id, "label": h.label, "status": h.status, "iterations": h.iterations}
            for h in run.ordered_learners()
        ]
        data["batch_jobs"] = _backend_jobs(run)
        print(json.dumps(data, indent=1, default=str))
    else:
        criterion = (f"stop when {run.metric_name} {run.operator or ''} {_fmt(run.threshold)}"
                     if run.threshold is not None else "no stop criterion")
        print(f"{run.name}: {run.learner_type}, {criterion}")
        if run.dry_run:
            print("  DRY RUN: no task ran; the metric values are placeholders, not results "
                  f"(report: {os.path.join(run.path, 'dry-run.txt')})")
        print(f"  directory: {run.path}")
        print(f"  status: {_status(run)}, {len(run.learners)} learner(s), started {_when(run.started)}, "
              f"duration {_duration(run)}")
        for history in run.ordered_learners():
            print(f"  {history.label}: {history.status} after {len(history.iterations)} iteration(s)")
        _print_jobs(run)
        with_labels = any(s.get("labeled_count") is not None for h in run.learners.values() for s in h.iterations)
        headers = ["learner", "iteration", run.metric_name or "metric"]
        headers += ["labeled"] if with_labels else []
        headers += ["task s", "stop"]
        rows = []
        last = getattr(args, "last", 0) or 0
        hidden = 0
        for history in run.ordered_learners():
            label = history.label  # scans the states: once per learner, not per row
            shown_states = history.iterations[-last:] if last > 0 else history.iterations
            hidden += len(history.iterations) - len(shown_states)
            for state in shown_states:
                # iterations count from 1, like the summary above ("after 3 iteration(s)")
                number = state.get("iteration")
                shown = str(number + 1) if isinstance(number, int) else _fmt(number)
                value = "(dry run)" if run.dry_run else _fmt(state.get("metric_value"))
                row = [label, shown, value]
                if with_labels:
                    row.append(_fmt(state.get("labeled_count")))
                row += [f"{history.task_seconds(state.get('iteration')):.2f}", "yes" if state.get("should_stop") else ""]
                rows.append(row)
        print_table("iterations", headers, rows)
        if hidden:
            print(f"({hidden} earlier iteration(s) not shown: --last 0 shows every one)")
    if args.no_plot:
        return 0
    out = sys.stderr if args.json else sys.stdout
    if run.dry_run:
        print("no plot: a dry run has no real metric values", file=out)
        return 0
    from rose.plotting import PLOT_NAME, SHOW_MAKER, learning_curve, plot_maker

    target = args.plot
    if target is None:
        target = os.path.join(run.path, PLOT_NAME)
        if os.path.isfile(target) and plot_maker(target) != SHOW_MAKER:
            print(f"learning curve: {target} (drawn by the campaign, left as it is; `rose show {run.name} "
                  f"--plot FILE` draws rose show's own)", file=out)
            return 0
    try:
        plot = learning_curve(run, target, maker=SHOW_MAKER)
    except RoseError as exc:
        print(f"rose show: no plot: {exc}", file=sys.stderr)
        return 0
    print(f"learning curve: {plot}", file=out)
    return 0
