"""`rose ui` in a real browser: Debian's Chromium driven by Playwright (`make browser` installs it).

The flagship demo runs on the local backend while the page watches it; then the finished
campaign is replayed; a 100,000-iteration campaign (its journal written through
rose.journal.Journal) is opened thinned and zoomed to full resolution; a timeline of 9,000
attempts is panned back to what the page did not hold; two campaigns are overlaid. With ROSE_UI_SCREENSHOTS=<folder>
the pages are saved there (docs/img/ui-*.png come from this).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers_ui import UiServer, write_campaign

from rose.journal import Journal

CHROMIUM = os.environ.get("ROSE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DEMO = Path(__file__).resolve().parents[3] / "examples" / "surrogate_demo" / "workflow.py"
# 8 iterations per learner (~10 s): the page, polling once a second, catches commands running; with
# 4 iterations and a target met at once (~6 s) it missed them about one run in four on a quiet machine
SHORT = ["--target", "3", "--iterations", "8", "--holdout", "150", "--candidates", "600", "--no-mlflow"]
BIG = 100_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.isfile(CHROMIUM):
        pytest.skip(f"SKIPPED LOUDLY: no Chromium at {CHROMIUM}: run `make browser` (apt-get install chromium "
                    "chromium-driver, as root) or set ROSE_CHROMIUM; the rose ui browser tests did not run")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.skip(f"SKIPPED LOUDLY: playwright is not installed ({exc}): `make setup` installs it")
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"the page raised: {errors}"


def shoot(page: Any, name: str) -> None:
    folder = os.environ.get("ROSE_UI_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        page.screenshot(path=os.path.join(folder, name), full_page=True)


def ui_state(page: Any) -> dict[str, Any]:
    state: dict[str, Any] = page.evaluate("window.roseUi")
    return state


def test_a_running_demo_campaign_gains_points_and_its_tasks_change_state(page, tmp_path) -> None:
    import importlib.util

    missing = [m for m in ("numpy", "scipy", "sklearn") if importlib.util.find_spec(m) is None]
    if missing or not DEMO.is_file():
        pytest.skip(f"SKIPPED LOUDLY: the flagship demo ({DEMO}) needs {missing or 'its folder'} (the workspace "
                    "has them: make unit PYTEST_ARGS=plugins/ui/tests)")
    runs = tmp_path / "runs"
    env = {**os.environ, "ROSE_RUNS_DIR": str(runs), "MPLBACKEND": "Agg"}
    demo = subprocess.Popen([sys.executable, str(DEMO), *SHORT], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    server = UiServer(str(runs))
    try:
        page.goto(server.url)
        link = page.locator("a[href*='surrogate-demo']")
        link.wait_for(timeout=60_000)
        name = link.inner_text()
        link.click()
        page.wait_for_url(f"**/campaign/{name}")
        seen_running = seen_points = 0
        points: list[int] = []
        deadline = time.monotonic() + 180
        while demo.poll() is None and time.monotonic() < deadline:
            state = ui_state(page)
            if state["updates"]:
                points.append(state["points"])
                seen_running = max(seen_running, state["states"].get("running", 0))
                if state["points"] and not seen_points:
                    seen_points = state["points"]
            time.sleep(0.25)
        output = demo.communicate(timeout=60)[0]
        assert demo.returncode == 0, output[-2000:]
        page.wait_for_function("document.getElementById('status').textContent !== 'unfinished'", timeout=10_000)
        final = ui_state(page)
        assert seen_running > 0, "no task was seen running while the campaign ran"
        assert final["states"]["done"] > 0 and final["states"]["running"] == 0
        assert max(points) > min(points), f"the curve never gained a point while the campaign ran: {points}"
        assert final["points"] >= max(points) and page.locator("#status").inner_text() in ("criterion_met", "max_iter_reached")
        assert page.locator("#curve .scatterlayer .trace").count() >= 2  # one line per learner (and the best point)
        shoot(page, "ui-demo.png")
        # a finished campaign replayed: the slider at its start shows (almost) nothing, at its end everything
        page.locator("#replay").fill("0")
        page.wait_for_function(f"window.roseUi.points < {final['points']}")
        assert "+0.0 s" in page.locator("#when").inner_text()
        page.locator("#replay").fill("500")
        page.wait_for_function("window.roseUi.points > 0 || window.roseUi.states.queued + window.roseUi.states.running > 0")
        page.locator("#live").click()
        page.wait_for_function(f"window.roseUi.points === {final['points']}")
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate()
        server.stop()


SLOW_FUNCTION_CAMPAIGN = """
import asyncio, sys, time
import rose
from rose.al import SequentialActiveLearner


async def main():
    async with rose.engine("local") as engine:
        learner = SequentialActiveLearner(engine)

        @learner.simulation_task(as_executable=False)
        async def simulation(*args, **kwargs):
            time.sleep(3.0)  # a function task: nothing of it reaches the journal before its end but the running record
            return 1

        @learner.training_task(as_executable=False)
        async def training(*args, **kwargs):
            return 1

        @learner.active_learn_task(as_executable=False)
        async def active_learn(*args, **kwargs):
            return 1

        await learner.start(max_iter=3)


asyncio.run(main())
"""


def test_a_function_task_is_shown_running_before_it_ends(page, tmp_path) -> None:
    runs = tmp_path / "runs"
    script = tmp_path / "slow_function.py"
    script.write_text(SLOW_FUNCTION_CAMPAIGN)
    campaign = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env={**os.environ, "ROSE_RUNS_DIR": str(runs)},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    server = UiServer(str(runs))
    try:
        deadline = time.monotonic() + 60
        while not (runs.is_dir() and [p for p in runs.iterdir() if not p.name.startswith(".")]):
            assert campaign.poll() is None and time.monotonic() < deadline, "the campaign did not start"
            time.sleep(0.1)
        (name,) = [p.name for p in runs.iterdir() if not p.name.startswith(".")]
        page.goto(f"{server.base}/campaign/{name}")
        seen: list[dict[str, int]] = []
        while campaign.poll() is None and time.monotonic() < deadline + 60:
            state = ui_state(page)
            if state["updates"] and state["states"]:
                seen.append(dict(state["states"]))
            time.sleep(0.2)
        output = campaign.communicate(timeout=60)[0]
        assert campaign.returncode == 0, output[-2000:]
        # 3 iterations of a 3 s simulation: the page, polling once a second, sees one running
        assert any(states["running"] > 0 for states in seen), f"no function task was seen running: {seen[-3:]}"
        page.wait_for_function("window.roseUi.states.done === 9 && window.roseUi.states.running === 0", timeout=30_000)
    finally:
        if campaign.poll() is None:
            campaign.kill()
            campaign.communicate()
        server.stop()


def test_a_campaign_of_100000_iterations_opens_thinned_and_a_zoom_shows_every_point(page, tmp_path) -> None:
    runs = tmp_path / "runs"
    name = "20261204-000000-long"
    write_campaign(str(runs / name), BIG, stop="max_iter_reached")  # error 1/(i+1) at 5*(i+1) labeled samples
    server = UiServer(str(runs))
    try:
        started = time.monotonic()
        page.goto(f"{server.base}/campaign/{name}")
        page.wait_for_function(f"window.roseUi.points === {BIG} && window.roseUi.firstPaint !== null", timeout=60_000)
        seconds = time.monotonic() - started
        assert page.locator("#status").inner_text() == "max_iter_reached"
        state = ui_state(page)
        width = page.evaluate("document.getElementById('curve').clientWidth")
        assert 0 < state["drawn"] <= 4 * width < BIG  # thinned to the plot's width
        assert "thinned" in page.locator("#curve-note").inner_text()
        best = page.locator("#curve .legend").text_content() or ""
        assert "best: 0.00001 " in best  # the best point (1/100,000) survives the thinning
        # zoom to 500 iterations' worth: every point of the range is drawn
        page.evaluate("Plotly.relayout('curve', {'xaxis.range': [250000, 252500]})")
        page.wait_for_function("window.roseUi.zooms === 1 && window.roseUi.drawnInView === 501", timeout=30_000)
        assert "every point" in page.locator("#curve-note").inner_text()
        page.evaluate("Plotly.relayout('curve', {'xaxis.autorange': true})")
        page.wait_for_function(f"window.roseUi.drawnInView === {state['drawn']}", timeout=30_000)
        print(f"100,000-iteration campaign drawn in {seconds:.2f} s (first paint {state['firstPaint']:.0f} ms)")
    finally:
        server.stop()


def test_the_timeline_draws_the_latest_tasks_and_fetches_earlier_ones_when_panned_back(page, tmp_path) -> None:
    from rose_plugin_ui.view import MAX_BARS

    runs = tmp_path / "runs"
    name = "20261204-000000-tasks"
    write_campaign(str(runs / name), MAX_BARS, tasks=3)  # 9,000 attempts
    server = UiServer(str(runs))
    try:
        page.goto(f"{server.base}/campaign/{name}")
        page.wait_for_function("window.roseUi.barsHeld > 0", timeout=60_000)
        state = ui_state(page)
        assert state["barsHeld"] == MAX_BARS and 0 < state["barsDrawn"] <= 300  # the latest attempts only
        assert "pan left for earlier ones" in page.locator("#tasks-note").inner_text()
        # pan to the campaign's first 5%, which the page does not hold: it asks for that window
        events = server.json(f"/api/campaign/{name}?tasks=0")["events"]
        span = events[-1]["time"] - events[0]["time"]
        start = events[0]["time"] - ui_state(page)["t0"]  # the axis counts from the earliest submission
        page.evaluate(f"Plotly.relayout('timeline', {{'xaxis.range': [{start}, {start + 0.05 * span}]}})")
        page.wait_for_function("window.roseUi.olderLoaded > 0 && window.roseUi.barsDrawn > 0", timeout=30_000)
        state = ui_state(page)
        assert state["barsHeld"] == MAX_BARS + state["olderLoaded"] and state["olderLoaded"] < MAX_BARS
        assert "pan left" not in page.locator("#tasks-note").inner_text()
    finally:
        server.stop()


def test_the_index_links_every_campaign_and_two_can_be_overlaid(page, runs) -> None:
    server = UiServer(runs)
    try:
        page.goto(server.url)
        page.wait_for_function("window.roseUi.campaigns === 2")
        names = sorted(os.listdir(runs))
        for name in names:
            assert page.locator(f"a[href='/campaign/{name}']").count() == 1
        for box in page.locator("#campaigns input[type=checkbox]").all():
            box.check()
        shoot(page, "ui-index.png")
        page.locator("#compare").click()
        page.wait_for_url("**/compare?*")
        page.wait_for_function("window.roseUi.points === 13")  # 8 + 5 iterations
        legend = page.locator("#curve .legend").text_content() or ""
        assert all(name in legend for name in names)
    finally:
        server.stop()


def test_a_campaign_that_spans_allocations_shows_its_chain(page, tmp_path) -> None:
    run_dir = tmp_path / "runs" / "20261205-000000-chain"
    journal = Journal(str(run_dir))
    journal.open()
    journal.write("start", learner_id=None, manifest={"learner_type": "SequentialActiveLearner", "max_iter": 6,
                                                      "criterion": {"metric_name": "rmse", "threshold": 0.1, "operator": "<"}})
    now = time.time()
    for job, iterations, reason in (("4711", range(0, 3), "deadline"), ("4712", range(3, 6), "max_iter_reached")):
        journal.write("allocation", learner_id=None, job_id=job, scheduler="slurm", started=now, deadline=now + 600,
                      deadline_source="slurm")
        time.sleep(0.2)
        for i in iterations:
            time.sleep(0.12)  # the journal stamps each record with the time it is written
            journal.write("task", learner_id=None, iteration=i, key="", task="simulation", kind="simulation", attempt=1,
                          status="done", seconds=0.1)
            journal.write("iteration", learner_id=None, state={"iteration": i, "metric_value": 1.0 / (i + 1),
                                                               "metric_threshold": 0.1, "learner_id": None})
        journal.write("stop", learner_id=None, reason=reason)
        if reason == "deadline":
            journal.write("resume", learner_id=None)
    journal.close()
    server = UiServer(str(tmp_path / "runs"))
    try:
        page.goto(server.url)
        page.wait_for_function("window.roseUi.campaigns === 1")
        assert "slurm 4711 (deadline) \u2192 slurm 4712 (max_iter_reached)" in page.locator("#campaigns").inner_text()
        page.goto(f"{server.base}/campaign/{run_dir.name}")
        page.wait_for_function("window.roseUi.points === 6")
        table = page.locator("#allocations table").inner_text()
        assert "4711" in table and "deadline" in table and "4712" in table
        page.wait_for_function("window.roseUi.states.replayed === 3")  # the first allocation's attempts, reused by the resume
        shoot(page, "ui-allocations.png")
    finally:
        server.stop()
