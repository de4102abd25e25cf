"""What a campaign is: the manifest journaled at its start and handed to every tracker (secrets masked)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rose.engine import backend_spec_for
from rose.tracking import CriterionManifest, PipelineManifest, TaskManifest

if TYPE_CHECKING:
    from rose.learner import Learner

__all__ = ["MASK", "build_manifest", "resources_record"]

#: what a masked secret looks like in every record ROSE writes
MASK = "***"


def build_manifest(learner: Learner, run_dir: str | None, **extra: Any) -> PipelineManifest:
    """Describe ``learner``'s campaign in ``run_dir`` for trackers and the journal (secrets masked)."""
    tasks: dict[str, TaskManifest] = {}
    for key, spec in learner.tasks.items():
        if spec.kind == "criterion":
            continue
        tasks[key] = TaskManifest(
            func_name=getattr(spec.func, "__name__", key),
            func_module=getattr(spec.func, "__module__", ""),
            as_executable=spec.as_executable,
            kind=spec.kind,
            decor_kwargs=dict(spec.engine_options),
            log_params=dict(spec.log_params),
            resources={} if spec.resources.is_default() else resources_record(spec.resources),
        )
    criterion = None
    if learner.criterion is not None:
        c = learner.criterion
        criterion = CriterionManifest(
            func_name=getattr(c.func, "__name__", "criterion"),
            func_module=getattr(c.func, "__module__", ""),
            as_executable=c.as_executable,
            kind="criterion",
            log_params=dict(c.log_params),
            metric_name=c.metric_name,
            threshold=c.threshold,
            operator=c.operator,
        )
    backend = backend_spec_for(learner.asyncflow) if learner.asyncflow is not None else None
    return PipelineManifest(
        learner_type=type(learner).__name__, tasks=tasks, criterion=criterion, run_dir=run_dir,
        backend=backend.name if backend is not None else None, **extra,
    )


def resources_record(resources: Any) -> dict[str, Any]:
    """A task's resources as written in records: ``env`` values masked unless listed in ``record_env``."""
    from attrs import asdict

    out = {k: v for k, v in asdict(resources).items() if v not in (None, {}, 0, ()) or k == "gpus" and v}
    if out.get("env"):
        shown = set(getattr(resources, "record_env", ()))
        out["env"] = {name: (value if name in shown else MASK) for name, value in out["env"].items()}
    return out


