"""Scenario 10 of ``benchmarks/run.py``: ROSE and its peers side by side, in one run.

Every measurement is one fresh process of ``worker.py``: the peers' from the benchmark
environment ``.venv-bench`` (``make bench-env``), ROSE's and the floor's from this
project's ``.venv``. The rounds interleave the tools (round 1: every tool, then round 2 ...),
and every ratio compares ROSE and a peer measured in the same round, so a change of
machine load between rounds moves both sides of a ratio.

Ratios are "higher is better for ROSE": for fan-out, ROSE local's tasks/s over the peer's;
for the AL loop and the executables, the peer's wall time over ROSE's; for the wrapping
cost, the raw engine's wall time over ROSE's on the same engine.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: one measurement: (side "bench" or "project", job parameters, timeout seconds) -> result
JobRunner = Callable[[str, dict[str, Any], float], dict[str, Any]]

ROSE = "rose-local"
#: the tools of the fan-out, AL-loop and executables workloads, in the order they run
TOOLS = ("threads", "dask-threads", "dask-distributed", "ray", "parsl-threads", "parsl-htex", ROSE, "rose-dask")
PEERS = tuple(t for t in TOOLS if not t.startswith("rose-"))
#: the floor: no framework (the issue's targets compare ROSE with it apart from the peers)
FLOOR_TOOL = "threads"
LABELS = {
    "threads": "concurrent.futures threads (floor)",
    "dask-threads": "Dask, threaded scheduler",
    "dask-distributed": "Dask distributed, LocalCluster (2 workers)",
    "ray": "Ray, local (num_cpus=2)",
    "parsl-threads": "Parsl, ThreadPoolExecutor",
    "parsl-htex": "Parsl, HighThroughputExecutor (2 workers)",
    ROSE: "ROSE, local backend",
    "rose-dask": "ROSE, dask backend (LocalCluster, 2 workers)",
    "rose-radical": "ROSE, radical backend (local.localhost pilot)",
}
VERSION_KEY = {
    "threads": "python", "dask-threads": "dask", "dask-distributed": "distributed", "ray": "ray",
    "parsl-threads": "parsl", "parsl-htex": "parsl", ROSE: "rose-core", "rose-dask": "rose-core",
}
RP_NOT_IN_FAN_OUT = (
    "not run: RADICAL-Pilot runs ~15-24 tasks/s on local.localhost (DESIGN.md section 8), so N=10^4 "
    "takes ~10 min per repetition; its wrapping cost is measured below on the same pilot"
)


@dataclass(frozen=True)
class PeerSizes:
    """How big scenario 10 is."""

    fan_out: tuple[int, ...] = (10_000,)
    #: fan-out sizes run once, after the rounds (their ratios are within that one round)
    fan_out_once: tuple[int, ...] = (100_000,)
    executables: int = 1_000
    al_iterations: int = 20
    rounds: int = 2
    wrapping_dask: int = 1_000
    wrapping_radical: int = 200  # 50 left the ratio inside the noise (1.09x from 30 tasks); 200: ~4 min
    wrapping_rounds: int = 3
    #: a wrapping job runs 2-3 sides x (warm-up + rounds) on one cluster / pilot
    wrapping_timeout: float = 900.0
    job_timeout: float = 180.0  # a tool slower than N / 180 s is reported as timed out
    #: the fan-out sizes run once get longer, and a tool whose throughput at the largest of
    #: ``fan_out`` predicts more than this is not started (the table says why) instead of
    #: being stopped at the timeout
    once_timeout: float = 300.0
    tools: tuple[str, ...] = TOOLS


FULL = PeerSizes()
SMOKE = PeerSizes(fan_out=(200,), fan_out_once=(), executables=20, al_iterations=2, rounds=1, wrapping_dask=100,
                  wrapping_radical=0, wrapping_rounds=1, job_timeout=240.0,
                  tools=("threads", "dask-threads", "parsl-threads", ROSE))


def side(tool: str) -> str:
    """Which interpreter runs ``tool``: this project's (ROSE, the floor) or the benchmark env's."""
    return "project" if tool.startswith("rose-") or tool == "threads" else "bench"


@dataclass
class Cell:
    """The repeated figures of one tool on one workload (one per round) and why any is missing."""

    values: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def median(self) -> float | None:
        """The median figure, or None."""
        return statistics.median(self.values) if self.values else None


@dataclass
class PeerResults:
    """Everything scenario 10 measured."""

    sizes: PeerSizes
    bench_python: str | None
    #: (workload, n) -> tool -> cell; fan-out cells hold tasks/s, the others wall seconds
    cells: dict[tuple[str, int], dict[str, Cell]] = field(default_factory=dict)
    #: per round: (workload, n) -> tool -> figure, for ratios within a round
    rounds: list[dict[tuple[str, int], dict[str, float]]] = field(default_factory=list)
    wrapping: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    missing_bench: str = ""

    def ratios(self, workload: str, n: int, tool: str) -> list[float]:
        """ROSE local against ``tool`` in every round both have (higher is better for ROSE)."""
        out = []
        for figures in self.rounds:
            here = figures.get((workload, n), {})
            if ROSE in here and tool in here and here[tool] > 0 and here[ROSE] > 0:
                rose, peer = here[ROSE], here[tool]
                out.append(rose / peer if workload == "fan-out" else peer / rose)
        return out


def run(job: JobRunner, sizes: PeerSizes, bench_python: str | None, missing_bench: str = "",
        log: Callable[[str], None] = print) -> PeerResults:
    """Run every tool on every workload for ``sizes.rounds`` rounds, then the wrapping pairs."""
    results = PeerResults(sizes, bench_python, missing_bench=missing_bench)
    tools = [t for t in sizes.tools if bench_python or side(t) == "project"]
    workloads = [("fan-out", n) for n in sizes.fan_out] + [("al-loop", sizes.al_iterations),
                                                           ("executables", sizes.executables)]
    for project_side in ("project", "bench"):
        if project_side == "bench" and not bench_python:
            continue
        found = job(project_side, {"job": "versions"}, 120.0)
        results.versions.update(found.get("versions", {}))
        results.versions.setdefault("python", str(found.get("python", "?")))
    for number in range(sizes.rounds):
        figures: dict[tuple[str, int], dict[str, float]] = {}
        results.rounds.append(figures)
        for workload, n in workloads + [("fan-out", n) for n in sizes.fan_out_once if number == sizes.rounds - 1]:
            for tool in tools:
                _measure(job, results, figures, tool, workload, n)
    if sizes.wrapping_dask:
        results.wrapping["dask"] = job("project", {"job": "wrapping_dask", "n": sizes.wrapping_dask,
                                                   "rounds": sizes.wrapping_rounds}, sizes.wrapping_timeout)
    if sizes.wrapping_radical:
        results.wrapping["radical-pilot"] = job("project", {"job": "wrapping_radical", "n": sizes.wrapping_radical,
                                                            "rounds": sizes.wrapping_rounds}, sizes.wrapping_timeout)
    for line in summary_lines(results):
        log(line)
    return results


def _measure(job: JobRunner, results: PeerResults, figures: dict[tuple[str, int], dict[str, float]], tool: str,
             workload: str, n: int) -> None:
    """One fresh-process measurement of ``tool``, kept in its cell and in this round's figures."""
    params: dict[str, Any] = {"job": "measure", "peer": tool, "workload": workload, "n": n}
    if workload == "al-loop":
        params.update(n=0, iterations=n)
    cell = results.cells.setdefault((workload, n), {}).setdefault(tool, Cell())
    timeout = results.sizes.job_timeout
    if workload == "fan-out" and n in results.sizes.fan_out_once:
        timeout = results.sizes.once_timeout
        too_slow = predicted_too_slow(results, tool, n, timeout)
        if too_slow:
            cell.errors.append(too_slow)
            return
    result = job(side(tool), params, timeout)
    if not result.get("ok"):
        cell.errors.append(_first_line(result.get("error")))
        return
    value = float(result["tasks_per_second"] if workload == "fan-out" else result["seconds"])
    cell.values.append(value)
    if "cpu_us_per_task" in result:
        cell.cpu_us.append(float(result["cpu_us_per_task"]))
    figures.setdefault((workload, n), {})[tool] = value


def predicted_too_slow(results: PeerResults, tool: str, n: int, timeout: float) -> str | None:
    """Why ``tool`` is not started for a fan-out of ``n``: its median throughput at the largest
    size already measured says the timed run alone would outlast ``timeout`` (None: run it)."""
    measured = sorted(m for m in results.sizes.fan_out if m < n and results.cells.get(("fan-out", m), {}).get(tool))
    if not measured:
        return None
    largest = measured[-1]
    cell = results.cells[("fan-out", largest)][tool]
    rate = cell.median()
    if rate is None and cell.errors:
        return f"not run: it did not finish N={largest:,} ({cell.errors[0]})"
    if rate is None or rate <= 0:
        return None
    seconds = n / rate
    if seconds <= timeout:
        return None
    return (f"not run: {rate:,.0f} tasks/s at N={largest:,} predicts {seconds:,.0f} s for N={n:,}, beyond the "
            f"{timeout:.0f} s job timeout")


def _first_line(error: Any) -> str:
    text = str(error or "failed").strip().splitlines()
    return (text[0] if text else "failed")[:200]


# -- what scripts read ---------------------------------------------------------------------------------
def summary_lines(results: PeerResults) -> list[str]:
    """``peers: <workload> <peer>: ROSE/peer = <ratio>x`` lines (median over rounds)."""
    lines = []
    for (workload, n), cells in results.cells.items():
        suffix = f" (N={n})" if workload == "fan-out" else ""
        for tool in cells:
            if tool.startswith("rose-"):
                continue
            ratios = results.ratios(workload, n, tool)
            if ratios:
                lines.append(f"peers: {workload} {tool}: ROSE/peer = {statistics.median(ratios):.3f}x{suffix}"
                             f" [rounds: {', '.join(f'{r:.3f}' for r in ratios)}]")
            else:
                lines.append(f"peers: {workload} {tool}: ROSE/peer = n/a{suffix} ({why_missing(results, workload, n, tool)})")
    for engine, result in results.wrapping.items():
        if result.get("ok"):
            ratios = [1.0 / r for r in result["rose_over_raw"]]
            lines.append(f"peers: wrapping {engine}: ROSE/peer = {statistics.median(ratios):.3f}x"
                         f" [rounds: {', '.join(f'{r:.3f}' for r in ratios)}]")
        else:
            lines.append(f"peers: wrapping {engine}: ROSE/peer = n/a ({_first_line(result.get('error'))})")
    return lines


def why_missing(results: PeerResults, workload: str, n: int, tool: str) -> str:
    """Why a ratio has no value."""
    cells = results.cells.get((workload, n), {})
    for name in (tool, ROSE):
        cell = cells.get(name)
        if cell is not None and cell.errors and not cell.values:
            return f"{name} failed: {cell.errors[0]}"
    return "not measured"


# -- the targets -------------------------------------------------------------------------------------------
def targets(results: PeerResults) -> dict[str, tuple[list[float], str]]:
    """Per target: its per-round values (ROSE-side ratios as the issue states them) and how it is read."""
    out: dict[str, tuple[list[float], str]] = {}
    fan_out = []
    for figures in results.rounds:
        worst = [figures[(w, n)][ROSE] / figures[(w, n)][t] for (w, n) in figures if w == "fan-out"
                 for t in figures[(w, n)] if t in PEERS and t != FLOOR_TOOL and ROSE in figures[(w, n)]]
        if worst:
            fan_out.append(min(worst))
    out["fan-out"] = (fan_out, "ROSE local tasks/s over the fastest peer's (floor excluded; lowest over both N), "
                               ">= 1.0x")
    for engine in ("dask", "radical-pilot"):
        wrapped = results.wrapping.get(engine, {})
        out[f"wrapping-{engine}"] = (list(wrapped.get("rose_over_raw", [])) if wrapped.get("ok") else [],
                                     f"ROSE on {engine} wall time over the same tasks sent to it directly, <= 1.10x")
    key = ("al-loop", results.sizes.al_iterations)
    floor = [f[key][ROSE] / f[key][FLOOR_TOOL] for f in results.rounds
             if ROSE in f.get(key, {}) and FLOOR_TOOL in f.get(key, {})]
    out["al-loop-floor"] = (floor, "ROSE wall time over the floor's, <= 1.02x")
    ahead = []
    for f in results.rounds:
        here = f.get(key, {})
        peers = [here[t] for t in here if t in PEERS and t != FLOOR_TOOL]
        if ROSE in here and peers:
            ahead.append(here[ROSE] / min(peers))
    out["al-loop-peers"] = (ahead, "ROSE wall time over the fastest peer's (floor excluded), < 1.0x")
    return out


# -- results.md ------------------------------------------------------------------------------------------
def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "tasks/s":
        return f"{value:,.0f} tasks/s"
    if unit == "s":
        return f"{value:.3g} s"
    return f"{value:.3g} {unit}"


def markdown(results: PeerResults, plot: str | None) -> list[str]:
    """Scenario 10's section of ``results.md``."""
    s = results.sizes
    v = results.versions
    lines = [
        "## 10. Peers side by side",
        "",
        "Each tool written the way its own documentation teaches (`benchmarks/peers/`), two workers each, "
        "a warm-up before every timed run, every run a fresh process; the peers from `.venv-bench` "
        "(`make bench-env`), ROSE and the floor from the project's `.venv` (same Python "
        f"{v.get('python', '?')}). Versions: Dask {v.get('dask', '-')}, distributed {v.get('distributed', '-')}, "
        f"Ray {v.get('ray', '-')}, Parsl {v.get('parsl', '-')}, rose-core {v.get('rose-core', '-')}, "
        f"radical.pilot {v.get('radical.pilot', '-')}. Medians of {s.rounds} rounds (fan-out at "
        f"{', '.join(f'{n:,}' for n in s.fan_out_once) or '-'}: one, in the last round); the spread is min-max; "
        f"a job (start, warm-up, timed run) is stopped after {s.job_timeout:.0f} s "
        f"({s.once_timeout:.0f} s at {', '.join(f'{n:,}' for n in s.fan_out_once) or '-'}, where a tool whose "
        "throughput at the smaller N predicts longer is not started); "
        "ratios compare ROSE local with each tool within a round (higher is better for ROSE): fan-out "
        "tasks/s ROSE / tool, the others wall time tool / ROSE.",
        "",
    ]
    if results.missing_bench:
        lines += [f"**The peers were not run:** {results.missing_bench}", ""]
    lines += ["| workload | N | tool | version | median | spread | CPU per task | ROSE local / tool |",
              "|---|---:|---|---|---:|---|---:|---:|"]
    for (workload, n), cells in results.cells.items():
        unit = "tasks/s" if workload == "fan-out" else "s"
        size = f"{n:,}" if workload != "al-loop" else f"{n} iterations"
        for tool, cell in cells.items():
            spread = (f"{_fmt(min(cell.values), unit)} - {_fmt(max(cell.values), unit)}"
                      if len(cell.values) > 1 else "-")
            if not cell.values:
                median = "failed: " + (cell.errors[0] if cell.errors else "?")
            else:
                median = _fmt(cell.median(), unit)
                if cell.errors:
                    median += f" ({len(cell.errors)} failed: {cell.errors[0]})"
            cpu = f"{statistics.median(cell.cpu_us):,.0f} us" if cell.cpu_us else "-"
            ratios = results.ratios(workload, n, tool)
            ratio = ("-" if tool == ROSE else
                     (f"{statistics.median(ratios):.3f}x" + (f" ({min(ratios):.3f}-{max(ratios):.3f})"
                                                             if len(ratios) > 1 else "")) if ratios else "n/a")
            lines.append(f"| {workload} | {size} | {LABELS.get(tool, tool)} | {v.get(VERSION_KEY.get(tool, ''), '-')} "
                         f"| {median} | {spread} | {cpu} | {ratio} |")
        if workload == "fan-out":
            lines.append(f"| {workload} | {size} | {LABELS['rose-radical']} | {v.get('rose-core', '-')} "
                         f"| {RP_NOT_IN_FAN_OUT} | - | - | - |")
    lines += ["", "Wrapping cost: ROSE on an engine against the same tasks submitted to that engine directly, "
              "alternated in one process on one cluster / pilot:", "",
              "| engine | N | raw (median) | through ROSE (median) | ROSE / raw (every round) | target |",
              "|---|---:|---:|---:|---|---|"]
    for engine, result in results.wrapping.items():
        if not result.get("ok"):
            lines.append(f"| {engine} | - | failed: {_first_line(result.get('error'))} | - | - | <= 1.10x |")
            continue
        secs = result["seconds"]
        raw_keys = [k for k in secs if k != "rose"]
        raw = "; ".join(f"{k}: {statistics.median(secs[k]):.3g} s" for k in raw_keys)
        lines.append(f"| {engine} | {result['tasks']:,} | {raw} | {statistics.median(secs['rose']):.3g} s | "
                     f"{', '.join(f'{r:.3f}x' for r in result['rose_over_raw'])} | <= 1.10x (against "
                     f"{'Client.submit per task' if engine == 'dask' else 'a plain TaskManager'}) |")
    lines += ["", "CPU per task: the worker process and its child processes (cluster workers, Ray's raylet "
              "and workers, Parsl's interchange and workers) from psutil, over the timed section.", ""]
    if plot:
        lines += [f"![fan-out throughput against N]({plot})", ""]
    return lines


def plot(results: PeerResults, path: Path) -> bool:
    """Fan-out throughput against N for each tool (log-log); False without matplotlib or data."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    series: dict[str, list[tuple[int, float]]] = {}
    for (workload, n), cells in results.cells.items():
        if workload != "fan-out":
            continue
        for tool, cell in cells.items():
            median = cell.median()
            if median is not None:
                series.setdefault(tool, []).append((n, median))
    if not series:
        return False
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for tool, points in series.items():
        points.sort()
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                  linewidth=2.5 if tool == ROSE else 1.2, label=LABELS.get(tool, tool))
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("N no-op tasks from one driver")
    axes.set_ylabel("tasks/s (median)")
    axes.set_title("Fan-out throughput, 2 workers each, same machine, same run")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7, loc="best")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
