"""rose-plugin-dryrun: run a campaign's loop without executing any task, and report it.

``engine = await rose.engine("dry-run")`` gives an engine on which every task completes at
once without running; the backend records, per learner and iteration, each task, the
tasks whose results it received and the exact command or function call it would run
(``engine.backend.report``, log lines, and ``dry-run.txt`` / ``dry-run.jsonl`` in the
engine's folder).
"""

from __future__ import annotations

from typing import Any

__all__ = ["DryRunBackend", "DryRunReport", "DryRunTask", "report_of"]


def __getattr__(name: str) -> Any:
    # Lazy exports keep ``import rose_plugin_dryrun.plugin`` (the entry point) cheap.
    if name in ("DryRunBackend", "report_of"):
        from rose_plugin_dryrun import backend

        return getattr(backend, name)
    if name in ("DryRunReport", "DryRunTask"):
        from rose_plugin_dryrun import report

        return getattr(report, name)
    raise AttributeError(f"module 'rose_plugin_dryrun' has no attribute {name!r}")
