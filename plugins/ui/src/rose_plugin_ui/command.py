"""``rose ui``: check the runs folder and the address, then serve until Ctrl-C.

Safe by default: it binds to the loopback address. Any other ``--host`` needs a token,
given with ``--token`` or generated and printed once; every request must then carry it. On
a login node, keep the default and reach it through an ssh tunnel::

    ssh -L 8765:127.0.0.1:8765 login.example.org   # then open http://127.0.0.1:8765/
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import secrets
import socket
import sys
from collections.abc import Callable

__all__ = ["DEFAULT_PORT", "add_arguments", "bind", "is_loopback", "run"]

DEFAULT_PORT = 8765


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``rose ui``."""
    parser.add_argument("runs_dir", nargs="?", metavar="RUNS_DIR",
                        help="the runs folder to show (default ./runs or $ROSE_RUNS_DIR)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N",
                        help=f"the port to serve on (default {DEFAULT_PORT}; 0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", metavar="H",
                        help="the address to bind (default 127.0.0.1, the loopback: only this machine; "
                             "any other address needs a token)")
    parser.add_argument("--token", metavar="T",
                        help="the token every request must carry (generated and printed when --host is not "
                             "the loopback and none is given)")
    parser.add_argument("--mlflow-url", default="http://127.0.0.1:5000", metavar="URL",
                        help="where `mlflow ui` serves, for the links to a campaign's MLflow run "
                             "(default http://127.0.0.1:5000)")
    parser.add_argument("--check", action="store_true",
                        help="check the runs folder and the address, print what would be served, and exit")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; OSError with a message naming the port when taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise OSError(exc.errno, f"port {port} on {host} is taken by another program: pick another with "
                                     f"--port N (or --port 0 for any free port)") from exc
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def run(args: argparse.Namespace) -> int:
    """Serve the runs folder until interrupted (exit status 0), or explain why not (1 or 2)."""
    from rose.engine import runs_root

    root = os.path.abspath(args.runs_dir) if args.runs_dir else runs_root()
    if not os.path.isdir(root):
        state = f"the runs folder {root} does not exist (yet)" if not os.path.exists(root) else \
            f"{root} is not a folder"
        if os.path.exists(root):
            print(f"rose ui: {state}: give the folder holding campaign directories", file=sys.stderr)
            return 2
        print(f"rose ui: warning: {state}: the page will list campaigns once some are written there "
              "(is the path right? campaigns go to ./runs or $ROSE_RUNS_DIR)", file=sys.stderr)
    token = args.token
    if not is_loopback(args.host) and not token:
        token = secrets.token_urlsafe(18)
        print(f"rose ui: token {token}  (required on every request: {args.host} is not the loopback; "
              "it is printed only this once)")
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(f"rose ui: {exc.strerror or exc}", file=sys.stderr)
        return 1
    port = sock.getsockname()[1]
    shown = f"[{args.host}]" if ":" in args.host else args.host
    address = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    lines = [f"rose ui: serving {root} at {address}"]
    if is_loopback(args.host):
        lines.append(f"rose ui: from another machine, tunnel it: ssh -L {port}:127.0.0.1:{port} <this host>, "
                     f"then open http://127.0.0.1:{port}/")

    def announce() -> None:
        print("\n".join(lines), flush=True)

    if args.check:
        announce()
        sock.close()
        return 0
    return _serve(sock, root, token, args.mlflow_url, announce)


def _serve(sock: socket.socket, root: str, token: str | None, mlflow_url: str, announce: Callable[[], None]) -> int:
    """Serve ``root`` on ``sock``; ``announce()`` once the server answers (the address is printed
    only then: a page opened at once is served at once)."""
    import uvicorn

    from rose_plugin_ui.server import create_app

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                announce()

    app = create_app(root, token=token, mlflow_url=mlflow_url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # pragma: no cover - uvicorn handles SIGINT itself
        pass
    finally:
        sock.close()
    return 0
