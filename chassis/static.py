"""A service's own static files (scripts, style sheets, vendored libraries): a fixed list of
files of its package's `static/` folder, each with its type, an ETag of its content and how
long browsers may keep it. Anything not on the list, `..` included, is not found.

    STATIC = StaticFiles("bi", {"dashboard.js": ("text/javascript; charset=utf-8", 300)})
    return STATIC.response(request, path)   # 200, 304 when the ETag still holds, or NotFound
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from werkzeug.wrappers import Request, Response

from chassis.errors import NotFound


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str
    max_age: int


class StaticFiles:
    """The files `package`/static/<path> listed in `files` ({path: (content type, max age)})."""

    def __init__(self, package: str, files: dict[str, tuple[str, int]]) -> None:
        self.package = package
        self.files = dict(files)
        self._read: dict[str, StaticFile] = {}

    def find(self, path: str) -> StaticFile | None:
        if path not in self.files:
            return None
        found = self._read.get(path)
        if found is None:
            resource = resources.files(self.package).joinpath("static", *path.split("/"))
            body = resource.read_bytes()
            content_type, max_age = self.files[path]
            found = self._read[path] = StaticFile(
                body, content_type, hashlib.sha256(body).hexdigest()[:32], max_age)
        return found

    def response(self, request: Request, path: str) -> Response:
        found = self.find(path)
        if found is None:
            raise NotFound("no such file", path=path)
        response = Response(found.body, content_type=found.content_type)
        response.set_etag(found.etag)
        response.cache_control.public = True
        response.cache_control.max_age = found.max_age
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response.make_conditional(request)


__all__ = ["StaticFile", "StaticFiles"]
