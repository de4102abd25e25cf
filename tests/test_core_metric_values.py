"""A metric value that is not a finite number is an error naming metric, learner, iteration and task (issue 26, 5)."""

from __future__ import annotations

from typing import Any

import pytest

from rose import Learner, Outcome, Step


class Reports(Learner):
    """Reports whatever metric value its configuration gives (issue 26, 5: NaN and strings were accepted)."""


    async def evaluate(self, step: Step) -> Outcome:
        return Outcome(metric_value=step.options["value"])


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "0.5", [1.0], True])
async def test_a_metric_value_that_is_not_a_finite_number_is_an_error(rose_engine: Any, value: Any) -> None:
    learner = Reports(rose_engine)

    @learner.as_stop_criterion(metric_name="mean_squared_error_mse", threshold=0.1, as_executable=False)
    async def check_mse() -> float:
        return 1.0

    with pytest.raises(ValueError, match=r"metric 'mean_squared_error_mse' of Reports.evaluate\(\) .*iteration 0, "
                                         r"criterion task 'check_mse'"):
        await learner.start(max_iter=2, value=value)
    assert learner.stop_reason == "error"
