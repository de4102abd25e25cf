"""``make bench``: ROSE's overhead against bare asyncio and ROSE 0.3, in one command.

Every scenario runs for this project, for ROSE 0.3 (``rose-surrogate-explorer`` 0.3.0,
installed by this script into ``benchmarks/.rose03-venv``) on the same backend kind, and
for the floor (the same work in bare asyncio). Each run is a fresh process; the table
shows medians of several repetitions, the ratios and whether each target is met, and is
written with the machine, versions and date to ``benchmarks/results.md``.

    python benchmarks/run.py                 # the full run (~10-15 min on 2 cores)
    python benchmarks/run.py --reps 3        # fewer repetitions
    python benchmarks/run.py --smoke --no-rose03 --output /tmp/r.md   # what CI runs
    python benchmarks/run.py --only 1,4      # some scenarios
    python benchmarks/run.py --only 10       # ROSE against Dask, Ray, Parsl (needs `make bench-env`)
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import keep_awake
from peers import scenario as peers

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ROSE03_REQUIREMENT = "rose-surrogate-explorer==0.3.0"
ROSE03_VENV = HERE / ".rose03-venv"
OURS, ROSE03, FLOOR = "this project", "ROSE 0.3", "floor"
IMPLS = (OURS, ROSE03, FLOOR)
WORKERS = {OURS: HERE / "_rose_workloads.py", ROSE03: HERE / "_rose03_workloads.py", FLOOR: HERE / "_floor.py"}
JOB_TIMEOUT = 1800.0
#: scenario 10: the peers (Dask, Ray, Parsl) live in their own environment, never in the project's
BENCH_VENV = ROOT / ".venv-bench"
PEERS_PROJECT, PEERS_BENCH = "peers (project)", "peers (bench env)"
WORKERS.update({PEERS_PROJECT: HERE / "peers" / "worker.py", PEERS_BENCH: HERE / "peers" / "worker.py"})


# -- sizes -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sizes:
    """How big each scenario is and how often it is repeated."""

    reps: int = 5  # repetitions of the quick measurements
    slow_reps: int = 3  # repetitions of the long ones (50 ms tasks, parallel learners)
    startup_reps: int = 10  # fresh-process start-up timings
    loop_iterations: int = 100
    loop50_iterations: int = 100
    loop50_iterations_rose03: int = 20  # ROSE 0.3 needs ~1.2 s per iteration here
    exec_iterations: int = 100
    parallel: tuple[int, int] = (256, 10)
    many: tuple[int, int] = (1000, 3)
    tracking_iterations: int = 100
    tracking_long_iterations: int = 1000  # scenario 5 again, long enough for several MLflow writes
    tracking_rounds: int = 10  # pairs (without, with the tracker) per process in scenario 5
    steady_reps: int = 3  # seeds per mode in scenario 6
    steady_in_flight: int = 8
    steady_target: float = 3.0  # hold-out RMSE (m) both modes must reach
    in_flight: tuple[int, int] = (1_000, 10_000)  # scenario 7
    concurrent_learners: int = 10_000  # scenario 7
    journal_records: int = 1_000_000  # scenario 8


FULL = Sizes()
SMOKE = Sizes(
    reps=1, slow_reps=1, startup_reps=1, loop_iterations=5, loop50_iterations=2, loop50_iterations_rose03=2,
    exec_iterations=3, parallel=(8, 2), many=(16, 2), tracking_iterations=3, tracking_long_iterations=6, tracking_rounds=1,
    steady_reps=1, steady_in_flight=4, steady_target=8.0, in_flight=(50, 200), concurrent_learners=50,
    journal_records=20_000,
)


# -- running workers -----------------------------------------------------------------------------
@dataclass
class Runner:
    """Starts worker processes and keeps what they report."""

    pythons: dict[str, str]
    verbose: bool = True
    log: list[str] = field(default_factory=list)
    #: where the campaigns of scenarios 1-9 write (their job folders, ``TMPDIR``); None: the system's
    work_dir: str | None = None

    def script_env(self) -> dict[str, str]:
        """The environment of a scenario script (steady_state.py, spawn.py...): its temporary folders in ``work_dir``."""
        return {**os.environ, "TMPDIR": self.work_dir} if self.work_dir else dict(os.environ)

    def job(self, impl: str, name: str, verbose: bool = True, timeout: float = JOB_TIMEOUT,
            **params: Any) -> dict[str, Any]:
        """Run job ``name`` of ``impl``'s worker in a fresh process and return its result.

        The worker gets a process group of its own: on a timeout the whole group (cluster
        workers, a Ray raylet, Parsl's interchange...) is killed, not only the worker.
        """
        python = self.pythons[impl]
        # ROSE, ROSE 0.3, the floor: in work_dir. The peers keep the system's temporary folder: Ray puts
        # its sockets under TMPDIR, and a path in a checkout is longer than AF_UNIX allows (107 bytes)
        work_dir = self.work_dir if impl in (OURS, ROSE03, FLOOR) else None
        with _job_folder(work_dir) as tmp:
            result_path = os.path.join(tmp, "result.json")
            env = {
                **os.environ,
                "ROSE_RUNS_DIR": os.path.join(tmp, "runs"),
                "MLFLOW_TRACKING_URI": "sqlite:///" + os.path.join(tmp, "mlflow.db"),
                **({"TMPDIR": tmp} if work_dir else {}),
            }
            command = [python, str(WORKERS[impl]), json.dumps({"job": name, **params}), result_path]
            started = time.perf_counter()
            with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp,
                                  env=env, start_new_session=True) as proc:
                try:
                    _, stderr = proc.communicate(timeout=timeout)
                except subprocess.TimeoutExpired:
                    _kill_group(proc)
                    return {"ok": False, "error": f"timed out after {timeout:.0f} s (load {_load()})"}
                except BaseException:  # Ctrl-C: the worker's session does not get the terminal's SIGINT
                    _kill_group(proc)
                    raise
                _kill_group(proc)  # whatever the worker left behind (a cluster worker, a raylet...)
            wall = time.perf_counter() - started
            if not os.path.exists(result_path):
                tail = "\n".join(stderr.strip().splitlines()[-5:])
                return {"ok": False, "error": f"worker exited with {proc.returncode}: {tail}"}
            with open(result_path, encoding="utf-8") as handle:
                result: dict[str, Any] = json.load(handle)
        result["process_seconds"] = wall
        if self.verbose and verbose:
            brief = result.get("error") or ", ".join(
                f"{k}={_fmt(result[k])}" for k in ("per_iteration_ms", "tasks_per_second", "hop_median_ms", "peak_delta_mb",
                                                   "rose_over_raw_median")
                if k in result
            )
            print(f"  {impl:<12} {name:<16} {json.dumps(params, sort_keys=True):<60} {brief}", file=sys.stderr)
        return result

    def fresh_process(self, impl: str, argv: Sequence[str]) -> dict[str, Any]:
        """Wall time of a fresh process (and the float it prints last, if any)."""
        started = time.perf_counter()
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=120, check=False,
            cwd=tempfile.gettempdir(),
        )
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            return {"ok": False, "error": f"{' '.join(argv[:3])} exited with {proc.returncode}: {proc.stderr[-300:]}"}
        result: dict[str, Any] = {"ok": True, "wall_ms": 1000 * wall}
        lines = proc.stdout.strip().splitlines()
        try:
            inprocess, cpu = lines[-1].split()
            result["inprocess_ms"], result["inprocess_cpu_ms"] = 1000 * float(inprocess), 1000 * float(cpu)
        except (IndexError, ValueError):
            pass
        return result


@contextlib.contextmanager
def _job_folder(work_dir: str | None) -> Iterator[str]:
    """A fresh folder for one job. In ``work_dir`` it stays until the run ends (``main`` removes
    ``work_dir``): deleting thousands of files between two jobs made the next job's file creations
    cost up to 20x the kernel CPU on this VM's disk (ext4 without a journal walks past recently
    deleted inodes), which scenario 3e counted as ROSE's own work."""
    if work_dir is not None:
        yield tempfile.mkdtemp(prefix="job-", dir=work_dir)
        return
    with tempfile.TemporaryDirectory(prefix="rose-bench-") as tmp:
        yield tmp


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the process group of ``proc`` (the worker's own session), then reap the worker."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.communicate()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# -- measurements and the table ----------------------------------------------------------------
@dataclass
class Measure:
    """One row of the table: the repeated values per implementation and the target."""

    key: str
    label: str
    unit: str
    values: dict[str, list[float]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    target: str = ""
    check: Callable[[dict[str, float]], bool | None] | None = None
    higher_is_better: bool = False

    def median(self, impl: str) -> float | None:
        """The median of ``impl``'s values (None if it has none)."""
        values = self.values.get(impl)
        return statistics.median(values) if values else None

    def medians(self) -> dict[str, float]:
        """Medians of every implementation that has values."""
        return {impl: m for impl in IMPLS if (m := self.median(impl)) is not None}

    def met(self) -> bool | None:
        """Whether the target is met (None: no target, or no value for this project)."""
        if self.check is None or OURS not in self.medians():
            return None
        return self.check(self.medians())


def _add(measure: Measure, impl: str, result: dict[str, Any], key: str, scale: float = 1.0) -> None:
    if not result.get("ok"):
        measure.notes[impl] = "failed: " + str(result.get("error", "?")).splitlines()[0][:160]
        return
    if key in result and result[key] is not None:
        measure.values.setdefault(impl, []).append(float(result[key]) * scale)


def _cell(value: float | None, unit: str, note: str = "") -> str:
    if value is None:
        return note or "n/a"
    if unit == "x":
        text = f"{value:.3f}x"
    elif unit in ("ms", "MB") or value < 100:
        text = f"{value:.4g} {unit}" if value < 1000 else f"{value:,.0f} {unit}"
    else:
        text = f"{value:,.0f} {unit}"
    return text.strip()


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    ratio = a / b
    if ratio >= 100:
        return f"{ratio:,.0f}x"
    return f"{ratio:.3g}x"


def render_table(measures: Sequence[Measure]) -> list[str]:
    """The result table as Markdown lines."""
    lines = [
        f"| measure | {OURS} | {ROSE03} | {FLOOR} | project / floor | ROSE 0.3 / project | target | met |",
        "|---|---:|---:|---:|---:|---:|---|:---:|",
    ]
    for m in measures:
        med = m.medians()
        ours, old, floor = med.get(OURS), med.get(ROSE03), med.get(FLOOR)
        if m.higher_is_better:
            speedup = _ratio(ours, old)
        else:
            speedup = _ratio(old, ours)
        met = m.met()
        lines.append(
            f"| {m.label} | {_cell(ours, m.unit, m.notes.get(OURS, ''))} | {_cell(old, m.unit, m.notes.get(ROSE03, ''))} "
            f"| {_cell(floor, m.unit, m.notes.get(FLOOR, ''))} | {_ratio(ours, floor)} | {speedup} | {m.target} "
            f"| {'-' if met is None else ('yes' if met else '**no**')} |"
        )
    return lines


def render_plain(measures: Sequence[Measure]) -> str:
    """The result table for a terminal (aligned columns)."""
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in render_table(measures)]
    rows = [rows[0]] + rows[2:]
    rows = [[c.replace("**", "") for c in row] for row in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


# -- scenarios ---------------------------------------------------------------------------------
@dataclass
class Bench:
    """The whole run: which implementations, sizes, and the collected measures."""

    runner: Runner
    sizes: Sizes
    impls: tuple[str, ...]
    rose03_backend: dict[str, Any]
    rose03_mlflow: bool
    tracker: str = "mlflow"
    #: where the results file goes: its figures go to ``img/`` beside it (see :meth:`figure`)
    output: Path = HERE / "results.md"
    measures: list[Measure] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def figure(self, name: str, published: Path | None = None) -> tuple[Path, str]:
        """Where figure ``name`` is written, and its link relative to the results file.

        The default results file (``benchmarks/results.md``) keeps its figures in
        ``benchmarks/img/``, and ``published`` (a figure the docs show) is overwritten only then;
        any other ``--output`` gets its own ``img/`` folder, so a partial or trial run never
        rewrites the checkout's figures.
        """
        if self.output.resolve() == (HERE / "results.md").resolve() and published is not None:
            return published, os.path.relpath(published, self.output.parent)
        return self.output.parent / "img" / name, f"img/{name}"

    def params(self, impl: str, **params: Any) -> dict[str, Any]:
        """Job parameters, plus the backend class and worker count for ROSE 0.3."""
        if impl == ROSE03:
            return {**params, **self.rose03_backend}
        return params

    def repeat(self, reps: int, impls: Sequence[str], run: Callable[[str], None]) -> None:
        """Run ``run(impl)`` ``reps`` times per implementation, interleaved."""
        for _ in range(reps):
            for impl in impls:
                if impl in self.impls:
                    run(impl)

    # 1. loop overhead
    def scenario1(self) -> None:
        """Sequential AL loop of four function tasks: no-op, then 50 ms tasks."""
        s = self.sizes
        noop = Measure("1a", f"1a. sequential loop, {s.loop_iterations} iterations of 4 no-op function tasks: per iteration",
                       "ms")
        noop_cpu = Measure("1a-cpu", "1a. its CPU time per iteration (all threads)", "ms")
        over = Measure("1a+", "1a. overhead above the floor, per iteration", "ms", target="< 5 ms/iteration")
        over.check = lambda med: med[OURS] < 5.0
        slow = Measure("1b", f"1b. the same loop with 50 ms tasks ({s.loop50_iterations} iterations): per iteration",
                       "ms", target="<= 1.05x floor")
        slow.check = lambda med: FLOOR in med and med[OURS] <= 1.05 * med[FLOOR]

        def run_noop(impl: str) -> None:
            result = self.runner.job(impl, "loop", **self.params(impl, iterations=s.loop_iterations, task_seconds=0.0))
            _add(noop, impl, result, "per_iteration_ms")
            if impl != FLOOR:
                _add(noop_cpu, impl, result, "cpu_seconds", 1000.0 / s.loop_iterations)

        def run_slow(impl: str) -> None:
            iterations = s.loop50_iterations_rose03 if impl == ROSE03 else s.loop50_iterations
            _add(slow, impl, self.runner.job(impl, "loop", **self.params(impl, iterations=iterations,
                                                                           task_seconds=0.05)), "per_iteration_ms")

        self.repeat(s.reps, IMPLS, run_noop)
        floor = noop.median(FLOOR) or 0.0
        for impl in (OURS, ROSE03):
            if noop.values.get(impl):
                over.values[impl] = [v - floor for v in noop.values[impl]]
            elif impl in noop.notes:
                over.notes[impl] = noop.notes[impl]
        over.values[FLOOR] = [0.0]
        self.repeat(s.slow_reps, IMPLS, run_slow)
        if s.loop50_iterations_rose03 != s.loop50_iterations and ROSE03 in self.impls:
            slow.notes["detail"] = f"ROSE 0.3 measured over {s.loop50_iterations_rose03} iterations"
        noop_cpu.notes[FLOOR] = "-"
        self.measures += [noop, over, noop_cpu, slow]

    # 2. executable loop
    def scenario2(self) -> None:
        """The loop with `date +%s%N` commands: per iteration and exit -> dependent start."""
        s = self.sizes
        per_iter = Measure("2a", f"2a. executable loop, {s.exec_iterations} iterations of 4 `date` commands: per iteration", "ms")
        hop = Measure("2b", "2b. task exit -> dependent start, median", "ms", target="<= floor + 2 ms")
        hop.check = lambda med: FLOOR in med and med[OURS] <= med[FLOOR] + 2.0
        p95 = Measure("2c", "2c. task exit -> dependent start, p95", "ms")

        def run(impl: str) -> None:
            result = self.runner.job(impl, "executable_loop", **self.params(impl, iterations=s.exec_iterations))
            _add(per_iter, impl, result, "per_iteration_ms")
            _add(hop, impl, result, "hop_median_ms")
            _add(p95, impl, result, "hop_p95_ms")

        self.repeat(s.reps, IMPLS, run)
        self.measures += [per_iter, hop, p95]

    # 3. throughput
    def scenario3(self) -> None:
        """Many parallel learners of no-op function tasks: tasks/s and memory."""
        s = self.sizes
        (p, n), (bp, bn) = s.parallel, s.many
        rate = Measure("3a", f"3a. {p} parallel learners x {n} iterations: throughput", "tasks/s",
                       target=">= 10,000 tasks/s", higher_is_better=True)
        rate.check = lambda med: med[OURS] >= 10000.0
        cpu = Measure("3a-cpu", "3a. CPU time per task (all threads)", "ms")
        own = Measure("3e", f"3e. the same ({p} x {n}) on a no-op backend: ROSE's own CPU time per task", "us",
                      target="<= 50 us")
        own.check = lambda med: med[OURS] <= 50.0
        memory = Measure("3b", f"3b. {p} x {n}: peak memory above start", "MB")
        many_time = Measure("3c", f"3c. {bp} parallel learners x {bn} iterations: wall time", "s", target="completes")
        many_time.check = lambda med: True
        many_memory = Measure("3d", f"3d. {bp} x {bn}: peak memory above start", "MB")

        def run(impl: str) -> None:
            result = self.runner.job(impl, "parallel", **self.params(impl, learners=p, iterations=n))
            _add(rate, impl, result, "tasks_per_second")
            if impl != FLOOR:
                _add(cpu, impl, result, "cpu_ms_per_task")
            _add(memory, impl, result, "peak_delta_mb")

        def run_many(impl: str) -> None:
            result = self.runner.job(impl, "parallel", **self.params(impl, learners=bp, iterations=bn))
            _add(many_time, impl, result, "seconds")
            _add(many_memory, impl, result, "peak_delta_mb")
            if result.get("ok") and impl != FLOOR:
                self.extra.setdefault("many", {})[impl] = {
                    k: result.get(k) for k in ("tasks", "states", "tasks_per_second", "peak_rss_mb")
                }

        def run_own(impl: str) -> None:
            _add(own, impl, self.runner.job(impl, "own_work", learners=p, iterations=n), "cpu_us_per_task")

        self.repeat(s.slow_reps, IMPLS, run)
        self.repeat(1, IMPLS, run_many)
        self.repeat(s.slow_reps, (OURS,), run_own)
        cpu.notes[FLOOR] = "-"
        self.measures += [rate, cpu, memory, many_time, many_memory, own]

    # 4. start-up
    def scenario4(self) -> None:
        """``import rose`` + plugin discovery, and ``rose plugins``, in fresh processes."""
        s = self.sizes
        imp = Measure("4a", "4a. `import rose` + plugin discovery, fresh process (wall)", "ms", target="< 150 ms")
        imp.check = lambda med: med[OURS] < 150.0
        imp_in = Measure("4b", "4b. the same, inside the process (without interpreter start)", "ms")
        imp_cpu = Measure("4b+", "4b. its CPU time", "ms")
        cli = Measure("4c", "4c. `rose plugins`, fresh process (wall)", "ms", target="< 150 ms")
        cli.check = lambda med: med[OURS] < 150.0
        code = (
            "import time; t, c = time.perf_counter(), time.process_time(); import rose{extra}; "
            "print(time.perf_counter() - t, time.process_time() - c)"
        )
        ours_code = code.format(extra=", rose.plugins; rose.plugins.registry()")
        old_code = code.format(extra="")
        # one untimed start of each first: compiled bytecode and caches as a user's second run finds them
        for impl, code_line in ((OURS, ours_code), (ROSE03, old_code)):
            if impl in self.impls:
                self.runner.fresh_process(impl, [self.runner.pythons[impl], "-c", code_line])
        for _ in range(s.startup_reps):
            if OURS in self.impls:
                python = self.runner.pythons[OURS]
                r = self.runner.fresh_process(OURS, [python, "-c", ours_code])
                _add(imp, OURS, r, "wall_ms")
                _add(imp_in, OURS, r, "inprocess_ms")
                _add(imp_cpu, OURS, r, "inprocess_cpu_ms")
                _add(cli, OURS, self.runner.fresh_process(OURS, [_script(python, "rose"), "plugins"]), "wall_ms")
            if ROSE03 in self.impls:
                python = self.runner.pythons[ROSE03]
                r = self.runner.fresh_process(ROSE03, [python, "-c", old_code])
                _add(imp, ROSE03, r, "wall_ms")
                _add(imp_in, ROSE03, r, "inprocess_ms")
                _add(imp_cpu, ROSE03, r, "inprocess_cpu_ms")
                _add(cli, ROSE03, self.runner.fresh_process(ROSE03, [_script(python, "rose"), "--help"]), "wall_ms")
            if FLOOR in self.impls:
                r = self.runner.fresh_process(FLOOR, [self.runner.pythons[FLOOR], "-c", "pass"])
                _add(imp, FLOOR, r, "wall_ms")
                _add(cli, FLOOR, r, "wall_ms")
                imp_in.values.setdefault(FLOOR, []).append(0.0)
                imp_cpu.values.setdefault(FLOOR, []).append(0.0)
        if ROSE03 in self.impls:
            cli.notes["detail"] = "ROSE 0.3 has no `rose plugins`: its `rose --help` is timed"
        self.measures += [imp, imp_in, imp_cpu, cli]

    # 5. tracking cost
    def scenario5(self) -> None:
        """Scenario 1a with a tracker (MLflow on a local sqlite store) vs without, alternated."""
        s = self.sizes
        tracker = self.tracker
        if tracker == "mlflow" and OURS in self.impls and not _has_module(self.runner.pythons[OURS], "rose_plugin_mlflow"):
            self.extra["scenario5"] = "skipped: the mlflow plugin (rose-plugin-mlflow) is not installed"
            return
        name = "the MLflow tracker (sqlite store)" if tracker == "mlflow" else f"the {tracker!r} tracker"
        without = Measure("5a", f"5a. scenario 1a ({s.tracking_iterations} iterations), loop time per iteration "
                                "without a tracker", "ms")
        with_t = Measure("5b", f"5b. the same with {name}", "ms")
        ratio = Measure("5c", "5c. loop slowdown with the tracker", "x", target="<= 1.05x")
        ratio.check = lambda med: med[OURS] <= 1.05
        steady = Measure("5c+", "5c. slowdown over the second half of the loop (steady state)", "x")
        long = Measure("5c++", f"5c. slowdown of a {s.tracking_long_iterations}-iteration loop", "x")
        cpu = Measure("5d", "5d. CPU time of the campaign's own process per iteration, with / without", "x")
        fixed = Measure("5e", "5e. the tracker's per-campaign cost (start + final flush)", "s")
        first = Measure("5f", "5f. the first tracked campaign of a process: extra wall time (tracker start-up)", "s")
        measures = [without, with_t, ratio, steady, long, cpu, fixed, first]
        impls = [i for i in (OURS, ROSE03) if i != ROSE03 or (self.rose03_mlflow and tracker == "mlflow")]

        def median_of(runs: list[dict[str, float]], key: str) -> float:
            return statistics.median(r[key] for r in runs)

        def run(impl: str) -> None:
            # ROSE 0.3 takes ~54 ms per iteration: fewer pairs, and no 1000-iteration loop (an hour)
            rounds = s.tracking_rounds if impl == OURS else min(2, s.tracking_rounds)
            base = self.params(impl, rounds=rounds, tracker=tracker)
            short = self.runner.job(impl, "tracking", iterations=s.tracking_iterations, **base)
            longer = (self.runner.job(impl, "tracking", iterations=s.tracking_long_iterations, **base)
                      if impl == OURS else None)
            if not short.get("ok") or (longer is not None and not longer.get("ok")):
                for m in measures:
                    m.notes[impl] = short.get("error") or (longer or {}).get("error") or "failed"
                return
            plain, tracked = short["plain"], short["tracked"]
            for m, value in (
                (without, median_of(plain, "loop_ms")),
                (with_t, median_of(tracked, "loop_ms")),
                (ratio, median_of(tracked, "loop_ms") / median_of(plain, "loop_ms")),
                (steady, median_of(tracked, "tail_ms") / median_of(plain, "tail_ms")),
                *([(long, median_of(longer["tracked"], "loop_ms") / median_of(longer["plain"], "loop_ms"))]
                  if longer is not None else []),
                (cpu, median_of(tracked, "cpu_ms") / median_of(plain, "cpu_ms")),
                (fixed, median_of(tracked, "outside_s") - median_of(plain, "outside_s")),
                (first, short["first_extra_seconds"]),
            ):
                m.values.setdefault(impl, []).append(value)

        self.repeat(s.reps, impls, run)
        if ROSE03 in self.impls and ROSE03 not in impls:
            reason = "not run (--no-rose03-mlflow)" if tracker == "mlflow" else f"ROSE 0.3 has no {tracker!r} tracker"
            for m in measures:
                m.notes[ROSE03] = reason
        if ROSE03 in impls:
            long.notes[ROSE03] = "not run (about an hour at 54 ms per iteration)"
        for m in measures:
            m.notes[FLOOR] = "-"
        self.measures += measures


    # 6. steady-state active learning
    def scenario6(self) -> None:
        """Steady-state vs synchronous batch active learning to the same target (benchmarks/steady_state.py)."""
        s = self.sizes
        speed = Measure("6", f"6. steady-state speedup to the target error ({s.steady_in_flight} simulations in flight, "
                             "lognormal 0.2-2 s), median wall time synchronous / steady", "x", target=">= 1.5x",
                        higher_is_better=True)
        speed.check = lambda med: med[OURS] >= 1.5
        sims = Measure("6+", "6. simulations used, steady / synchronous (medians)", "x", target="<= 1.1x")
        sims.check = lambda med: med[OURS] <= 1.1
        argv = [self.runner.pythons[OURS], str(HERE / "steady_state.py"), "--reps", str(s.steady_reps),
                "--in-flight", str(s.steady_in_flight), "--target", str(s.steady_target)]
        if s is FULL:
            argv += ["--plot", str(self.figure("steady_state.png", ROOT / "docs" / "img" / "steady_state.png")[0])]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=JOB_TIMEOUT, check=False, cwd=HERE,
                              env=self.runner.script_env())
        if self.runner.verbose:
            print(proc.stdout, file=sys.stderr)
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines or not lines[-1].startswith("steady-state speedup to target:"):
            speed.notes[OURS] = f"failed: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}"
        else:
            speed.values[OURS] = [float(lines[-1].split(":")[1].strip().rstrip("x"))]
            sims.values[OURS] = [float(lines[-2].split("(")[-1].split("x")[0])]
            self.extra["scenario6"] = lines[-2]
        self.measures += [speed, sims]


    # 8. a million-record journal
    def scenario7(self) -> None:
        """Tasks in flight: one iteration of a policy that starts every task before any ends."""
        small, big = self.sizes.in_flight
        done = Measure("7a", f"7a. {big:,} function tasks in flight (one iteration): wall time", "s",
                       target="completes")
        done.check = lambda med: True
        per = {width: Measure(f"7b-{width}", f"7b. time per completion, {width:,} in flight", "us")
               for width in (small, big)}
        ratio = Measure("7c", f"7c. time per completion, {big:,} / {small:,} in flight", "x",
                        target="<= 1.25x (independent)")
        ratio.check = lambda med: med[OURS] <= 1.25
        memory = Measure("7d", f"7d. memory per task in flight ({big:,})", "KB", target="<= 5 KB")
        memory.check = lambda med: med[OURS] <= 5.0

        def run(impl: str) -> None:
            results = {width: self.runner.job(impl, "in_flight", tasks=width) for width in (small, big)}
            for width, result in results.items():
                _add(per[width], impl, result, "completion_us")
            _add(done, impl, results[big], "seconds")
            _add(memory, impl, results[big], "kb_per_task_in_flight")
            if all(r.get("ok") for r in results.values()):
                ratio.values.setdefault(impl, []).append(results[big]["completion_us"] / results[small]["completion_us"])

        learners = self.sizes.concurrent_learners
        crowd = Measure("7e", f"7e. {learners:,} parallel learners x 1 iteration (4 tasks each): wall time", "s",
                        target="completes")
        crowd.check = lambda med: True
        crowd_memory = Measure("7f", f"7f. {learners:,} learners: peak memory per learner", "KB")

        def run_crowd(impl: str) -> None:
            result = self.runner.job(impl, "parallel", learners=learners, iterations=1)
            _add(crowd, impl, result, "seconds")
            if result.get("ok"):
                crowd_memory.values.setdefault(impl, []).append(1024.0 * result["peak_delta_mb"] / learners)

        self.repeat(self.sizes.slow_reps, (OURS,), run)
        self.repeat(1, (OURS,), run_crowd)
        self.measures += [done, per[small], per[big], ratio, memory, crowd, crowd_memory]

    def scenario8(self) -> None:
        """Write rate, resume time and `rose show`/`rose runs` time on a big journal (benchmarks/journal_scale.py)."""
        n = self.sizes.journal_records
        rows = [
            ("8a", f"8a. journal write, {n:,} task records: per record (grouped lines)", "us", "write_us_per_record",
             "<= 10 us", lambda v: v <= 10.0),
            ("8b", "8b. resume: read the journal and rebuild the state, fresh process", "s", "resume_seconds",
             "<= 10 s", lambda v: v <= 10.0),
            ("8c", "8c. `rose show RUN --no-plot` on it", "s", "show_seconds", "< 2 s", lambda v: v < 2.0),
            ("8d", "8d. `rose runs` with it", "s", "runs_seconds", "< 2 s", lambda v: v < 2.0),
            ("8e", "8e. `rose show RUN` with its learning curve (every iteration plotted)", "s", "show_plot_seconds",
             "< 2 s", lambda v: v < 2.0),
        ]
        proc = subprocess.run([self.runner.pythons[OURS], str(HERE / "journal_scale.py"), "--records", str(n)],
                              capture_output=True, text=True, timeout=JOB_TIMEOUT, check=False, cwd=HERE,
                              env=self.runner.script_env())
        try:
            result = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            result = {}
        for key, label, unit, field_name, target, check in rows:
            measure = Measure(key, label, unit, target=target)
            measure.check = (lambda c: lambda med: c(med[OURS]))(check)
            if field_name in result:
                measure.values[OURS] = [float(result[field_name])]
            else:
                measure.notes[OURS] = f"failed: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}"
            self.measures.append(measure)
        if result:
            self.extra["scenario8"] = f"journal of {result.get('journal_mb')} MB"


    # 9. executables at the spawn floor, whatever the campaign's memory
    def scenario9(self) -> None:
        """`/bin/true` tasks through learners vs bare asyncio, without and with a 2 GiB campaign (benchmarks/spawn.py)."""
        smoke = self.sizes is SMOKE
        tasks, concurrency, ballast, reps = (40, 4, 0.05, 1) if smoke else (500, 8, 2.0, 5)
        rows = [
            ("9a", f"9a. {tasks} `/bin/true` tasks, sequential learner vs a bare-asyncio `create_subprocess_exec` "
                   "chain: floor / ROSE", "sequential_floor_ratio", ">= 0.8x", lambda v: v >= 0.8),
            ("9b", "9b. the same against blocking `subprocess.run` (vfork + exec + wait, no event loop): floor / ROSE",
             "sequential_vfork_ratio", ">= 0.8x", lambda v: v >= 0.8),
            ("9c", f"9c. the same, {concurrency} parallel learners (max_workers={concurrency}) vs {concurrency} "
                   "concurrent chains", "concurrent_floor_ratio", ">= 0.8x", lambda v: v >= 0.8),
            ("9d", f"9d. sequential: time per task with {ballast:g} GiB touched in the campaign / without",
             "sequential_ballast_ratio", "<= 1.1x", lambda v: v <= 1.1),
            ("9e", f"9e. parallel: time per task with {ballast:g} GiB / without", "concurrent_ballast_ratio",
             "<= 1.1x", lambda v: v <= 1.1),
        ]
        argv = [self.runner.pythons[OURS], str(HERE / "spawn.py"), "--tasks", str(tasks), "--concurrency",
                str(concurrency), "--ballast-gib", str(ballast), "--reps", str(reps)]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=JOB_TIMEOUT, check=False, cwd=HERE,
                              env=self.runner.script_env())
        try:
            result = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            result = {}
        measures = []
        for key, label, field_name, target, check in rows:
            measure = Measure(key, label, "x", target=target, higher_is_better=key in ("9a", "9b", "9c"))
            measure.check = (lambda c: lambda med: c(med[OURS]))(check)
            if field_name in result:
                measure.values[OURS] = [float(result[field_name])]
            else:
                measure.notes[OURS] = f"failed: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}"
            measures.append(measure)
        if result:
            measures[0].notes["detail"] = (
                f"medians of {reps} interleaved rounds in one process, ms per task: sequential "
                f"{result['sequential_rose_ms_per_task']:.3f} (floor {result['sequential_floor_ms_per_task']:.3f}; "
                f"blocking subprocess.run {result['vfork_floor_ms_per_task']:.3f}), parallel "
                f"{result['concurrent_rose_ms_per_task']:.3f} (floor {result['concurrent_floor_ms_per_task']:.3f}); "
                f"with the ballast the floor itself takes {result['sequential_ballast_floor_ratio']:.3f}x "
                f"(sequential), {result['concurrent_ballast_floor_ratio']:.3f}x (parallel); CPU ms per task in the "
                f"campaign process (all threads; steadier than wall time under load): sequential "
                f"{result['sequential_rose_cpu_ms_per_task']:.3f} (floor {result['sequential_floor_cpu_ms_per_task']:.3f}), "
                f"parallel {result['concurrent_rose_cpu_ms_per_task']:.3f} "
                f"(floor {result['concurrent_floor_cpu_ms_per_task']:.3f}); load {result['load']}"
            )
        self.measures += measures

    # 10. peers
    def scenario10(self) -> None:
        """ROSE against Dask, Ray, Parsl and concurrent.futures, in this run (benchmarks/peers/)."""
        sizes = peers.SMOKE if self.sizes is SMOKE else peers.FULL
        bench_python = self.runner.pythons.get(PEERS_BENCH)
        impl_of = {"project": PEERS_PROJECT, "bench": PEERS_BENCH}

        def job(where: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
            name = params.pop("job")
            return self.runner.job(impl_of[where], name, timeout=timeout, **params)

        results = peers.run(job, sizes, bench_python, self.extra.get("peers_missing", ""))
        image = None
        path, link = self.figure("peers_fan_out.png")
        if sizes is peers.FULL and peers.plot(results, path):
            image = link
        self.extra["scenario10"] = peers.markdown(results, image)
        rows = {
            "fan-out": ("10a", "10a. fan-out: ROSE local tasks/s over the fastest peer's (floor excluded; lowest "
                               "over both N)", ">= 1.0x",
                        lambda v: v >= 1.0, True),
            "wrapping-dask": ("10b", "10b. wrapping: ROSE on Dask over the same tasks sent to the same cluster "
                                     "(wall time)", "<= 1.10x", lambda v: v <= 1.10, False),
            "wrapping-radical-pilot": ("10c", "10c. wrapping: ROSE on RADICAL-Pilot over plain RP tasks on the same "
                                              "pilot (wall time)", "<= 1.10x", lambda v: v <= 1.10, False),
            "al-loop-floor": ("10d", "10d. AL loop: ROSE over the floor (wall time)", "<= 1.02x",
                              lambda v: v <= 1.02, False),
            "al-loop-peers": ("10e", "10e. AL loop: ROSE over the fastest peer (wall time)", "< 1.0x",
                              lambda v: v < 1.0, False),
        }
        for key, (values, _how) in peers.targets(results).items():
            code, label, target, check, higher = rows[key]
            measure = Measure(code, label, "x", target=target, higher_is_better=higher)
            measure.check = (lambda c: lambda med: c(med[OURS]))(check)
            if values:
                measure.values[OURS] = values
            else:
                measure.notes[OURS] = "not measured (see section 10)"
            measure.notes[FLOOR] = measure.notes[ROSE03] = "-"
            self.measures.append(measure)


def _script(python: str, name: str) -> str:
    return str(Path(python).parent / name)


def _has_module(python: str, module: str) -> bool:
    code = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 1)"
    return subprocess.run([python, "-c", code], check=False).returncode == 0


# -- environments ------------------------------------------------------------------------------
def _find_uv() -> str | None:
    found = shutil.which("uv")
    if found:
        return found
    local = ROOT / ".tools" / "bin" / "uv"
    return str(local) if local.exists() else None


def ensure_rose03(venv: Path, extra: Sequence[str]) -> str:
    """Create ``venv`` with ROSE 0.3 (and ``extra`` requirements) unless it is already there."""
    python = venv / "bin" / "python"
    wanted = "\n".join([ROSE03_REQUIREMENT, *extra])
    marker = venv / ".rose-bench-installed"
    if python.exists() and marker.exists() and marker.read_text(encoding="utf-8") == wanted:
        return str(python)
    uv = _find_uv()
    print(f"installing {', '.join([ROSE03_REQUIREMENT, *extra])} into {venv} ...", file=sys.stderr)
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    if uv:
        if not python.exists():
            subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, env=env)
        subprocess.run([uv, "pip", "install", "--quiet", "--python", str(python), ROSE03_REQUIREMENT, *extra],
                       check=True, env=env)
    else:  # no uv: the standard library's venv and pip
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", ROSE03_REQUIREMENT, *extra], check=True, env=env)
    marker.write_text(wanted, encoding="utf-8")
    return str(python)


def versions(python: str, names: Sequence[str]) -> dict[str, str]:
    """Installed versions of ``names`` in the environment of ``python``."""
    code = (
        "import json, sys, importlib.metadata as m\n"
        "out = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))"
    )
    proc = subprocess.run([python, "-c", code, *names], capture_output=True, text=True, check=False)
    try:
        return dict(json.loads(proc.stdout))
    except ValueError:
        return {}


def machine() -> dict[str, str]:
    """What this machine is."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = "?"
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            kib = int(handle.readline().split()[1])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def _load() -> str:
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def _commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=False, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "?"
    return out.stdout.strip() or "?"


OUR_PACKAGES = (
    "rose-core", "rose-plugin-al", "rose-plugin-local", "rose-plugin-mlflow", "radical.asyncflow",
    "rhapsody-py", "mlflow", "pluggy", "stevedore",
)
OLD_PACKAGES = ("rose-surrogate-explorer", "radical.asyncflow", "rhapsody-py", "mlflow")


def _shown_path(path: Path) -> str:
    """``path`` relative to the checkout when it lies inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def write_results(path: Path, bench: Bench, info: dict[str, Any], table: list[str], seconds: float) -> None:
    """``results.md``: the table, every repetition, the environment."""
    m = info["machine"]
    lines = [
        "# ROSE benchmark results",
        "",
        f"Generated by `make bench` (`{' '.join(['python', 'benchmarks/run.py', *info['argv']])}`) on "
        f"{info['date']} in {seconds / 60:.1f} min; commit {info['commit']}.",
        "",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory']}, {m['os']}, Python {m['python']}",
        f"- this project: {_pkgs(info['versions'].get(OURS, {}))}; backend `{info['backend'].get('backend', '?')}` "
        f"({info['backend'].get('backend_class', '?')}, {info['backend'].get('executor', '?')} x "
        f"{info['backend'].get('workers', '?')})",
        (f"- ROSE 0.3: {_pkgs(info['versions'][ROSE03])}; backend {bench.rose03_backend.get('backend_class', '?')} "
         f"with a ThreadPoolExecutor x {bench.rose03_backend.get('workers', '?')} (the same backend kind and "
         "worker count), engine built by hand as its documentation shows"
         if ROSE03 in info["versions"] else "- ROSE 0.3: not run (--no-rose03)"),
        "- floor: the same work in bare asyncio in this project's interpreter (no framework)",
        f"- load average (1/5/15 min) at start {info['load_start']}, at end {info['load_end']} on {m['cores']} cores: "
        "wall times are only comparable when nothing else runs; CPU times are less sensitive",
        ("- a neighbour process kept the CPUs awake (it wakes every 0.5 ms; `--no-keep-awake` leaves it out): an idle "
         "virtual CPU that falls asleep between two thread hand-offs made repetitions differ by 1.7x"
         if info.get("keep_awake") else "- no keep-awake neighbour (--no-keep-awake): repetitions may differ widely"),
        f"- campaign folders of scenarios 1-9 (journals, MLflow stores, `TMPDIR`) in `{info.get('work_dir')}` "
        "(`--work-dir`; the peers of scenario 10 keep the system's temporary folder)",
        f"- medians of {bench.sizes.reps} repetitions ({bench.sizes.slow_reps} for the 50 ms loop and the parallel "
        f"learners, {bench.sizes.startup_reps} for start-up), each repetition in a fresh process",
        "",
        *table,
        "",
    ]
    notes = [f"- {mm.key}: {mm.notes['detail']}" for mm in bench.measures if "detail" in mm.notes]
    if "scenario5" in bench.extra:
        notes.append(f"- 5: {bench.extra['scenario5']}")
    if "scenario6" in bench.extra:
        notes.append(f"- 6 (benchmarks/steady_state.py, same learner and tasks, retrain_every=in_flight vs 1): "
                     f"{bench.extra['scenario6']}")
    if notes:
        lines += ["Notes:", "", *notes, ""]
    if "scenario10" in bench.extra:
        lines += bench.extra["scenario10"]
    allocations = HERE / "allocations.md"  # benchmarks/allocations.py: needs Slurm, run on its own
    if allocations.is_file():
        lines += ["", *allocations.read_text().rstrip().splitlines(), ""]
    lines += [
        "## How each figure is measured",
        "",
        "1. `SequentialActiveLearner` (simulation, training, active learning and criterion tasks, all "
        "`as_executable=False` async functions) for the stated number of iterations, timed from `start()` "
        "to the end of the `async for`; the floor awaits the same coroutine `4 x iterations` times in a row. "
        "Overhead = per-iteration time minus the floor's.",
        "2. The same loop with every task an executable `date +%s%N`; each process prints the clock when it "
        "starts, so consecutive readings give the gap from one task's process to its dependent's (this includes "
        "`date`'s own ~1 ms run in every column); the floor chains `asyncio.create_subprocess_exec` + "
        "`communicate()`.",
        "3. `ParallelActiveLearner` with no-op function tasks; tasks/s counts task bodies actually executed "
        "(ROSE 0.3 runs two extra per learner) over the wall time; memory is the peak RSS minus the RSS just "
        "before `start()`. The floor is the same number of concurrent bare-asyncio chains. 3e runs 3a on a "
        "no-op backend (asyncflow's local backend whose function tasks are awaited on the campaign's own loop: "
        "no thread, process or queue), so its CPU time per task is what ROSE itself does per task (task "
        "records, journal, states, hooks) plus the engine hand-off every backend shares.",
        "4. Wall time of a fresh `python -c 'import rose; rose.plugins.registry()'` and of `rose plugins` "
        "(ROSE 0.3: `import rose`, `rose --help`); the floor is `python -c pass`.",
        "5. Scenario 1a with `rose.tracker('mlflow')` (ROSE 0.3: its `MLflowTracker`) on a sqlite store. Each "
        "repetition is one fresh process that runs a 5-iteration campaign without and one with the tracker "
        "(5f: how much longer the tracked one took; for this project, starting the MLflow writer process, which "
        "imports MLflow, and which the campaign waits for only at its end), then alternates campaigns without "
        "and with the tracker (pairs, medians per process; the pairs alternate their order, so each kind "
        "follows a tracked campaign as often as an untracked one: a campaign right after a tracked one runs "
        "faster here): the ratios compare the loop (first to last "
        "iteration), the second half of it, and a longer loop; 5d compares the campaign process's own CPU "
        "time (all its threads; this project's writer process is not in it); 5e is the time outside the loop "
        "(the tracker's start and the final flush).",
        "7. A policy written on the public API (`Learner` with `prepare`/`evaluate`) whose one iteration "
        "starts N simulation function tasks at once on the local backend; every task blocks its worker "
        "thread until all N are submitted, so all N are in flight together. Time per completion: from "
        "releasing them to the last result, divided by N, at 1,000 and at 10,000 in flight; memory: the "
        "RSS with all N in flight minus the RSS before `start()`, divided by N (a warm-up campaign runs first). "
        "7e/7f: scenario 3 with 10,000 learners of one iteration each, all started at once (each keeps its "
        "journal open: 10,000 files, under this machine's limit of 20,000).",
        "",
        "## Every repetition",
        "",
    ]
    for mm in bench.measures:
        parts = [f"{impl}: " + ", ".join(f"{v:.4g}" for v in mm.values[impl]) for impl in IMPLS if mm.values.get(impl)]
        lines.append(f"- {mm.label} [{mm.unit}] - " + "; ".join(parts))
    if "many" in bench.extra:
        learners = bench.sizes.many[0]
        lines += ["", f"{learners}-learner run details: " + json.dumps(bench.extra["many"], sort_keys=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _pkgs(found: dict[str, str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in found.items())


# -- main ------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks, print the table, write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, help="repetitions of the quick measurements (default 5)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition (CI)")
    parser.add_argument("--no-rose03", action="store_true", help="skip ROSE 0.3 (no install)")
    parser.add_argument("--no-rose03-mlflow", action="store_true", help="do not install mlflow for ROSE 0.3")
    parser.add_argument("--rose03-venv", type=Path, default=ROSE03_VENV, help="where ROSE 0.3 is installed")
    parser.add_argument("--only", default="1,2,3,4,5,6,7,8,9,10", help="comma-separated scenarios (default all)")
    parser.add_argument("--bench-venv", type=Path, default=BENCH_VENV,
                        help="the peers' environment of scenario 10 (`make bench-env` creates it)")
    parser.add_argument("--output", type=Path, default=HERE / "results.md", help="results file")
    parser.add_argument("--tracker", default="mlflow", help="tracker of scenario 5 (default mlflow; CI uses jsonl)")
    parser.add_argument("--quiet", action="store_true", help="do not log every run")
    parser.add_argument("--work-dir", type=Path, default=HERE / ".work",
                        help="where the campaigns of scenarios 1-9 write (default benchmarks/.work in the checkout, "
                             "where a user's runs/ would be); one folder per job, all removed when the run ends")
    parser.add_argument("--no-keep-awake", action="store_true",
                        help="no neighbour process keeping the CPUs awake (see _common.keep_awake)")
    args = parser.parse_args(argv)

    sizes = SMOKE if args.smoke else FULL
    if args.reps:
        sizes = Sizes(**{**sizes.__dict__, "reps": args.reps, "slow_reps": min(sizes.slow_reps, args.reps),
                         "startup_reps": max(args.reps, 1)})
    started = time.perf_counter()
    ours_python = sys.executable
    pythons = {OURS: ours_python, FLOOR: ours_python}
    impls = [OURS, FLOOR]
    args.work_dir = args.work_dir.resolve()  # the workers run in their own folders
    args.work_dir.mkdir(parents=True, exist_ok=True)
    work_dir = tempfile.mkdtemp(prefix="run-", dir=args.work_dir)
    atexit.register(shutil.rmtree, work_dir, True)
    runner = Runner(pythons, verbose=not args.quiet, work_dir=work_dir)
    pythons[PEERS_PROJECT] = ours_python
    peers_missing = ""
    bench_python = args.bench_venv / "bin" / "python"
    if "10" in [n.strip() for n in args.only.split(",")]:
        if bench_python.exists():
            pythons[PEERS_BENCH] = str(bench_python)
        else:
            peers_missing = (f"{args.bench_venv} does not exist: `make bench-env` creates it (Dask, Ray, Parsl); "
                             "only ROSE and the floor ran")
            print(f"scenario 10: {peers_missing}", file=sys.stderr)

    probe = runner.job(OURS, "probe", verbose=False)
    if not probe.get("ok"):
        print(f"cannot start this project's engine: {probe.get('error')}", file=sys.stderr)
        return 1
    # ROSE 0.3 runs on the asyncflow/rhapsody class our local backend builds on, same workers
    rose03_backend = {"backend_class": probe["asyncflow_class"], "workers": probe["workers"]}

    info: dict[str, Any] = {
        "machine": machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _commit(),
        "argv": list(argv if argv is not None else sys.argv[1:]),
        "backend": probe,
        "load_start": _load(),
        "work_dir": _shown_path(args.work_dir),
        "versions": {OURS: versions(ours_python, OUR_PACKAGES)},
    }
    rose03_mlflow = False
    if not args.no_rose03:
        extra: list[str] = []
        mlflow_version = info["versions"][OURS].get("mlflow")
        if mlflow_version and not args.no_rose03_mlflow and "5" in args.only and args.tracker == "mlflow":
            extra.append(f"mlflow=={mlflow_version}")  # the same MLflow as this project's
            rose03_mlflow = True
        pythons[ROSE03] = ensure_rose03(args.rose03_venv, extra)
        impls.insert(1, ROSE03)
        info["versions"][ROSE03] = versions(pythons[ROSE03], OLD_PACKAGES)

    bench = Bench(runner, sizes, tuple(impls), rose03_backend, rose03_mlflow, args.tracker, args.output)
    bench.extra["peers_missing"] = peers_missing
    scenarios = {"1": bench.scenario1, "2": bench.scenario2, "3": bench.scenario3, "4": bench.scenario4,
                 "5": bench.scenario5, "6": bench.scenario6, "7": bench.scenario7, "8": bench.scenario8,
                 "9": bench.scenario9, "10": bench.scenario10}
    numbers = [n.strip() for n in args.only.split(",") if n.strip()]
    for number in numbers:
        if number not in scenarios:
            parser.error(f"--only: unknown scenario {number!r} (1-10)")
    info["keep_awake"] = not args.no_keep_awake
    with keep_awake(info["keep_awake"]):
        for number in numbers:
            print(f"scenario {number} ...", file=sys.stderr)
            scenarios[number]()

    table = render_table(bench.measures)
    print(render_plain(bench.measures))
    elapsed = time.perf_counter() - started
    info["load_end"] = _load()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_results(args.output, bench, info, table, elapsed)
    met = [m for m in bench.measures if m.met() is not None]
    print(f"\n{sum(1 for m in met if m.met())}/{len(met)} targets met; written to {args.output} "
          f"in {elapsed / 60:.1f} min")
    if "scenario6" in bench.extra:
        print(bench.extra["scenario6"])
        print(f"steady-state speedup to target: {next(m for m in bench.measures if m.key == '6').median(OURS):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
