"""The options ``rose run`` and ``rose submit`` share: declared once, handed on to ``rose run`` once.

``rose submit`` runs ``rose run`` in every batch job; the options below mean the same in both
commands, so both parsers get them from :func:`add_campaign_options`, and :func:`passed_on`
turns a parsed ``rose submit`` command line back into the ``rose run`` arguments of each job.
"""

from __future__ import annotations

import argparse

__all__ = ["PASSED_ON", "add_campaign_options", "passed_on"]

#: the options every job's ``rose run`` gets as given (``--resume`` and ``--runs-dir`` the chain sets itself)
PASSED_ON = ("--backend", "--backend-option", "--tracker", "--max-iter")


def add_campaign_options(parser: argparse.ArgumentParser) -> None:
    """Declare the backend, tracker, iteration-limit, resume and runs-folder options on ``parser``."""
    parser.add_argument("--backend", metavar="NAME",
                        help="use this backend whatever the script asks for (see `rose plugins`)")
    parser.add_argument("--backend-option", metavar="KEY=VALUE", action="append", dest="backend_option",
                        help="an option for the backend's factory (repeatable; VALUE is parsed as JSON when it "
                             "can be), e.g. address=tcp://host:8786 or n_workers=4")
    parser.add_argument("--tracker", metavar="NAME", action="append",
                        help="add this tracker to every campaign (repeatable), e.g. mlflow, console")
    parser.add_argument("--max-iter", type=int, metavar="N", help="stop each learner after at most N iterations")
    parser.add_argument("--resume", metavar="RUN",
                        help="continue this campaign (a directory, a name from `rose runs`, or latest)")
    parser.add_argument("--runs-dir", metavar="DIR",
                        help="where campaign directories go (default ./runs or $ROSE_RUNS_DIR)")


def passed_on(args: argparse.Namespace) -> list[str]:
    """The :data:`PASSED_ON` options of a parsed command line, as ``rose run`` arguments."""
    argv: list[str] = []
    for flag in PASSED_ON:
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            argv += [flag, str(item)]
    return argv
