"""``rose run``: run a workflow script with overrides (backend, trackers, max-iter, dry-run, resume)."""

from __future__ import annotations

import argparse
import os
import runpy
import sys
import traceback
from typing import Any

__all__ = ["cmd_run"]


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
