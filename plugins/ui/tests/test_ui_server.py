"""The server over HTTP: the index, campaign data, nothing outside the runs folder, bad input, read-only."""

from __future__ import annotations

import os
import shutil
import time

from helpers_ui import UiServer, tree, write_campaign
from rose_plugin_ui.view import CampaignView

from rose.journal import Journal

ALPHA = "20261201-100000-alpha"


def test_the_index_lists_campaigns_as_rose_runs_does(ui) -> None:
    from rose.runs import list_runs

    listed = ui.json("/api/campaigns")
    expected = list_runs(listed["root"], full=False)
    assert [c["name"] for c in listed["campaigns"]] == [run.name for run in expected]
    for row, run in zip(listed["campaigns"], expected):
        assert (row["status"], row["iterations"], row["learners"]) == (run.status, run.iterations, len(run.learners))
        assert row["best_metric"] == run.best_metric() and row["learner_type"] == run.learner_type
    status, page, _ = ui.get("/")
    assert status == 200 and b"/static/ui.js" in page


def test_a_campaign_gives_its_curve_tasks_and_only_what_is_new(ui, runs) -> None:
    data = ui.json(f"/api/campaign/{ALPHA}")
    assert data["status"] == "max_iter_reached" and data["threshold"] == 0.01 and data["direction"] == "min"
    assert data["points"]["i"] == list(range(8)) and data["points"]["n"][-1] == 40 and data["learner_keys"] == ["-"]
    assert len(data["bars"]) == 24 and {b["state"] for b in data["bars"]} == {"done", "failed"}
    bar = data["bars"][0]
    assert abs((bar["end"] - bar["submit"]) - 0.5) < 1e-6 and bar["attempt"] == 1
    assert data["inflight"]["values"] and data["options"]["learner_type"] == "SequentialActiveLearner"
    again = ui.json(f"/api/campaign/{ALPHA}?points={data['points_cursor']}&bars={data['bars_cursor']}")
    assert again["points"]["i"] == [] and again["bars"] == []
    assert ui.get(f"/api/campaign/{ALPHA}?points=x")[0] == 400


def test_no_path_outside_the_runs_folder_can_be_read(ui, runs, tmp_path) -> None:
    secret = tmp_path / "secret"
    write_campaign(str(secret), 2)  # a campaign outside the runs folder
    os.symlink(secret, os.path.join(runs, "20261201-120000-link"))
    for path in ["/api/campaign/..", "/api/campaign/../secret", "/api/campaign/..%2Fsecret", "/api/campaign/%2E%2E",
                 f"/api/campaign/{secret}", f"/api/campaign/{secret.as_posix().replace('/', '%2F')}",
                 "/api/campaign//etc/passwd", "/static/../server.py", "/static/%2e%2e/server.py",
                 "/static/..%2Fserver.py", "/static//etc/passwd", "/../../etc/passwd", "/campaign/../../etc/passwd",
                 "/api/campaign/20261201-120000-link", f"/api/campaign/{ALPHA}%2F..%2F..%2Fsecret"]:
        status, body, _ = ui.get(path)
        assert status == 404, (path, status, body[:200])
        assert b"root:" not in body and b"def create_app" not in body and b"secret" not in body.replace(b"no campaign", b"")
    assert ui.json("/api/campaigns")["campaigns"][-1]["name"] != "20261201-120000-link"


def test_a_damaged_line_is_skipped_with_a_mark_and_the_server_goes_on(ui, runs) -> None:
    curve = os.path.join(runs, ALPHA, "curve.jsonl")
    before = ui.json(f"/api/campaign/{ALPHA}")
    with open(curve, "a") as handle:
        handle.write('[1796590889.3,null,0.1,8,"mean_sq\n')
    after = ui.json(f"/api/campaign/{ALPHA}?points={before['points_cursor']}")
    assert after["skipped"] == 1 and after["points"]["v"] == []
    assert [c["skipped"] for c in ui.json("/api/campaigns")["campaigns"]][0] == 1
    err = ui.stop()
    assert "skipping damaged line 11" in err and "curve.jsonl" in err


def test_a_campaign_that_disappears_while_viewed_is_reported_and_the_server_goes_on(ui, runs) -> None:
    assert ui.json(f"/api/campaign/{ALPHA}")["gone"] is False
    shutil.rmtree(os.path.join(runs, ALPHA))
    data = ui.json(f"/api/campaign/{ALPHA}")
    assert data["gone"] is True
    assert [c["name"] for c in ui.json("/api/campaigns")["campaigns"]] == ["20261201-110000-beta"]
    status, body, _ = ui.get("/api/campaign/20261201-999999-never")
    assert status == 404 and b"no campaign '20261201-999999-never'" in body


def test_a_runs_folder_that_does_not_exist_is_reported_and_campaigns_appear_later(tmp_path) -> None:
    root = tmp_path / "later"
    server = UiServer(str(root))
    try:
        listing = server.json("/api/campaigns")
        assert "does not exist" in listing["error"] and listing["campaigns"] == []
        write_campaign(str(root / "20261202-000000-new"), 2)
        assert [c["name"] for c in server.json("/api/campaigns")["campaigns"]] == ["20261202-000000-new"]
    finally:
        server.stop()


def test_serving_never_writes_to_the_runs_folder(runs) -> None:
    before = tree(runs)
    server = UiServer(runs)
    try:
        for name in os.listdir(runs):
            server.json(f"/api/campaign/{name}")
        server.json("/api/campaigns")
    finally:
        server.stop()
    assert tree(runs) == before


def test_the_view_reads_each_file_once_by_offset(tmp_path) -> None:
    run_dir = str(tmp_path / "run")
    write_campaign(run_dir, 3, tasks=2, stop=None)
    view = CampaignView(run_dir)
    view.refresh(details=True)
    curve = view._dirs[view.path].curve
    journal = view._dirs[view.path].journal
    assert curve.offset == os.path.getsize(curve.path) and journal.offset == os.path.getsize(journal.path)
    assert len(view.points["i"]) == 3 and view.bar_count == 6
    reopened = Journal(run_dir)
    reopened.open()
    reopened.write("resume", learner_id=None)
    reopened.write("task", learner_id=None, iteration=3, key="0", task="simulation", kind="simulation", attempt=2,
                   status="done", seconds=0.25)
    reopened.write("iteration", learner_id=None, state={"iteration": 3, "metric_value": 0.2, "learner_id": None})
    reopened.close()
    view.refresh(details=True)
    assert len(view.points["i"]) == 4 and view.points["v"][-1] == 0.2
    states = [bar["state"] for bar in view.bars]
    assert states.count("replayed") == 3  # the attempts done before the resume, reused by it
    assert view.snapshot()["bars"][-1]["attempt"] == 2 and view.snapshot()["status"] == "unfinished"


def test_the_allocation_chain_is_shown(tmp_path) -> None:
    run_dir = str(tmp_path / "runs" / "20261203-000000-chain")
    journal = Journal(run_dir)
    journal.open()
    journal.write("start", learner_id=None, manifest={"learner_type": "SequentialActiveLearner"})
    journal.write("allocation", learner_id=None, job_id="1234", scheduler="slurm", started=1000.0, deadline=4600.0,
                  deadline_source="slurm")
    journal.write("iteration", learner_id=None, state={"iteration": 0, "metric_value": 0.5, "learner_id": None})
    journal.write("stop", learner_id=None, reason="deadline")
    journal.write("resume", learner_id=None)
    journal.write("allocation", learner_id=None, job_id="1240", scheduler="slurm", started=5000.0, deadline=None,
                  deadline_source=None)
    journal.write("iteration", learner_id=None, state={"iteration": 1, "metric_value": 0.1, "learner_id": None})
    journal.close()
    view = CampaignView(run_dir)
    view.refresh()
    chain = view.summary()["allocations"]
    assert [(a["job_id"], a["reason"]) for a in chain] == [("1234", "deadline"), ("1240", None)]
    assert chain[0]["deadline"] == 4600.0 and chain[0]["ended"] is not None and chain[1]["ended"] is None


def test_a_command_still_running_when_its_learner_stops_is_shown_cancelled(tmp_path) -> None:
    run_dir = str(tmp_path / "run")
    journal = Journal(run_dir)
    journal.open()
    journal.write("start", learner_id=None, manifest={"learner_type": "SequentialActiveLearner"})
    journal.write("process", learner_id=None, iteration=0, task="simulation", key="", pid=1234)
    view = CampaignView(run_dir)
    view.refresh(details=True)
    assert [bar["state"] for bar in view.bars] == ["running"]
    journal.write("stop", learner_id=None, reason="stopped")
    journal.close()
    view.refresh(details=True)
    last = view.snapshot()["bars"][-1]
    assert last["state"] == "cancelled" and last["end"] >= last["start"]


def test_a_long_curve_comes_thinned_to_the_width_and_a_zoom_gives_every_point(tmp_path) -> None:
    root = tmp_path / "runs"
    name = "20261206-000000-long"
    write_campaign(str(root / name), 20_000)  # error 1/(i+1) at 5*(i+1) labeled samples
    server = UiServer(str(root))
    try:
        data = server.json(f"/api/campaign/{name}?points=0&tasks=0&width=500")
        points = data["points"]
        assert data["sampled"] is True and data["points_cursor"] == 20_000 and len(points["k"]) <= 4 * 500
        assert points["k"] == sorted(points["k"]) and points["i"][0] == 0 and points["i"][-1] == 19_999
        assert min(points["v"]) == 1.0 / 20_000  # the best point is kept exactly
        assert data["learner_x"] == {"-": "n"}
        assert data["bars"] == [] and data["bars_cursor"] == 0  # the first request reads no task record
        zoom = server.json(f"/api/campaign/{name}/curve?low=5000&high=7500&width=500")
        inside = [n for n in zoom["points"]["n"] if 5000 <= n <= 7500]
        assert zoom["exact"] is True and zoom["inside"] == 501 and inside == list(range(5000, 7501, 5))
        assert zoom["points"]["n"][0] == 4995 and zoom["points"]["n"][-1] == 7505  # one point either side
        wide = server.json(f"/api/campaign/{name}/curve?low=0&high=1e9&width=100")
        assert wide["exact"] is False and wide["inside"] == 20_000 and len(wide["points"]["k"]) <= 400
        small = server.json(f"/api/campaign/{name}?points=19990&tasks=0&width=500")  # after the cursor: every point
        assert small["points"]["i"] == list(range(19_990, 20_000)) and small["sampled"] is False
        for bad in ("/curve?low=a&high=2", "/curve?low=1", "/curve?low=nan&high=2", "/tasks?start=1", "?width=x"):
            status, body, _ = server.get(f"/api/campaign/{name}{bad}")
            assert status == 400, (bad, status)
            assert b"low" in body or b"start" in body or b"width" in body
    finally:
        server.stop()


def test_the_timeline_starts_from_the_latest_tasks_and_reaches_back_by_time_window(tmp_path) -> None:
    from rose_plugin_ui.view import MAX_BARS

    root = tmp_path / "runs"
    name = "20261206-000000-tasks"
    iterations = MAX_BARS  # 3 task records each: three times what the timeline first takes
    write_campaign(str(root / name), iterations, tasks=3)
    server = UiServer(str(root))
    try:
        first = server.json(f"/api/campaign/{name}?points=0&tasks=0&width=500")
        data = server.json(f"/api/campaign/{name}?points={first['points_cursor']}&bars=0")
        bars = data["bars"]
        assert len(bars) == MAX_BARS and data["older"] is True
        assert min(bar["iteration"] for bar in bars) == iterations - MAX_BARS // 3  # the latest ones only
        polls = 0
        while data["inflight_read"] < 1.0 and polls < 100:  # the in-flight counts fill in, a slice per request
            data = server.json(f"/api/campaign/{name}?points={data['points_cursor']}&bars={data['bars_cursor']}")
            polls += 1
        assert data["inflight"]["tasks"] == 3 * iterations  # every attempt counted, the older ones too
        latest = server.json(f"/api/campaign/{name}?points={data['points_cursor']}&bars=0&latest=10")
        assert [bar["iteration"] for bar in latest["bars"]] == [iterations - 4] + [iterations - 3] * 3 + \
            [iterations - 2] * 3 + [iterations - 1] * 3
        earliest = min(bar["end"] for bar in bars)
        older = server.json(f"/api/campaign/{name}/tasks?start={first['events'][0]['time']}&end={earliest}")
        got = older["bars"]
        assert got and max(bar["end"] for bar in got) <= earliest
        assert {bar["iteration"] for bar in got} <= set(range(iterations - MAX_BARS // 3 + 1))
        assert older["more"] is True and len(got) == MAX_BARS  # 6,001 ended in the window: the latest 3,000
        assert max(bar["iteration"] for bar in got) == iterations - MAX_BARS // 3
        assert all(bar["id"] < 0 for bar in got) and {bar["state"] for bar in got} == {"done", "failed"}
    finally:
        server.stop()


def test_the_engine_named_by_the_manifest_is_every_task_s_engine(tmp_path) -> None:
    run_dir = str(tmp_path / "run")
    journal = Journal(run_dir)
    journal.open()
    journal.write("start", learner_id=None, manifest={"learner_type": "SequentialActiveLearner", "backend": "local"})
    journal.write("task", learner_id=None, iteration=0, key="", task="simulation", kind="simulation", attempt=1,
                  status="done", seconds=0.1)
    journal.close()
    view = CampaignView(run_dir)
    view.refresh(details=True)
    assert view.snapshot()["engine"] == "local"


def test_the_in_flight_counts_take_the_older_records_a_slice_per_refresh(tmp_path, monkeypatch) -> None:
    import rose_plugin_ui.view as view_module

    monkeypatch.setattr(view_module, "BACKFILL_BYTES", 1 << 16)  # read where it is used
    run_dir = str(tmp_path / "run")
    write_campaign(run_dir, view_module.MAX_BARS, tasks=3)
    view = CampaignView(run_dir)
    view.refresh(details=True)
    assert view.inflight is not None and view.inflight.tasks < 3 * view_module.MAX_BARS
    assert 0 < view.snapshot()["inflight_read"] < 1
    refreshes = 1
    while view.snapshot()["inflight_read"] < 1:
        view.refresh(details=True)
        refreshes += 1
    assert refreshes > 10 and view.inflight.tasks == 3 * view_module.MAX_BARS and view.bar_count == view_module.MAX_BARS


def test_a_function_task_listed_as_running_shows_running_until_its_end_or_its_cancellation(tmp_path) -> None:
    run_dir = str(tmp_path / "run")
    journal = Journal(run_dir)
    journal.open()
    journal.write("start", learner_id=None, manifest={"learner_type": "SequentialActiveLearner"})
    submitted = time.time() - 1.5
    listed = [{"task": "simulation", "kind": "simulation", "iteration": 0, "key": key, "submit": submitted}
              for key in ("a", "b")]
    journal.write("running", learner_id=None, count=2, tasks=listed)  # what rose.flights writes
    view = CampaignView(run_dir)
    view.refresh(details=True)
    bars = view.snapshot()["bars"]
    assert [(bar["key"], bar["state"], bar["submit"]) for bar in bars] == [("a", "running", submitted),
                                                                           ("b", "running", submitted)]
    assert view.snapshot()["inflight"]["values"]  # counted in flight
    journal.write("task", learner_id=None, iteration=0, key="a", task="simulation", kind="simulation", attempt=1,
                  status="done", seconds=2.0)
    journal.write("running", learner_id=None, count=0, tasks=[])  # b no longer listed: it was cancelled
    journal.close()
    view.refresh(details=True)
    latest = {bar["key"]: bar for bar in view.snapshot()["bars"]}
    assert latest["a"]["state"] == "done" and latest["a"]["id"] == bars[0]["id"]  # the same bar, ended
    assert latest["b"]["state"] == "cancelled" and latest["b"]["end"] >= submitted


def test_a_damaged_line_after_the_timeline_s_start_is_named_by_its_line_in_the_journal(tmp_path, caplog) -> None:
    import logging

    from rose_plugin_ui.view import MAX_BARS

    run_dir = str(tmp_path / "run")
    write_campaign(run_dir, MAX_BARS // 2, tasks=3, stop=None)  # the timeline starts inside the journal
    path = os.path.join(run_dir, "journal.jsonl")
    with open(path, "a") as handle:
        handle.write('{"type":"task","time":17966,"broken\n')
    with open(path, "rb") as handle:
        total = sum(1 for _ in handle)
    view = CampaignView(run_dir)
    with caplog.at_level(logging.WARNING):
        view.refresh(details=True)
    assert view.summary()["skipped"] == 1 and view._dirs[view.path].backfill_end > 0
    assert f"skipping damaged line {total} of {path}" in caplog.text
