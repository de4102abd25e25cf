"""Shared by rose-plugin-ui's tests: a real `rose ui` process, raw HTTP requests, journals written through Journal."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from rose.journal import Journal

MANIFEST = {"learner_type": "SequentialActiveLearner", "max_iter": 100_000,
            "criterion": {"metric_name": "mean_squared_error_mse", "threshold": 0.01, "operator": "<"}}


class UiServer:
    """`python -m rose ui ROOT --port 0 ...` in a subprocess; its address read from its first line."""

    def __init__(self, root: str, *options: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "rose", "ui", root, "--port", "0", *options],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        assert self.process.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"rose ui ended: {self.process.stderr.read() if self.process.stderr else ''}")
            self.lines.append(line)
            if "serving" in line:
                self.url = line.split(" at ", 1)[1].split()[0]
                break
        parts = urlsplit(self.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.base = f"http://127.0.0.1:{self.port}"
        self.wait_ready()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.get("/static/ui.css")
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("rose ui does not answer")

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
        """A GET with ``path`` sent exactly as given (no normalisation of `..`)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.putrequest("GET", path, skip_accept_encoding=True)
            for key, value in (headers or {}).items():
                connection.putheader(key, value)
            connection.endheaders()
            response = connection.getresponse()
            return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
        finally:
            connection.close()

    def json(self, path: str) -> Any:
        import json

        status, body, _ = self.get(path)
        assert status == 200, (status, body[:300])
        return json.loads(body)

    def stop(self) -> str:
        """Stop the server; its standard error."""
        self.process.terminate()
        try:
            _, err = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return err


def write_campaign(run_dir: str, iterations: int, *, tasks: int = 0, stop: str | None = "max_iter_reached",
                   learner_id: Any = None, start: float | None = None) -> None:
    """A campaign journal written through rose.journal.Journal: ``iterations`` iterations (error 1/(i+1),
    5 labels each), each after ``tasks`` task records; a stop record with reason ``stop``."""
    journal = Journal(run_dir)
    journal.open()
    try:
        journal.write("start", learner_id=learner_id, manifest={**MANIFEST, "run_dir": run_dir})
        for i in range(iterations):
            for k in range(tasks):
                journal.write("task", learner_id=learner_id, iteration=i, key=str(k), task="simulation",
                              kind="simulation", attempt=1, status="failed" if k == 1 else "done", seconds=0.5)
            journal.write("iteration", learner_id=learner_id,
                          state={"iteration": i, "metric_name": "mean_squared_error_mse", "metric_value": 1.0 / (i + 1),
                                 "metric_threshold": 0.01, "should_stop": False, "learner_id": learner_id,
                                 "labeled_count": 5 * (i + 1)})
        if stop:
            journal.write("stop", learner_id=learner_id, reason=stop)
    finally:
        journal.close()


def tree(root: str) -> dict[str, tuple[int, int]]:
    """Every file under ``root``: (size, mtime in ns)."""
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            info = os.stat(path)
            found[os.path.relpath(path, root)] = (info.st_size, info.st_mtime_ns)
    return found
