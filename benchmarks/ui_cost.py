"""What `rose ui` costs: first paint of a huge campaign, the server's CPU, the campaign's throughput.

    python benchmarks/ui_cost.py                  # all three (needs Chromium: make browser)
    python benchmarks/ui_cost.py --only paint     # or: cpu, throughput
    python benchmarks/ui_cost.py --iterations 100000 --tasks 9 --reps 3

1. paint: a campaign of ``--iterations`` iterations and ``iterations * (tasks + 1)`` journal
   records (10^6 by default), written through rose.journal.Journal; `rose ui` serves it and
   headless Chromium opens its page. Reported: the first paint of the learning curve and the
   moment the task timeline is drawn, in ms since navigation (target: first paint <= 1 s).
2. cpu: the CPU time of the `rose ui` process while a real campaign runs with its page open,
   as a share of one core (target <= 5%).
3. throughput: the same campaign (no-op function tasks on the local backend), alternately
   without and with a page open on it, in this one run: iterations per second and the ratio
   (target: within 5%).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("ROSE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

#: seconds between a campaign's start-up and its first iteration, with or without the page
SETTLE = 5.0

CAMPAIGN = textwrap.dedent('''
    import asyncio, sys, time
    import rose
    from rose.al import SequentialActiveLearner
    from rose.metrics import MEAN_SQUARED_ERROR_MSE

    async def main(iterations: int) -> None:
        async with rose.engine("local") as engine:
            learner = SequentialActiveLearner(engine, name="ui-cost")

            @learner.simulation_task(as_executable=False)
            async def simulate(*upstream):
                return {"labeled_count": 1}

            @learner.training_task(as_executable=False)
            async def train(*upstream):
                return None

            @learner.active_learn_task(as_executable=False)
            async def select(*upstream):
                return None

            @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=0.0, as_executable=False)
            async def check(*args):
                return 1.0

            print(learner.run_dir, flush=True)
            sys.stdin.readline()  # "go": the page (if any) is open
            started, cpu = time.perf_counter(), time.process_time()
            async for _ in learner.start(max_iter=iterations):
                pass
            print(f"RATE {iterations / (time.perf_counter() - started):.2f} "
                  f"{1e6 * (time.process_time() - cpu) / iterations:.1f}", flush=True)

    asyncio.run(main(int(sys.argv[1])))
''')


class Ui:
    """`rose ui ROOT --port 0` in a subprocess."""

    def __init__(self, root: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "rose", "ui", root, "--port", "0"],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        self.url = line.split(" at ", 1)[1].split()[0].rstrip("/")
        self.process.stdout.readline()

    def cpu_seconds(self) -> float:
        """user + system CPU seconds of the server so far (from /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def browser_cpu_seconds() -> float:
    """user + system CPU seconds so far of this process's descendants that are Chromium processes."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            head, rest = stat.rsplit(")", 1)
            parents[int(entry)] = int(rest.split()[1])
            names[int(entry)] = head.split("(", 1)[1]
    me, total = os.getpid(), 0.0
    for pid in parents:
        ancestor = pid
        while ancestor not in (0, 1, me):
            ancestor = parents.get(ancestor, 0)
        if ancestor == me and "chrom" in names[pid]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def write_big(run_dir: str, iterations: int, tasks: int) -> int:
    """A finished campaign journal of ``iterations`` iterations, each after ``tasks`` task records."""
    from rose.journal import Journal

    async def write() -> int:
        journal = Journal(run_dir)
        journal.open()
        records = 2
        journal.write("start", learner_id=None, manifest={"learner_type": "SequentialActiveLearner", "max_iter": iterations,
                                                          "criterion": {"metric_name": "mean_squared_error_mse",
                                                                        "threshold": 1e-4, "operator": "<"}})
        for i in range(iterations):
            for k in range(tasks):
                journal.write("task", grouped=True, learner_id=None, iteration=i, key=str(k), task="simulation",
                              kind="simulation", attempt=1, status="done", seconds=0.01, result=None)
            journal.write("iteration", learner_id=None, state={
                "iteration": i, "metric_name": "mean_squared_error_mse", "metric_value": 1.0 / (i + 1),
                "metric_threshold": 1e-4, "should_stop": False, "learner_id": None, "labeled_count": 5 * (i + 1)})
            records += tasks + 1
            if i % 1000 == 0:
                await asyncio.sleep(0)  # let the group commit flush
        journal.write("stop", learner_id=None, reason="max_iter_reached")
        journal.close()
        return records

    return asyncio.run(write())


def browser() -> Any:
    from playwright.sync_api import sync_playwright

    driver = sync_playwright().start()
    return driver, driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def paint(args: argparse.Namespace, work: Path) -> None:
    root = work / "paint"
    name = "20261206-000000-huge"
    started = time.perf_counter()
    records = write_big(str(root / name), args.iterations, args.tasks)
    print(f"paint: wrote {records:,} records ({args.iterations:,} iterations) in {time.perf_counter() - started:.1f} s")
    driver, chromium = browser()
    try:
        firsts: list[float] = []
        timelines: list[float] = []
        cpus: list[float] = []
        browsers: list[float] = []
        for rep in range(args.reps):
            ui = Ui(str(root))  # a fresh server each time: nothing read before the page asks
            try:
                page = chromium.new_page()
                before = ui.cpu_seconds()  # the server's start-up
                browser_before = browser_cpu_seconds()
                page.goto(f"{ui.url}/campaign/{name}")
                page.wait_for_function(f"window.roseUi.points === {args.iterations}", timeout=120_000)
                first = page.evaluate("window.roseUi.firstPaint")
                server_first = ui.cpu_seconds() - before
                browser_first = browser_cpu_seconds() - browser_before
                browsers.append(browser_first)
                page.wait_for_function("window.roseUi.states.done > 0", timeout=300_000)
                timeline = page.evaluate("performance.now()")
                firsts.append(first)
                timelines.append(timeline)
                cpus.append(server_first)
                print(f"paint rep {rep + 1}: first paint {first:.0f} ms, timeline drawn {timeline:.0f} ms; server CPU "
                      f"{server_first:.2f} s for the page until its first paint, {ui.cpu_seconds() - before:.2f} s in all; "
                      f"Chromium CPU {browser_first:.2f} s until the first paint; "
                      f"load average {os.getloadavg()[0]:.1f}")
                page.close()
            finally:
                ui.stop()
        print(f"paint: first paint median {statistics.median(firsts):.0f} ms (min {min(firsts):.0f}, max {max(firsts):.0f}); "
              f"timeline median {statistics.median(timelines):.0f} ms; target first paint <= 1000 ms; server CPU until "
              f"first paint median {statistics.median(cpus):.2f} s, Chromium CPU median {statistics.median(browsers):.2f} s")
    finally:
        chromium.close()
        driver.stop()


def run_campaign(root: Path, iterations: int, with_page: bool) -> tuple[float, float, float | None]:
    """(iterations per second, CPU microseconds per iteration of the campaign process, the server's
    share of one core while it ran or None)."""
    script = root / "campaign.py"
    script.write_text(CAMPAIGN)
    env = {**os.environ, "ROSE_RUNS_DIR": str(root / "runs")}
    ui = driver = chromium = None
    if with_page:
        ui = Ui(str(root / "runs"))
        driver, chromium = browser()
    try:
        campaign = subprocess.Popen([sys.executable, str(script), str(iterations)], env=env, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)
        assert campaign.stdout is not None
        run_dir = campaign.stdout.readline().strip()
        cpu0 = wall0 = 0.0
        if ui is not None and chromium is not None:
            page = chromium.new_page()  # open before the campaign starts: it polls until the journal appears
            page.goto(f"{ui.url}/campaign/{os.path.basename(run_dir)}")
            page.wait_for_function("window.roseUi.updates > 0 || "
                                   "document.getElementById('gone').textContent.includes('no campaign')")
        time.sleep(SETTLE)  # the same pause in both cases: the engine's workers start meanwhile
        if ui is not None:
            cpu0, wall0 = ui.cpu_seconds(), time.perf_counter()
        output = campaign.communicate("go\n")[0]
        share = None
        if ui is not None:
            share = (ui.cpu_seconds() - cpu0) / (time.perf_counter() - wall0)
        _, rate, cpu = next(line for line in output.splitlines() if line.startswith("RATE")).split()
        return float(rate), float(cpu), share
    finally:
        if chromium is not None:
            chromium.close()
            driver.stop()
        if ui is not None:
            ui.stop()


def throughput(args: argparse.Namespace, work: Path) -> None:
    rates: dict[bool, list[float]] = {False: [], True: []}
    cpus: dict[bool, list[float]] = {False: [], True: []}
    shares = []
    for rep in range(args.reps):
        for with_page in ((False, True) if rep % 2 == 0 else (True, False)):  # alternate the order
            folder = work / f"tp-{rep}-{int(with_page)}"
            folder.mkdir()
            rate, cpu, share = run_campaign(folder, args.campaign_iterations, with_page)
            rates[with_page].append(rate)
            cpus[with_page].append(cpu)
            if share is not None:
                shares.append(share)
            print(f"throughput rep {rep + 1} {'with page' if with_page else 'without  '}: {rate:.1f} iterations/s, "
                  f"{cpu:.0f} us CPU per iteration"
                  + (f", rose ui CPU {100 * share:.1f}% of one core" if share is not None else "")
                  + f"; load average {os.getloadavg()[0]:.1f}")
    without, with_ = statistics.median(rates[False]), statistics.median(rates[True])
    cpu_without, cpu_with = statistics.median(cpus[False]), statistics.median(cpus[True])
    print(f"throughput: without page {without:.1f} it/s, with page {with_:.1f} it/s, ratio {with_ / without:.3f} "
          f"(target >= 0.95); campaign CPU per iteration without {cpu_without:.0f} us, with {cpu_with:.0f} us "
          f"(ratio {cpu_without / cpu_with:.3f}); rose ui CPU median {100 * statistics.median(shares):.1f}% of one core "
          f"(max {100 * max(shares):.1f}%; target <= 5%)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("paint", "throughput"), help="one measurement (cpu is part of throughput)")
    parser.add_argument("--iterations", type=int, default=100_000, help="iterations of the big campaign (100,000)")
    parser.add_argument("--tasks", type=int, default=9, help="task records per iteration of the big campaign (9)")
    parser.add_argument("--campaign-iterations", type=int, default=15_000, help="iterations of the live campaign (15,000)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (3)")
    args = parser.parse_args()
    if not os.path.isfile(CHROMIUM):
        print(f"no Chromium at {CHROMIUM}: run `make browser` (or set ROSE_CHROMIUM)")
        return 2
    with tempfile.TemporaryDirectory(prefix="rose-ui-cost-") as tmp:
        if args.only in (None, "paint"):
            paint(args, Path(tmp))
        if args.only in (None, "throughput"):
            throughput(args, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
