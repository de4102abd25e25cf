"""The ``rose`` command.

``rose plugins``    list installed plugins and what they provide
``rose run``        run a workflow script with overrides (backend, trackers, max-iter, dry-run, resume)
``rose runs``       list past campaigns (from their journals)
``rose show RUN``   print a campaign's per-iteration table and write its learning curve
``rose submit``     run a workflow script as a chain of Slurm batch jobs

Plugins add further commands through the ``rose_commands`` hook (see :mod:`rose.cli.commands`).
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
from collections.abc import Sequence
from typing import Any

from rose.cli.campaign_options import add_campaign_options
from rose.cli.commands import add_plugin_commands, invoked_command
from rose.cli.plugins import cmd_plugins
from rose.cli.run import cmd_run
from rose.cli.runs import cmd_runs, cmd_show
from rose.cli.submit import add_parser as add_submit_parser

__all__ = ["build_parser", "main"]


def build_parser(invoked: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of the ``rose`` command; ``invoked`` names the plugin command whose
    options to load (every plugin command is listed, only that one imports its module)."""
    # allow_abbrev=False everywhere: `rose run wf.py --ba 4` must give `--ba 4` to the script,
    # never read it as rose's own `--backend 4`
    parser = argparse.ArgumentParser(prog="rose", description="Run and inspect ROSE learning campaigns.",
                                     allow_abbrev=False)
    parser.add_argument("--log-level", default="WARNING", type=log_level, metavar="LEVEL",
                        help=f"logging level: {', '.join(LOG_LEVELS)} (default WARNING)")
    sub = parser.add_subparsers(dest="command", required=True)

    plugins = sub.add_parser("plugins", allow_abbrev=False, help="list installed plugins and what they provide")
    plugins.add_argument("-v", "--verbose", action="store_true", help="list every name each plugin provides")
    plugins.set_defaults(func=cmd_plugins)

    run = sub.add_parser(
        "run", allow_abbrev=False, help="run a workflow script with overrides",
        description="Run a workflow script (as `python SCRIPT ARGS`) with overrides. Options rose does not "
                    "know, and everything after `--`, go to the script; an unknown option that looks like a typo "
                    "of one of rose's own (--max-iters) is an error: fix it, or put it after `--`.",
    )
    run.add_argument("script", help="the workflow script (a Python file)")
    add_campaign_options(run)
    run.add_argument("--dry-run", action="store_true", help="use the dry-run backend: the loop runs, no task does")
    run.add_argument("--deadline", metavar="WHEN",
                     help="stop every campaign cleanly before this time (a clock time like 23:30, a duration like "
                          "2h or 1h30m, or a date and time); inside a Slurm job the job's end is used anyway (none: "
                          "not even that). A campaign stopped at its deadline makes rose run exit 75: resume it "
                          "with --resume")
    run.set_defaults(func=cmd_run, script_args=[])

    runs = sub.add_parser("runs", allow_abbrev=False, help="list past campaigns with status, iterations and best metric")
    runs.add_argument("--root", metavar="DIR", help="the runs directory (default ./runs or $ROSE_RUNS_DIR)")
    runs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    runs.set_defaults(func=cmd_runs)

    show = sub.add_parser("show", allow_abbrev=False, help="print a campaign's per-iteration table and write its learning curve")
    show.add_argument("run", help="a campaign directory, its name (or a unique part of it), or latest")
    show.add_argument("--root", metavar="DIR", help="the runs directory to look in")
    show.add_argument("--plot", metavar="PATH", help="where to write the plot (default <run>/learning_curve.png "
                      "when the campaign has not written its own)")
    show.add_argument("--no-plot", action="store_true", help="do not write the plot")
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")
    show.add_argument("--last", type=int, default=50, metavar="N",
                      help="rows per learner in the table: its last N iterations (default 50; 0: all)")
    show.set_defaults(func=cmd_show)
    add_submit_parser(sub)
    add_plugin_commands(sub, builtin=list(sub.choices), invoked=invoked)
    return parser


#: the levels ``--log-level`` accepts (any case)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_level(text: str) -> int:
    """The logging level named by ``--log-level`` (``info``, ``DEBUG``...); anything else is an
    error listing the levels."""
    name = text.strip().upper()
    if name not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"unknown level {text!r}; use one of {', '.join(LOG_LEVELS)}")
    level: int = getattr(logging, name)
    return level


def _split_run_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """For ``rose run``: split off everything after ``--`` (always the script's)."""
    if "--" in argv:
        cut = argv.index("--")
        return argv[:cut], argv[cut + 1:]
    return argv, []


#: how close an unknown option must be to one of rose's own to count as its typo
TYPO_CUTOFF = 0.8


def _run_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The ``rose run`` sub-parser of ``parser``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and "run" in action.choices:
            run: argparse.ArgumentParser = action.choices["run"]
            return run
    return parser  # pragma: no cover - build_parser always adds `run`


def _own_options(parser: argparse.ArgumentParser) -> list[str]:
    """Every long option of ``rose`` and of ``rose run`` (read from the parsers)."""
    names = [o for o in parser._option_string_actions if o.startswith("--")]
    names += [o for o in _run_parser(parser)._option_string_actions if o.startswith("--")]
    return sorted(set(names) - {"--help"})


def typo_of_own_option(option: str, own: Sequence[str]) -> str | None:
    """The option of rose's own that the unknown ``option`` is a typo of, if any.

    ``--max-iters`` -> ``--max-iter``, ``--resmue`` -> ``--resume``; ``--seed``, ``--ba``
    (a script's own options) -> None.
    """
    import difflib

    if not option.startswith("--") or option == "--":
        return None
    name = option.split("=", 1)[0]
    if name in own:
        return None
    bare = {o[2:]: o for o in own}
    close = difflib.get_close_matches(name[2:], list(bare), n=1, cutoff=TYPO_CUTOFF)
    return bare[close[0]] if close else None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rose`` and ``python -m rose``."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(invoked_command(arguments))
    ours, theirs = _split_run_args(arguments)
    args, unknown = parser.parse_known_args(ours)
    if unknown:
        if args.command not in ("run", "submit"):
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        own = _own_options(parser)
        for index, option in enumerate(unknown):
            meant = typo_of_own_option(option, own)
            if meant is not None:
                values = list(itertools.takewhile(lambda a: not a.startswith("-"), unknown[index + 1:]))
                _run_parser(parser).error(
                    f"unknown option {option.split('=', 1)[0]}: did you mean rose's {meant}? If it is the "
                    f"script's own option, pass it after `--`: rose run {args.script} -- "
                    f"{' '.join([option, *values])}"
                )
        theirs = unknown + theirs
    if args.command in ("run", "submit"):
        args.script_args = theirs
    logging.basicConfig(level=args.log_level,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        result: Any = args.func(args)
    except BrokenPipeError:  # `rose plugins -v | head`: the reader left, nothing to report
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return int(result or 0)
