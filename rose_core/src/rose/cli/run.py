"""``rose run``: run a workflow script with overrides (backend, trackers, max-iter, dry-run, resume)."""

from __future__ import annotations

import argparse
import contextlib
import os
import runpy
import shlex
import sys
import time
import traceback
from collections.abc import Iterator
from typing import Any

__all__ = ["cmd_run"]


@contextlib.contextmanager
def show_lifecycle() -> Iterator[None]:
    """While the script runs, print what backends report of their lifecycle (a pilot queued, a
    dashboard) as ``[rose]`` lines; the logger is as it was afterwards."""
    import logging

    from rose.engine import LIFECYCLE_LOGGER

    lifecycle = logging.getLogger(LIFECYCLE_LOGGER)
    if any(getattr(h, "rose_lifecycle", False) for h in lifecycle.handlers):
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[rose] %(message)s"))
    handler.rose_lifecycle = True  # type: ignore[attr-defined]
    level, propagate = lifecycle.level, lifecycle.propagate
    lifecycle.addHandler(handler)
    if lifecycle.getEffectiveLevel() > logging.INFO:
        lifecycle.setLevel(logging.INFO)
    lifecycle.propagate = False  # printed once, whatever --log-level says
    try:
        yield
    finally:
        lifecycle.removeHandler(handler)
        lifecycle.setLevel(level)
        lifecycle.propagate = propagate


def cmd_run(args: argparse.Namespace) -> int:
    """Run a workflow script in this process with the overrides in the environment."""
    from rose.overrides import LATEST, Overrides, applied
    from rose.runs import find_runs, is_run_dir, match_run

    script = os.path.abspath(args.script)
    if not os.path.isfile(script):
        print(f"rose run: no such workflow script: {args.script}", file=sys.stderr)
        return 2
    refused = not_a_python_script(script)
    if refused:
        print(f"rose run: {args.script} {refused}", file=sys.stderr)
        return 2
    if args.runs_dir:
        os.environ["ROSE_RUNS_DIR"] = os.path.abspath(args.runs_dir)
    resume = None
    if args.resume in ("latest", "last", "-1") and not is_run_dir(args.resume):
        resume = LATEST  # the learner picks: the newest campaign of its type and tasks
    elif args.resume:
        try:
            resume, matches = match_run(args.resume)
        except FileNotFoundError as exc:
            print(f"rose run: cannot resume: {exc}", file=sys.stderr)
            return 2
        if len(matches) > 1:
            print(f"rose run: {args.resume!r} matches {len(matches)} campaigns; taking the latest, "
                  f"{os.path.basename(resume)}", file=sys.stderr)
        # "resuming ... at iteration N" comes from the campaign itself, once it has checked and locked it
    if getattr(args, "deadline", None):
        from rose.deadline import DEADLINE_ENV, NO_DEADLINE, DeadlineError, parse_deadline

        try:
            os.environ[DEADLINE_ENV] = ("none" if args.deadline.strip().lower() in NO_DEADLINE
                                        else repr(parse_deadline(args.deadline, what="--deadline")))
        except DeadlineError as exc:
            print(f"rose run: {exc}", file=sys.stderr)
            return 2
    if args.max_iter is not None and args.max_iter < 1:
        print(f"rose run: --max-iter must be >= 1, got {args.max_iter}", file=sys.stderr)
        return 2
    from rose.errors import RoseError
    from rose.overrides import parse_backend_option

    try:
        backend_options = dict(parse_backend_option(text) for text in getattr(args, "backend_option", None) or ())
    except RoseError as exc:
        print(f"rose run: {exc}", file=sys.stderr)
        return 2
    overrides = Overrides(
        backend=args.backend, backend_options=backend_options, dry_run=args.dry_run, trackers=tuple(args.tracker or ()),
        max_iter=args.max_iter, resume=resume,
    )

    if overrides.dry_run and not _has_dry_run_backend():
        print("rose run: --dry-run needs the dry-run backend, which no installed plugin provides: install the "
              "dryrun plugin (from a checkout: pip install -e plugins/dryrun)", file=sys.stderr)
        return 2
    try:
        _check_names(overrides)
    except RoseError as exc:
        print(f"rose run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    before = set(find_runs())
    from rose.deadline import stopped_at_deadline

    deadline_stops = len(stopped_at_deadline)  # campaigns of this script that stop at their deadline come after
    started = time.time()
    code = 0
    with applied(overrides):
        print(f"rose run: {args.script} (overrides: {overrides.describe()})", file=sys.stderr, flush=True)
        with show_lifecycle():
            code, interrupted = _run_script(script, list(args.script_args))
    created = [path for path in find_runs() if path not in before]
    if resume == LATEST:
        resumed = [path for path in find_runs() if path not in created and _written_since(path, started)]
    else:  # a resume refused before it wrote anything is not this run's campaign
        resumed = [resume] if resume and resume not in created and _written_since(resume, started) else []
    campaigns = created + resumed
    at_deadline = list(dict.fromkeys(stopped_at_deadline[deadline_stops:]))
    if at_deadline:
        from rose.deadline import DEADLINE_EXIT_CODE

        for path in at_deadline:
            print(f"rose run: campaign {os.path.basename(path)} stopped at its deadline, nothing half done; "
                  f"continue it with: {resume_command(args, path)}", file=sys.stderr)
        return DEADLINE_EXIT_CODE
    if interrupted is not None:
        if campaigns:
            command = resume_command(args, campaigns[-1])
            print(f"rose run: interrupted ({interrupted}); resume with: {command}", file=sys.stderr)
        else:
            print(f"rose run: interrupted ({interrupted}) before any campaign started; nothing to resume",
                  file=sys.stderr)
        return code
    for path in campaigns:
        print(f"rose run: campaign {path}  (rose show {os.path.basename(path)})", file=sys.stderr)
    if args.dry_run:
        _move_engine_reports(campaigns, started)
        for report in _dry_run_reports(campaigns, started):
            print(f"rose run: dry run, nothing was executed; report of the planned tasks: {report}",
                  file=sys.stderr)
    return code


def not_a_python_script(path: str) -> str | None:
    """Why ``path`` is no workflow script (None when it is one: a ``.py`` file, or a file
    without an extension whose first line is a Python ``#!`` line)."""
    extension = os.path.splitext(path)[1]
    if extension == ".py":
        return None
    if not extension:
        with open(path, "rb") as handle:
            first = handle.readline(200)
        if first.startswith(b"#!") and b"python" in first:
            return None
        return ("is not a Python script: rose run runs a workflow script written in Python (a .py file, "
                "or a file starting with a `#!...python` line)")
    return (f"is a {extension} file, not a Python script: rose run runs a workflow script written in Python "
            f"(a .py file) that builds the learner and starts it; configuration files are read by that script")


def _written_since(run_dir: str, since: float) -> bool:
    """True when ``run_dir``'s journal was written at or after ``since`` (a campaign this run resumed)."""
    from rose.journal import JOURNAL_NAME

    try:
        return os.path.getmtime(os.path.join(run_dir, JOURNAL_NAME)) >= since - 1
    except OSError:
        return False


def resume_command(args: argparse.Namespace, campaign: str) -> str:
    """The ``rose run`` command line that continues ``campaign`` with the same options."""
    argv = ["rose", "run", args.script]
    if args.backend:
        argv += ["--backend", args.backend]
    for name in args.tracker or ():
        argv += ["--tracker", name]
    if args.max_iter is not None:
        argv += ["--max-iter", str(args.max_iter)]
    if args.runs_dir:
        argv += ["--runs-dir", args.runs_dir]
    for option in getattr(args, "backend_option", None) or ():
        argv += ["--backend-option", str(option)]
    argv += ["--resume", os.path.basename(campaign) if not args.runs_dir else campaign]
    if args.script_args:
        argv += ["--", *args.script_args]
    return shlex.join(argv)


def _move_engine_reports(campaigns: list[str], since: float) -> None:
    """Put a dry-run report left in an engine folder into the campaign it belongs to.

    The dry-run backend writes into the campaign directory when a task tells it where that
    is, else into the engine's folder (``runs/.engines/<uid>``). With one campaign in this
    run, the engine folders' reports written since it started are that campaign's: move
    them there, where ``rose runs`` and ``rose show`` find (and mark) them.
    """
    from rose.engine import runs_root
    from rose.runs import DRY_RUN_MARK, DRY_RUN_REPORT

    if len(campaigns) != 1 or os.path.isfile(os.path.join(campaigns[0], DRY_RUN_MARK)):
        return
    engines = os.path.join(runs_root(), ".engines")
    if not os.path.isdir(engines):
        return
    for entry in sorted(os.scandir(engines), key=lambda e: e.name):
        report = os.path.join(entry.path, DRY_RUN_MARK)
        if not entry.is_dir() or not os.path.isfile(report) or os.path.getmtime(report) < since - 1:
            continue
        for name in (DRY_RUN_REPORT, DRY_RUN_MARK):
            source = os.path.join(entry.path, name)
            if os.path.isfile(source):
                with open(source, encoding="utf-8") as src, \
                        open(os.path.join(campaigns[0], name), "a", encoding="utf-8") as dst:
                    dst.write(src.read())
                os.remove(source)
        try:
            os.rmdir(entry.path)
        except OSError:
            pass


def _dry_run_reports(campaigns: list[str], since: float) -> list[str]:
    """The dry-run reports written by this run: in its campaign directories."""
    from rose.runs import DRY_RUN_REPORT

    reports = [os.path.join(path, DRY_RUN_REPORT) for path in campaigns]
    return [path for path in reports if os.path.isfile(path) and os.path.getmtime(path) >= since - 1]


def _has_dry_run_backend() -> bool:
    from rose.overrides import DRY_RUN_BACKEND
    from rose.plugins import registry

    return DRY_RUN_BACKEND in registry().backends


def _check_names(overrides: Any) -> None:
    """Fail before running anything when a backend or tracker name is unknown."""
    from rose.plugins import lookup

    if overrides.backend and not overrides.dry_run:
        lookup("backend", overrides.backend)
    for name in overrides.trackers:
        lookup("tracker", name)


def _run_script(script: str, script_args: list[str]) -> tuple[int, str | None]:
    """``python script args...`` in this process: ``__main__``, argv and sys.path as Python sets them.

    Returns the exit code and, when Ctrl-C or SIGTERM stopped the script, the signal's name
    (the campaign has already stopped cleanly by then: no traceback is printed).
    """
    import asyncio
    import logging

    from rose.errors import RoseError
    from rose.interrupts import StoppedBySignal

    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = [script, *script_args]
    sys.path.insert(0, os.path.dirname(script))
    campaign_log = logging.getLogger("rose.campaign")
    campaign_log.addFilter(_said_below)  # "interrupted (SIGTERM); resume with: ..." says it
    try:
        runpy.run_path(script, run_name="__main__")
    except StoppedBySignal as exc:  # SIGTERM/SIGHUP: the campaign stopped cleanly (rose.interrupts)
        return int(exc.code or 1), exc.signal_name
    except SystemExit as exc:
        if exc.code is None:
            return 0, None
        if isinstance(exc.code, int):
            return exc.code, None
        print(exc.code, file=sys.stderr)
        return 1, None
    except RoseError as exc:  # ROSE's own clear error (bad input, a refused resume): its message says it all
        print(f"rose run: {type(exc).__name__}: {exc}", file=sys.stderr)
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            traceback.print_exc()
        return 1, None
    except KeyboardInterrupt:
        return 130, "Ctrl-C"
    except asyncio.CancelledError as exc:  # rose.engine turns SIGTERM into cancelling the main task
        name = "SIGTERM" if "SIGTERM" in exc.args else "cancelled"
        return 143 if name == "SIGTERM" else 1, name
    except Exception:  # noqa: BLE001 - the script's own error: show it like Python would
        traceback.print_exc()
        return 1, None
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
        campaign_log.removeFilter(_said_below)
    return 0, None


def _said_below(record: Any) -> bool:
    """Drop the library's "stopped by SIGTERM" line: `rose run` prints its own, with the resume command."""
    from rose.interrupts import SAID_BY_CALLER

    return not getattr(record, SAID_BY_CALLER, False)
