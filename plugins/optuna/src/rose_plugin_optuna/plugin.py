"""Entry point ``optuna``: registers the ``optuna`` query policy (cheap: optuna loads on first use)."""

from __future__ import annotations

from rose.hookspecs import hookimpl
from rose.plugins import lazy_call
from rose.records import PolicySpec


@hookimpl
def rose_policies() -> list[PolicySpec]:
    """``optuna``: any Optuna sampler through ask/tell, pending points as running trials."""
    return [
        PolicySpec(
            name="optuna",
            summary="any Optuna sampler (TPE, GP, CMA-ES, QMC...) via ask/tell; pending points stay RUNNING trials",
            factory=lazy_call("rose_plugin_optuna.policy:OptunaPolicy"),
            batch_aware=True,
            pending_aware=True,
        )
    ]
