"""The page files of this package (HTML, script, style, the plotting library), served from memory.

They are read and gzip-compressed once, when the application is made, so that a page's first
load does not compress 1.2 MB of plotting library while the server reads a long curve for the
same page (both would wait on each other for Python's lock). Only the files of the package's
``static`` folder can be named; anything else is a 404.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import os
from email.utils import formatdate

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

__all__ = ["Assets"]


class Assets:
    """The files directly inside ``folder``, each kept as its bytes and their gzip."""

    def __init__(self, folder: str) -> None:
        self.files: dict[str, tuple[bytes, bytes, dict[str, str]]] = {}
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if not os.path.isfile(path):
                continue
            with open(path, "rb") as handle:
                body = handle.read()
            media = mimetypes.guess_type(name)[0] or "application/octet-stream"
            if media.startswith("text/") or media.endswith("javascript"):
                media += "; charset=utf-8"
            headers = {"content-type": media, "etag": '"' + hashlib.sha256(body).hexdigest()[:20] + '"',
                       "last-modified": formatdate(os.stat(path).st_mtime, usegmt=True), "vary": "accept-encoding"}
            self.files[name] = (body, gzip.compress(body, compresslevel=6, mtime=0), headers)

    def response(self, name: str, request: Request) -> Response:
        """The file ``name`` (compressed when the browser accepts it; 304 when it has it), else 404."""
        found = self.files.get(name)
        if found is None:
            return PlainTextResponse("404: not found", status_code=404)
        body, packed, headers = found
        if request.headers.get("if-none-match") == headers["etag"]:
            return Response(status_code=304, headers={"etag": headers["etag"]})
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(packed, headers={**headers, "content-encoding": "gzip"})
        return Response(body, headers=headers)
