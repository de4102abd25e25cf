"""`rose ui` as a command: the hook contract, the address checks, the token, a taken port."""

from __future__ import annotations

import socket
import subprocess
import sys

from helpers_ui import UiServer

from rose.testing import CommandContract

MISSING = "/nonexistent/rose-ui-test-runs"


class TestUiCommand(CommandContract):
    command = "ui"
    run_argv = (MISSING, "--port", "0", "--check")
    run_output = "does not exist (yet)"


def rose_ui(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rose", "ui", *argv], capture_output=True, text=True, timeout=120)


def test_a_taken_port_is_named_and_the_check_passes_on_a_free_one(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = rose_ui(str(tmp_path), "--port", str(port))
    assert done.returncode == 1
    assert f"port {port} on 127.0.0.1 is taken" in done.stderr and "--port" in done.stderr
    done = rose_ui(str(tmp_path), "--port", "0", "--check")
    assert done.returncode == 0 and "serving " + str(tmp_path) in done.stdout and "ssh -L" in done.stdout


def test_a_file_given_as_runs_folder_is_refused(tmp_path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_text("")
    done = rose_ui(str(path), "--port", "0", "--check")
    assert done.returncode == 2 and "is not a folder" in done.stderr


def test_another_address_requires_a_token_printed_once_and_checked_on_every_request(runs) -> None:
    server = UiServer(runs, "--host", "0.0.0.0")
    try:
        token_lines = [line for line in server.lines if "token" in line]
        assert len(token_lines) == 2  # the token itself, and the address carrying it
        token = token_lines[0].split("token ", 1)[1].split()[0]
        assert server.url.endswith(f"?token={token}")
        for path in ("/", "/api/campaigns", "/static/plotly-basic.min.js", "/campaign/20261201-100000-alpha"):
            status, body, _ = server.get(path)
            assert status == 401 and b"token" in body, path
        assert server.get("/api/campaigns?token=wrong")[0] == 401
        status, _, headers = server.get(f"/?token={token}")
        assert status == 200 and "rose_ui_token=" in headers["set-cookie"]
        cookie = headers["set-cookie"].split(";")[0]
        assert server.get("/api/campaigns", {"Cookie": cookie})[0] == 200
        assert server.get("/api/campaigns", {"Authorization": f"Bearer {token}"})[0] == 200
    finally:
        server.stop()


def test_a_given_token_is_required_on_the_loopback_too(runs) -> None:
    server = UiServer(runs, "--token", "s3cret")
    try:
        assert not any("token s3cret" in line for line in server.lines[:-1])  # given, so not printed as new
        assert server.get("/api/campaigns")[0] == 401
        assert server.get("/api/campaigns?token=s3cret")[0] == 200
    finally:
        server.stop()


def test_the_address_is_printed_once_the_server_answers(tmp_path) -> None:
    import http.client
    import time

    def answer_seconds(port: int) -> float:
        started = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("GET", "/static/ui.css")
            response = connection.getresponse()
            assert response.status == 200 and response.read()
        finally:
            connection.close()
        return time.monotonic() - started

    process = subprocess.Popen([sys.executable, "-m", "rose", "ui", str(tmp_path), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "serving" in line, line
        port = int(line.split(" at ", 1)[1].split()[0].rstrip("/").rsplit(":", 1)[1])
        first = answer_seconds(port)  # right after the line: no retry, no waiting for the server to start
        usual = min(answer_seconds(port) for _ in range(3))
        # printed before the server ran, the first answer waited for uvicorn and the app to load (0.2-0.3 s)
        assert first < max(0.06, 10 * usual), (first, usual)
    finally:
        process.terminate()
        process.communicate(timeout=20)
