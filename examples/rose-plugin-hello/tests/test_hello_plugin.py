"""The hello plugin works as users would use it: installed, discovered by name."""

from __future__ import annotations

import rose
from rose.plugins import plugin_infos, registry
from rose.testing import check_metric_spec, check_scheduler_spec, check_tracker


def test_hello_is_discovered_through_its_entry_point() -> None:
    info = next(i for i in plugin_infos() if i.name == "hello")
    assert info.distribution == "rose-plugin-hello"
    assert info.status == "active"
    assert info.provides == {"metrics": ["hello_score"], "schedulers": ["halving"], "trackers": ["hello"]}


def test_hello_tracker_metric_and_scheduler_pass_the_contracts() -> None:
    tracker = rose.tracker("hello", greeting="hi")
    check_tracker(tracker)
    assert tracker.seen == [0]
    check_metric_spec(registry().metrics["hello_score"])
    check_scheduler_spec(registry().schedulers["halving"], start=8.0)
    assert rose.scheduler("halving", start=8.0)(3) == 1.0


def test_hello_score_direction_is_used_by_criteria() -> None:
    from rose.metrics import compare_metric

    assert compare_metric("hello_score", 0.9, 0.8)
    assert not compare_metric("hello_score", 0.7, 0.8)
