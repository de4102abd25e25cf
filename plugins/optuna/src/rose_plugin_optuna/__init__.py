"""rose-plugin-optuna: any Optuna sampler as a ROSE query policy (``rose.policy("optuna", ...)``)."""

__all__: list[str] = []
