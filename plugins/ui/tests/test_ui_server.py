"""The server over HTTP: the index, campaign data, nothing outside the runs folder, bad input, read-only."""

from __future__ import annotations

import os
import shutil

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
