"""``rose submit``: run a workflow script as a chain of Slurm batch jobs.

``rose submit SCRIPT [rose run options] [--time T] [--sbatch-option=OPT ...] [--print]``
writes a batch script from a template and submits it with ``sbatch`` (an argv list, no
shell: every ``--sbatch-option`` reaches sbatch verbatim). The job runs one link of the
chain (:mod:`rose.cli.chain`): ``rose run`` in the chain's runs folder, fresh the first
time and ``--resume`` after; a campaign that stops at its allocation's deadline (``rose
run`` exits 75) submits its successor with ``--dependency=afterany:<job id>``, until the
campaign ends by itself. Everything of the chain (its ``chain.json``, the batch script,
each job's ``slurm-<id>.out``) is in ``<runs folder>/.chains/<name>/``.

The batch script comes from :data:`DEFAULT_TEMPLATE`, or from your own file
(``--template FILE`` or ``$ROSE_SUBMIT_TEMPLATE``): a :class:`string.Template` with
``${job_name}``, ``${output}``, ``${workdir}``, ``${python}`` and ``${chain_file}``
(already quoted for the shell); add ``#SBATCH`` lines, ``module load`` lines and the like.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import string
import sys
import time
from typing import Any

from rose.cli.campaign_options import add_campaign_options, passed_on

__all__ = ["DEFAULT_TEMPLATE", "add_parser", "cmd_submit", "render"]

#: the batch script ``rose submit`` writes unless given ``--template`` or ``$ROSE_SUBMIT_TEMPLATE``
DEFAULT_TEMPLATE = """#!/bin/bash
# One link of a ROSE campaign chain, written by `rose submit`. Your own template: --template FILE
# or $$ROSE_SUBMIT_TEMPLATE (placeholders: job_name, output, workdir, python, chain_file).
#SBATCH --job-name=${job_name}
#SBATCH --output=${output}
#SBATCH --open-mode=append
cd ${workdir}
exec ${python} -m rose.cli.chain ${chain_file}
"""

#: how many times in a row a job that failed (not a deadline stop) is resubmitted, unless --max-failures
MAX_FAILURES = 2


def add_parser(sub: Any) -> None:
    """Register ``rose submit`` on the ``rose`` command's sub-parsers."""
    submit = sub.add_parser(
        "submit", allow_abbrev=False, help="run a workflow script as a chain of Slurm batch jobs",
        description="Submit a workflow script to Slurm. Each job runs `rose run` (fresh, then --resume); a "
                    "campaign stopped at its allocation's deadline submits its successor. Options rose does not "
                    "know, and everything after `--`, go to the script.",
    )
    submit.add_argument("script", help="the workflow script (a Python file)")
    submit.add_argument("--time", metavar="T", help="each job's time limit, as sbatch --time takes it (e.g. 30, 2:00:00)")
    submit.add_argument("--sbatch-option", metavar="OPT", action="append", dest="sbatch_option", default=[],
                        help="one sbatch argument, passed verbatim (repeatable): --sbatch-option=--partition=debug")
    submit.add_argument("--print", action="store_true",
                        help="print the batch script and the sbatch command; submit nothing")
    submit.add_argument("--template", metavar="FILE", help="your batch script template (default $ROSE_SUBMIT_TEMPLATE, "
                        "else the built-in one)")
    submit.add_argument("--max-failures", type=int, default=MAX_FAILURES, metavar="N",
                        help=f"resubmit a failed job (not a deadline stop) at most N times in a row (default {MAX_FAILURES})")
    submit.add_argument("--job-name", metavar="NAME", help="the Slurm job name (default rose-<script name>)")
    add_campaign_options(submit)  # the options of `rose run`, handed to it in every job
    submit.set_defaults(func=cmd_submit, script_args=[])


def render(template: str, values: dict[str, str]) -> str:
    """The batch script: ``template`` with ``values`` (each quoted for the shell) substituted."""
    return string.Template(template).substitute({key: shlex.quote(value) for key, value in values.items()})


def _fail(message: str) -> int:
    print(f"rose submit: {message}", file=sys.stderr)
    return 2


def _template(args: argparse.Namespace) -> tuple[str | None, str]:
    """(error, template text)."""
    path = args.template or os.environ.get("ROSE_SUBMIT_TEMPLATE")
    if not path:
        return None, DEFAULT_TEMPLATE
    try:
        with open(path) as handle:
            text = handle.read()
    except OSError as exc:
        return f"cannot read the batch script template {path}: {exc.strerror}; fix the path or drop --template", ""
    known = {"job_name", "output", "workdir", "python", "chain_file"}
    try:
        string.Template(text).substitute({key: "x" for key in known})
    except (KeyError, ValueError) as exc:
        return (f"the batch script template {path} has an unknown or broken placeholder {exc}; it may use "
                f"{', '.join('${' + k + '}' for k in sorted(known))} (write $$ for a literal $)"), ""
    return None, text


def cmd_submit(args: argparse.Namespace) -> int:
    """Write the chain's files and submit its first job (or only print them with ``--print``)."""
    from rose.cli.chain import SubmitError, save_chain, submit_job
    from rose.engine import runs_root
    from rose.errors import RoseError
    from rose.overrides import parse_backend_option

    script = os.path.abspath(args.script)
    if not os.path.isfile(script):
        return _fail(f"no such workflow script: {args.script}")
    if args.max_failures < 0:
        return _fail(f"--max-failures must be >= 0, got {args.max_failures}")
    for text in args.backend_option or ():
        try:
            parse_backend_option(text)
        except RoseError as exc:
            return _fail(str(exc))
    error, template = _template(args)
    if error:
        return _fail(error)
    sbatch = shutil.which("sbatch")
    if sbatch is None and not args.print:
        return _fail("sbatch not found on PATH: rose submit needs Slurm's client commands. Run it where Slurm is "
                     "installed (a login node), put sbatch on PATH, or use `rose run` to run here")
    runs = os.path.abspath(args.runs_dir) if args.runs_dir else runs_root()
    campaign = None
    if args.resume:
        from rose.runs import match_run

        try:
            campaign = os.path.basename(match_run(args.resume, runs)[0])
        except FileNotFoundError as exc:
            return _fail(f"cannot resume: {exc}")
    stem = re.sub(r"[^A-Za-z0-9_.-]", "-", os.path.splitext(os.path.basename(script))[0])
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{stem}"
    folder = os.path.join(runs, ".chains", name)
    chain_file = os.path.join(folder, "chain.json")
    batch_script = os.path.join(folder, "batch.sh")
    text = render(template, {"job_name": args.job_name or f"rose-{stem}", "output": os.path.join(folder, "slurm-%j.out"),
                             "workdir": os.getcwd(), "python": sys.executable, "chain_file": chain_file})
    options = ([f"--time={args.time}"] if args.time else []) + list(args.sbatch_option)
    chain: dict[str, Any] = {
        "name": name, "script": script, "script_args": list(args.script_args), "runs_dir": runs,
        "run_options": passed_on(args), "campaign": campaign, "sbatch": sbatch or "sbatch",
        "sbatch_options": options, "batch_script": batch_script, "max_failures": args.max_failures,
        "failures": 0, "state": "queued", "submitted": [], "jobs": [],
    }
    if args.print:
        print(text, end="" if text.endswith("\n") else "\n")
        print("# submitted with:")
        print("# " + shlex.join([chain["sbatch"], "--parsable", *options, batch_script]))
        return 0
    os.makedirs(folder, exist_ok=True)
    with open(batch_script, "w") as handle:
        handle.write(text)
    os.chmod(batch_script, 0o755)
    save_chain(chain_file, chain)
    try:
        job_id = submit_job(chain)
    except SubmitError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        return _fail(f"{exc}. Nothing was submitted; fix the option and submit again")
    chain["submitted"].append(job_id)
    save_chain(chain_file, chain)
    print(f"rose submit: job {job_id} submitted; chain {folder}")
    print(f"rose submit: follow it with `squeue -j {job_id}`, `rose runs`, and {os.path.join(folder, 'slurm-*.out')}")
    return 0
