"""The ``rose`` command.

``rose plugins``    list installed plugins and what they provide
``rose run``        run a workflow script with overrides (backend, trackers, max-iter, dry-run, resume)
``rose runs``       list past campaigns (from their journals)
``rose show RUN``   print a campaign's per-iteration table and write its learning curve
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from rose.cli.plugins import cmd_plugins
from rose.cli.run import cmd_run
from rose.cli.runs import cmd_runs, cmd_show

__all__ = ["build_parser", "main"]


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
    run.add_argument("--backend-option", metavar="KEY=VALUE", action="append", dest="backend_option",
                     help="an option for the backend's factory (repeatable; VALUE is parsed as JSON when it "
                          "can be), e.g. address=tcp://host:8786 or n_workers=4")
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
