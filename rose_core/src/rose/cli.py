"""The ``rose`` command.

``rose plugins``    list installed plugins and what they provide
``rose run``        run a workflow script with overrides (backend, trackers, max-iter, dry-run, resume)
``rose runs``       list past campaigns (from their journals)
``rose show RUN``   print a campaign's per-iteration table and write its learning curve
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import runpy
import sys
import traceback
from collections.abc import Sequence
from typing import Any

__all__ = ["build_parser", "main"]


def _table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a table with rich when attached to a terminal, plain text otherwise."""
    if sys.stdout.isatty():
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            pass
        else:
            table = Table(title=title)
            for header in headers:
                table.add_column(header)
            for row in rows:
                table.add_row(*row)
            Console().print(table)
            return
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    out = sys.stdout
    out.write(f"{title}\n")
    out.write("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() + "\n")


def cmd_plugins(args: argparse.Namespace) -> int:
    """List installed plugins: name, distribution, version, provides, status."""
    from rose.plugins import KINDS, plugin_infos

    rows = []
    for info in plugin_infos():
        provides = "; ".join(
            f"{kind}: {', '.join(info.provides[kind]) if args.verbose else len(info.provides[kind])}"
            for kind in KINDS
            if info.provides.get(kind)
        )
        status = info.status if not info.reason else f"{info.status} ({info.reason})"
        rows.append([info.name, info.distribution, info.version, provides or "-", status])
    _table("ROSE plugins", ["name", "distribution", "version", "provides", "status"], rows)
    return 0


# -- rose run -------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    """Run a workflow script in this process with the overrides in the environment."""
    from rose.overrides import Overrides, applied
    from rose.runs import find_runs, resolve_run

    script = os.path.abspath(args.script)
    if not os.path.isfile(script):
        print(f"rose run: no such workflow script: {args.script}", file=sys.stderr)
        return 2
    if args.runs_dir:
        os.environ["ROSE_RUNS_DIR"] = os.path.abspath(args.runs_dir)
    resume = None
    if args.resume:
        try:
            resume = resolve_run(args.resume)
        except FileNotFoundError as exc:
            print(f"rose run: cannot resume: {exc}", file=sys.stderr)
            return 2
    if args.max_iter is not None and args.max_iter < 1:
        print(f"rose run: --max-iter must be >= 1, got {args.max_iter}", file=sys.stderr)
        return 2
    overrides = Overrides(
        backend=args.backend, dry_run=args.dry_run, trackers=tuple(args.tracker or ()),
        max_iter=args.max_iter, resume=resume,
    )
    from rose.errors import RoseError

    try:
        _check_names(overrides)
    except RoseError as exc:
        print(f"rose run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    before = set(find_runs())
    code = 0
    with applied(overrides):
        print(f"rose run: {args.script} (overrides: {overrides.describe()})", file=sys.stderr, flush=True)
        code = _run_script(script, list(args.script_args))
    created = [path for path in find_runs() if path not in before]
    for path in created:
        print(f"rose run: campaign {path}  (rose show {os.path.basename(path)})", file=sys.stderr)
    if resume and resume not in created:
        print(f"rose run: campaign {resume}  (rose show {os.path.basename(resume)})", file=sys.stderr)
    return code


def _check_names(overrides: Any) -> None:
    """Fail before running anything when a backend or tracker name is unknown."""
    from rose.plugins import lookup

    if overrides.backend and not overrides.dry_run:
        lookup("backend", overrides.backend)
    for name in overrides.trackers:
        lookup("tracker", name)


def _run_script(script: str, script_args: list[str]) -> int:
    """``python script args...`` in this process: ``__main__``, argv and sys.path as Python sets them."""
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = [script, *script_args]
    sys.path.insert(0, os.path.dirname(script))
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        if exc.code is None:
            return 0
        if isinstance(exc.code, int):
            return exc.code
        print(exc.code, file=sys.stderr)
        return 1
    except Exception:  # noqa: BLE001 - the script's own error: show it like Python would
        traceback.print_exc()
        return 1
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    return 0


# -- rose runs / rose show --------------------------------------------------------------------


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
    _table(f"ROSE campaigns in {root}", ["run", "learner", "status", "learners", "iterations", "best metric",
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
        _table("iterations", headers, rows)
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


# -- the parser ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``rose`` command."""
    parser = argparse.ArgumentParser(prog="rose", description="Run and inspect ROSE learning campaigns.")
    parser.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")
    sub = parser.add_subparsers(dest="command", required=True)

    plugins = sub.add_parser("plugins", help="list installed plugins and what they provide")
    plugins.add_argument("-v", "--verbose", action="store_true", help="list every name each plugin provides")
    plugins.set_defaults(func=cmd_plugins)

    run = sub.add_parser(
        "run", help="run a workflow script with overrides",
        description="Run a workflow script (as `python SCRIPT ARGS`) with overrides. Options rose does not "
                    "know, and everything after `--`, go to the script.",
    )
    run.add_argument("script", help="the workflow script (a Python file)")
    run.add_argument("--backend", metavar="NAME", help="use this backend whatever the script asks for (see `rose plugins`)")
    run.add_argument("--tracker", metavar="NAME", action="append",
                     help="add this tracker to every campaign (repeatable), e.g. mlflow, console")
    run.add_argument("--max-iter", type=int, metavar="N", help="stop each learner after at most N iterations")
    run.add_argument("--dry-run", action="store_true", help="use the dry-run backend: the loop runs, no task does")
    run.add_argument("--resume", metavar="RUN", help="continue this campaign (a directory, a name from `rose runs`, or latest)")
    run.add_argument("--runs-dir", metavar="DIR", help="where campaign directories go (default ./runs or $ROSE_RUNS_DIR)")
    run.set_defaults(func=cmd_run, script_args=[])

    runs = sub.add_parser("runs", help="list past campaigns with status, iterations and best metric")
    runs.add_argument("--root", metavar="DIR", help="the runs directory (default ./runs or $ROSE_RUNS_DIR)")
    runs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    runs.set_defaults(func=cmd_runs)

    show = sub.add_parser("show", help="print a campaign's per-iteration table and write its learning curve")
    show.add_argument("run", help="a campaign directory, its name (or a unique part of it), or latest")
    show.add_argument("--root", metavar="DIR", help="the runs directory to look in")
    show.add_argument("--plot", metavar="PATH", help="where to write the plot (default <run>/learning_curve.png)")
    show.add_argument("--no-plot", action="store_true", help="do not write the plot")
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")
    show.set_defaults(func=cmd_show)
    return parser


def _split_run_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """For ``rose run``: split off everything after ``--`` (always the script's)."""
    if "--" in argv:
        cut = argv.index("--")
        return argv[:cut], argv[cut + 1:]
    return argv, []


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rose`` and ``python -m rose``."""
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    ours, theirs = _split_run_args(arguments)
    args, unknown = parser.parse_known_args(ours)
    if unknown:
        if args.command != "run":
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        theirs = unknown + theirs
    if args.command == "run":
        args.script_args = theirs
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.WARNING),
                        format="%(levelname)s %(name)s: %(message)s")
    result: Any = args.func(args)
    return int(result or 0)
