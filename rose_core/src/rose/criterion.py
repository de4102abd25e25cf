"""The stop criterion: its threshold, and the number read from its result.

``@learner.as_stop_criterion(metric_name, threshold)`` registers a task whose result is a
number, a dict with ``metric_value``, or (an executable) a number on its last non-empty
stdout line; :func:`parse_metric_value` reads it, with an error naming the criterion when
there is none.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from attrs import asdict

from rose.errors import CriterionOutputError, RoseError
from rose.metrics import compare, resolve_operator

if TYPE_CHECKING:
    from rose.config import LearnerConfig
    from rose.learner import Learner
    from rose.tasks import CriterionSpec

__all__ = [
    "check_criterion", "check_threshold", "criterion_decorator", "metric_of", "parse_metric_value", "threshold_spec",
]

logger = logging.getLogger("rose.learner")


def check_threshold(metric_name: Any, threshold: Any, where: str) -> float:
    """A finite number, or a clear error (a NaN or infinite threshold can never be met)."""
    if not isinstance(metric_name, str) or not metric_name:
        raise TypeError(f"{where}: metric_name must be a non-empty string, got {metric_name!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(f"{where}({metric_name!r}): threshold must be a number, got {threshold!r}")
    if not math.isfinite(float(threshold)):
        raise ValueError(
            f"{where}({metric_name!r}): threshold {threshold!r} is not a finite number, so the criterion could "
            f"never be met and the campaign would not stop; give a finite threshold"
        )
    return float(threshold)



def parse_metric_value(result: Any, task: str = "criterion", executable: bool = True, where: str = "") -> float:
    """Read a finite number from a criterion's result (see :meth:`Learner.as_stop_criterion`).

    ``task`` names the criterion function and ``where`` says which learner and iteration,
    for the error message.
    """
    output = result
    if isinstance(result, Mapping):
        if "metric_value" not in result:
            raise CriterionOutputError(task, output, where=where, why="returned a dict without a 'metric_value' key")
        result = result["metric_value"]
    if isinstance(result, (bytes, bytearray)):
        result = result.decode(errors="replace")
    if isinstance(result, str):
        lines = [line.strip() for line in result.splitlines() if line.strip()]
        if not lines:
            raise CriterionOutputError(task, output, where=where, why="printed nothing")
        try:
            value = float(lines[-1])
        except ValueError:
            raise CriterionOutputError(task, output, where=where, why="did not print a number on its last line") from None
    elif isinstance(result, numbers.Real) or hasattr(result, "__float__"):
        try:
            value = float(result)
        except (TypeError, ValueError):
            raise CriterionOutputError(task, output, where=where, why="returned something that is not a number") from None
    else:
        raise CriterionOutputError(task, output, where=where, why="returned something that is not a number")
    if not math.isfinite(value):
        raise CriterionOutputError(
            task, output, where=where, why=f"produced {value}, which can never meet a threshold (the campaign would not stop)"
        )
    return value


async def check_criterion(
    learner: Learner,
    iteration: int,
    config: LearnerConfig | None = None,
    deps: Sequence[Any] = (),
    extra_kwargs: Mapping[str, Any] | None = None,
) -> tuple[bool, float | None]:
    """Run ``learner``'s criterion task (if any) for ``iteration`` and return ``(met, metric_value)``."""
    spec = learner.criterion
    if spec is None:
        return False, None
    result = await learner.run_task("criterion", iteration=iteration, config=config, deps=deps,
                                    extra_kwargs=extra_kwargs, record_state=False)
    if isinstance(result, Mapping):
        learner.register_result_state(result, exclude_keys={"metric_value", "should_stop"})
    value = metric_of(learner, result, iteration)
    met = compare(value, spec.threshold, spec.operator)
    logger.info("[%s] %s = %.6g (stop when %s %g: %s)", learner.label, spec.metric_name, value, spec.operator,
                spec.threshold, "met" if met else "not met")
    return met, value


def metric_of(learner: Learner, result: Any, iteration: int | None = None) -> float:
    """The criterion's number from its result (a clear error naming the criterion and learner if none)."""
    spec = learner.criterion
    if spec is None:
        raise RoseError(f"{learner.name} has no stop criterion: register one with @learner.as_stop_criterion(...)")
    where = f" of learner {learner.learner_id}" if learner.learner_id is not None else ""
    where += f" at iteration {iteration}" if iteration is not None else ""
    return parse_metric_value(result, getattr(spec.func, "__name__", spec.name), spec.as_executable, where=where)


def threshold_spec(
    kind: str, fn: Any, options: Mapping[str, Any], metric_name: str, threshold: float, operator: str,
    spec_class: type[CriterionSpec] | None = None, **extra: Any,
) -> CriterionSpec:
    """The spec of a task whose number is compared with a threshold (the criterion, or a plugin's
    uncertainty task): ``threshold`` checked (:func:`check_threshold`), ``operator`` resolved."""
    from rose.tasks import CriterionSpec, TaskSpec

    fields = asdict(TaskSpec.build(kind, fn, options), recurse=False)
    fields["name"] = kind
    return (spec_class or CriterionSpec)(**fields, metric_name=metric_name, threshold=threshold,
                                         operator=resolve_operator(metric_name, operator), **extra)


def criterion_decorator(learner: Learner, metric_name: str, threshold: float, operator: str, as_executable: bool,
                        options: dict[str, Any]) -> Callable[..., Any]:
    """The decorator of :meth:`Learner.as_stop_criterion <rose.learner.Learner.as_stop_criterion>`."""
    threshold = check_threshold(metric_name, threshold, "as_stop_criterion")
    resolve_operator(metric_name, operator)  # an unknown metric without operator= fails here, not at decoration
    options["as_executable"] = options.get("as_executable", as_executable)

    def register(fn: Any) -> Any:
        spec = learner.criterion = threshold_spec("criterion", fn, options, metric_name, threshold, operator)
        learner.tasks["criterion"] = spec

        @functools.wraps(fn)
        def check_now(*args: Any, **kwargs: Any) -> asyncio.Task[tuple[bool, float]]:
            """Run the criterion now (after its awaitable arguments); awaiting gives ``(should_stop, value)``."""
            return learner.call_criterion(spec, args, kwargs)

        check_now.spec = spec  # type: ignore[attr-defined]
        return check_now

    return register
