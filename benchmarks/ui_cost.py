"""What `rose ui` costs: first paint of a huge campaign, the server's CPU, the campaign's throughput.

    python benchmarks/ui_cost.py                  # all three (needs Chromium: make browser)
    python benchmarks/ui_cost.py --only paint     # or: cpu, throughput
    python benchmarks/ui_cost.py --iterations 100000 --tasks 9 --reps 3

1. paint: a campaign of ``--iterations`` iterations and ``iterations * (tasks + 1)`` journal
   records (10^6 by default), written through rose.journal.Journal; `rose ui` serves it and
   headless Chromium opens its page: cold (the server is up, it answered one request for a
   style sheet, and has read nothing of the campaign; a new browser profile), warm (the same
   server again, a new profile) and reload (the same server and profile). First paint: from the navigation's start to the
   end of the frame that shows the learning curve (the page's performance.now(), whose origin
   is the navigation's start, taken in a timeout after the animation frame that follows
   Plotly's drawing); target <= 1 s. Also: when the timeline was drawn, the server's and
   Chromium's CPU time until then.
2. cpu: the CPU time of the `rose ui` process while a real campaign runs with its page open,
   as a share of one core (target <= 5%).
3. throughput: the same campaign (no-op function tasks on the local backend, ``--campaign-iterations``
   long: at least 10 s), without and with a page open on it, in this one run: a warm-up pair
   discarded, then pairs alternating without, with, without, with. Reported: iterations per
   second (wall), the campaign's CPU per iteration, the server's and Chromium's share of a core
   while it ran, and the ratios (target: within 5%). Both arms run next to a process that keeps
   the CPUs awake (:data:`KEEP_AWAKE`; ``--no-keep-awake`` leaves it out).
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

from _common import KEEP_AWAKE

CHROMIUM = os.environ.get("ROSE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

#: seconds between a campaign's start-up and its first iteration, with or without the page
SETTLE = 5.0

#: runs alongside both arms of the throughput comparison: on this virtual machine a campaign of
#: no-op tasks runs 2-3 times faster when anything else keeps the CPUs from going idle (a busy
#: loop at nice 19 did it as well as the page), which made "with the page" the faster arm; this
#: neighbour wakes every half millisecond, so neither arm finds the CPUs asleep

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
        self.wait_ready()

    def wait_ready(self) -> None:
        """Until the server answers (a style sheet): up, and nothing of any campaign read yet."""
        import urllib.request

        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/static/ui.css", timeout=5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

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


#: what the page reports of one open (Performance API, in ms since the navigation started)
PAGE_TIMES = """() => {
    const loaded = performance.getEntriesByType("resource");
    const api = loaded.find(e => e.name.includes("/api/campaign/") && e.name.includes("tasks=0"));
    const lib = loaded.find(e => e.name.includes("plotly"));
    return {first: window.roseUi.firstPaint, apiStart: api ? api.startTime : null, apiEnd: api ? api.responseEnd : null,
            apiBytes: api ? api.encodedBodySize : null, libEnd: lib ? lib.responseEnd : null, drawn: window.roseUi.drawn};
}"""


def open_page(context: Any, url: str, iterations: int, ui: Ui) -> tuple[dict[str, float], float]:
    """Open the campaign page in a new tab of ``context``: (its times and the CPU seconds of the
    server and of Chromium until the first paint, ms from navigation until the timeline was drawn)."""
    page = context.new_page()
    try:
        server, chrome = ui.cpu_seconds(), browser_cpu_seconds()
        page.goto(url)
        page.wait_for_function(f"window.roseUi.points === {iterations} && window.roseUi.firstPaint !== null",
                               timeout=120_000, polling=20)
        server, chrome = ui.cpu_seconds() - server, browser_cpu_seconds() - chrome
        times: dict[str, float] = page.evaluate(PAGE_TIMES)
        times.update(server=server, chrome=chrome)
        page.wait_for_function("window.roseUi.states.done > 0", timeout=300_000)
        return times, page.evaluate("performance.now()")
    finally:
        page.close()


def paint(args: argparse.Namespace, work: Path) -> None:
    """First paint of the big campaign's page: on a fresh server (cold) and on one that served it before (warm)."""
    root = work / "paint"
    name = "20261206-000000-huge"
    started = time.perf_counter()
    records = write_big(str(root / name), args.iterations, args.tasks)
    size = sum(f.stat().st_size for f in (root / name).iterdir())
    print(f"paint: wrote {records:,} records ({args.iterations:,} iterations, {size / 1e6:.0f} MB) in "
          f"{time.perf_counter() - started:.1f} s; load average {os.getloadavg()[0]:.1f}")
    driver, chromium = browser()
    # cold: a fresh server (its first request) and a fresh browser profile (nothing cached);
    # warm: the same server again, a fresh profile; reload: the same server and profile (the
    # plotting library comes from the browser's cache), what a user reopening the page sees
    kinds = ("cold", "warm", "reload")
    found: dict[str, dict[str, list[float]]] = {kind: {"first": [], "server": [], "chrome": [], "timeline": []}
                                                for kind in kinds}
    try:
        for rep in range(args.reps):
            ui = Ui(str(root))
            profile = None
            try:
                for kind in kinds:
                    if kind != "reload":
                        if profile is not None:
                            profile.close()
                        profile = chromium.new_context(viewport={"width": 1280, "height": 1000})
                    times, timeline = open_page(profile, f"{ui.url}/campaign/{name}", args.iterations, ui)
                    for field, value in (("first", times["first"]), ("server", times["server"]),
                                         ("chrome", times["chrome"]), ("timeline", timeline)):
                        found[kind][field].append(value)
                    print(f"paint rep {rep + 1} {kind:6}: first paint {times['first']:.0f} ms (curve request "
                          f"{times['apiStart']:.0f}-{times['apiEnd']:.0f} ms, {times['apiBytes'] / 1e3:.0f} kB, "
                          f"{times['drawn']} points drawn; plotting library loaded at {times['libEnd']:.0f} ms; CPU until "
                          f"then: server {times['server']:.2f} s, Chromium {times['chrome']:.2f} s), timeline drawn "
                          f"{timeline:.0f} ms; load average {os.getloadavg()[0]:.1f}")
            finally:
                if profile is not None:
                    profile.close()
                ui.stop()
        median = statistics.median
        for kind in kinds:
            got = found[kind]
            print(f"paint {kind:6}: first paint median {median(got['first']):.0f} ms (min {min(got['first']):.0f}, max "
                  f"{max(got['first']):.0f}; target <= 1000 ms); CPU until then, median: server "
                  f"{median(got['server']):.2f} s, Chromium {median(got['chrome']):.2f} s; timeline drawn median "
                  f"{median(got['timeline']):.0f} ms; {args.reps} reps; load average {os.getloadavg()[0]:.1f}")
    finally:
        chromium.close()
        driver.stop()


def run_campaign(root: Path, iterations: int, with_page: bool, keep_awake: bool = True) -> dict[str, float]:
    """One campaign, with its page open or not: its iterations per second and seconds (wall),
    CPU microseconds per iteration (the campaign process), and with the page the share of one
    core that the server and Chromium used while it ran."""
    script = root / "campaign.py"
    script.write_text(CAMPAIGN)
    env = {**os.environ, "ROSE_RUNS_DIR": str(root / "runs")}
    ui = driver = chromium = None
    awake = subprocess.Popen([sys.executable, "-c", KEEP_AWAKE]) if keep_awake else None
    if with_page:
        ui = Ui(str(root / "runs"))
        driver, chromium = browser()
    try:
        campaign = subprocess.Popen([sys.executable, str(script), str(iterations)], env=env, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)
        assert campaign.stdout is not None
        run_dir = campaign.stdout.readline().strip()
        if ui is not None and chromium is not None:
            page = chromium.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"{ui.url}/campaign/{os.path.basename(run_dir)}")  # it polls until the journal appears
            page.wait_for_function("window.roseUi.updates > 0 || "
                                   "document.getElementById('gone').textContent.includes('no campaign')")
        time.sleep(SETTLE)  # the same pause in both cases: the engine's workers start meanwhile
        cpu0 = ui.cpu_seconds() if ui is not None else 0.0
        chrome0, wall0 = browser_cpu_seconds(), time.perf_counter()
        output = campaign.communicate("go\n")[0]
        wall = time.perf_counter() - wall0
        found = {"server": (ui.cpu_seconds() - cpu0) / wall if ui is not None else 0.0,
                 "chrome": (browser_cpu_seconds() - chrome0) / wall}
        _, rate, cpu = next(line for line in output.splitlines() if line.startswith("RATE")).split()
        found.update(rate=float(rate), cpu=float(cpu), seconds=iterations / float(rate))
        return found
    finally:
        if chromium is not None:
            chromium.close()
            driver.stop()
        if ui is not None:
            ui.stop()
        if awake is not None:
            awake.kill()
            awake.wait()


def throughput(args: argparse.Namespace, work: Path) -> None:
    """The same campaign without and with its page open: a discarded warm-up pair, then
    ``--reps`` pairs in the order without, with, without, with..."""
    median = statistics.median
    runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for rep in range(-args.warmup, args.reps):
        for with_page in (False, True):
            folder = work / f"tp-{rep + args.warmup}-{int(with_page)}"
            folder.mkdir()
            found = run_campaign(folder, args.campaign_iterations, with_page, not args.no_keep_awake)
            if rep >= 0:
                runs[with_page].append(found)
            print(f"throughput {'warm-up' if rep < 0 else f'rep {rep + 1}'} {'with page' if with_page else 'without  '}: "
                  f"{found['rate']:.0f} iterations/s over {found['seconds']:.1f} s, {found['cpu']:.0f} us campaign CPU "
                  f"per iteration"
                  + (f"; CPU share of one core: rose ui {100 * found['server']:.1f}%, Chromium {100 * found['chrome']:.1f}%"
                     if with_page else "")
                  + f"; load average {os.getloadavg()[0]:.1f}"
                  + ("  (under 10 s: raise --campaign-iterations)" if found["seconds"] < 10 else ""))
    pairs = [w["rate"] / wo["rate"] for wo, w in zip(runs[False], runs[True])]
    without, with_ = median(r["rate"] for r in runs[False]), median(r["rate"] for r in runs[True])
    cpu_without, cpu_with = median(r["cpu"] for r in runs[False]), median(r["cpu"] for r in runs[True])
    servers = [r["server"] for r in runs[True]]
    print(f"throughput: median without page {without:.0f} it/s, with page {with_:.0f} it/s, ratio {with_ / without:.3f} "
          f"(per pair: {', '.join(f'{p:.3f}' for p in pairs)}; target >= 0.95); campaign CPU per iteration median "
          f"without {cpu_without:.0f} us, with {cpu_with:.0f} us (ratio {cpu_without / cpu_with:.3f}); rose ui CPU median "
          f"{100 * median(servers):.1f}% of one core (max {100 * max(servers):.1f}%; target <= 5%), Chromium median "
          f"{100 * median(r['chrome'] for r in runs[True]):.1f}%; {args.reps} pairs after {args.warmup} warm-up, "
          f"{'without' if args.no_keep_awake else 'with'} the keep-awake neighbour in both arms; "
          f"load average {os.getloadavg()[0]:.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("paint", "throughput"), help="one measurement (cpu is part of throughput)")
    parser.add_argument("--iterations", type=int, default=100_000, help="iterations of the big campaign (100,000)")
    parser.add_argument("--tasks", type=int, default=9, help="task records per iteration of the big campaign (9)")
    parser.add_argument("--campaign-iterations", type=int, default=15_000, help="iterations of the live campaign (15,000)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (3)")
    parser.add_argument("--warmup", type=int, default=1, help="throughput: pairs run first and discarded (1)")
    parser.add_argument("--no-keep-awake", action="store_true",
                        help="throughput: no process keeping the CPUs awake alongside both arms (see KEEP_AWAKE)")
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
