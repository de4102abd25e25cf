"""The web application: pages, the JSON they poll, the offline assets, and the token check.

Built on Starlette (served by uvicorn, see :mod:`rose_plugin_ui.command`). Addresses:

* ``/`` the campaigns of the runs folder; ``/campaign/<directory name>`` one campaign;
  ``/compare?c=<name>&c=<name>`` learning curves of several campaigns on one plot;
* ``/api/campaigns``, ``/api/campaign/<name>?points=P&bars=B`` (what was added after those
  cursors; with ``points=0&width=W`` the curves thinned to W pixels; ``latest=N``: at most the
  latest N task updates), ``/api/campaign/<name>/curve
  ?low=X&high=Y&width=W`` (the points between two x values, at full resolution when they fit),
  ``/api/campaign/<name>/tasks?start=T&end=T`` (the task attempts of a time window),
  ``/static/...`` the page scripts and the plotting library, from this package.

Only directories directly inside the runs folder that hold a journal can be named; anything
else (``..``, an absolute path, a symbolic link leading out) is a 404. With a token, every
request must carry it (``?token=`` once: it is then kept in a cookie, or ``Authorization:
Bearer``), else 401.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from rose.runs import find_runs, is_run_dir
from rose_plugin_ui.assets import Assets
from rose_plugin_ui.mlflow_link import mlflow_link
from rose_plugin_ui.view import CampaignView

__all__ = ["STATIC", "Campaigns", "create_app"]

logger = logging.getLogger(__name__)

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
COOKIE = "rose_ui_token"


class Campaigns:
    """The campaigns of one runs folder, each a :class:`CampaignView` made on first use."""

    def __init__(self, root: str, mlflow_url: str = "http://127.0.0.1:5000") -> None:
        self.root = os.path.abspath(root)
        self.mlflow_url = mlflow_url
        self._views: dict[str, CampaignView] = {}
        self._lock = threading.Lock()

    def resolve(self, name: str) -> str | None:
        """The campaign directory called ``name`` directly inside the runs folder, else None."""
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
            return None
        path = os.path.join(self.root, name)
        real = os.path.realpath(path)
        if os.path.dirname(real) != os.path.realpath(self.root):
            return None
        return path

    def view(self, name: str) -> CampaignView | None:
        """The view of campaign ``name`` (one that vanished keeps its last data), else None."""
        with self._lock:
            view = self._views.get(name)
            if view is None:
                path = self.resolve(name)
                if path is None or not is_run_dir(path):
                    return None
                view = self._views[name] = CampaignView(path)
            return view

    def listing(self) -> dict[str, Any]:
        """The index: every campaign as ``rose runs`` lists it (oldest first)."""
        if not os.path.isdir(self.root):
            return {"root": self.root, "error": f"the runs folder {self.root} does not exist (yet): "
                                                 "campaigns started with ROSE_RUNS_DIR pointing there will appear",
                    "campaigns": []}
        rows = []
        for path in find_runs(self.root):
            view = self.view(os.path.basename(path))
            if view is None:
                continue
            view.refresh()
            rows.append(view.summary())
        return {"root": self.root, "error": None, "campaigns": rows}


def _json(data: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS),
                    status_code=status_code, media_type="application/json")


class TokenCheck:
    """Refuses every request without the token (ASGI middleware; ``token=None``: no check)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        given = request.query_params.get("token") or request.cookies.get(COOKIE) or ""
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            given = header[7:]
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            response: Response = PlainTextResponse(
                "401: this rose ui needs its token: open the address printed by `rose ui` (it ends in ?token=...)",
                status_code=401)
            await response(scope, receive, send)
            return
        if request.query_params.get("token"):
            async def remember(message: Any) -> None:
                if message["type"] == "http.response.start":
                    cookie = f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/".encode()
                    message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie)]
                await send(message)

            await self.app(scope, receive, remember)
            return
        await self.app(scope, receive, send)


#: the widest plot (in pixels) a page may ask points for
MAX_WIDTH = 8000


def _numbers(request: Request, **defaults: float | None) -> dict[str, float]:
    """The query's numbers named in ``defaults`` (None: required); ValueError names a bad one."""
    found = {}
    for name, default in defaults.items():
        given = request.query_params.get(name)
        if given is None:
            if default is None:
                raise ValueError(f"{name} is missing")
            found[name] = default
            continue
        try:
            value = float(given)
        except ValueError:
            raise ValueError(f"{name}={given!r} is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{name}={given!r} is not a finite number")
        found[name] = value
    return found


def create_app(root: str, *, token: str | None = None, mlflow_url: str = "http://127.0.0.1:5000") -> Starlette:
    """The ``rose ui`` application over the runs folder ``root``."""
    campaigns = Campaigns(root, mlflow_url)
    assets = Assets(STATIC)

    def page(name: str) -> Any:
        async def endpoint(request: Request) -> Response:
            return assets.response(name, request)

        return endpoint

    async def static(request: Request) -> Response:
        return assets.response(request.path_params["name"], request)

    # plain functions: Starlette runs them in its thread pool, so reading a long journal never
    # holds up the other requests (the views lock themselves)
    def api_campaigns(request: Request) -> Response:
        return _json(campaigns.listing())

    def api_campaign(request: Request) -> Response:
        name = request.path_params["name"]
        view = campaigns.view(name)
        if view is None:
            return _json({"error": f"no campaign {name!r} in {campaigns.root}"}, 404)
        try:
            points = max(0, int(request.query_params.get("points", 0)))
            bars = max(0, int(request.query_params.get("bars", 0)))
            width = min(MAX_WIDTH, max(0, int(request.query_params.get("width", 0))))
            latest = max(0, int(request.query_params.get("latest", 0)))
        except ValueError:
            return _json({"error": "points, bars, width and latest must be whole numbers (the cursors the page was "
                                   "given, its width in pixels, how many task updates at most)"}, 400)
        tasks = request.query_params.get("tasks", "1") != "0"
        view.refresh(details=tasks)
        data = view.snapshot(points, bars, width, tasks, latest)
        if points == 0 and not view.gone:
            data["mlflow"] = mlflow_link(campaigns.root, view.path, campaigns.mlflow_url)
        return _json(data)

    def api_curve(request: Request) -> Response:
        name = request.path_params["name"]
        view = campaigns.view(name)
        if view is None:
            return _json({"error": f"no campaign {name!r} in {campaigns.root}"}, 404)
        try:
            given = _numbers(request, low=None, high=None, width=1000)
        except ValueError as exc:
            return _json({"error": f"{exc}: give low and high (the x range to show) and width (pixels)"}, 400)
        view.refresh()
        width = int(min(MAX_WIDTH, max(1, given["width"])))
        return _json(view.zoom(given["low"], given["high"], width))

    def api_tasks(request: Request) -> Response:
        name = request.path_params["name"]
        view = campaigns.view(name)
        if view is None:
            return _json({"error": f"no campaign {name!r} in {campaigns.root}"}, 404)
        try:
            given = _numbers(request, start=None, end=None)
        except ValueError as exc:
            return _json({"error": f"{exc}: give start and end (unix seconds) of the time window"}, 400)
        view.refresh()
        return _json(view.tasks_between(given["start"], given["end"]))

    routes = [
        Route("/", page("index.html")),
        Route("/campaign/{name}", page("campaign.html")),
        Route("/compare", page("compare.html")),
        Route("/api/campaigns", api_campaigns),
        Route("/api/campaign/{name}", api_campaign),
        Route("/api/campaign/{name}/curve", api_curve),
        Route("/api/campaign/{name}/tasks", api_tasks),
        Route("/static/{name:path}", static),
    ]
    middleware = [Middleware(TokenCheck, token=token), Middleware(GZipMiddleware, minimum_size=2048, compresslevel=5)]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.campaigns = campaigns
    return app
