"""The page's HTTP server: the standard library's threading server on 127.0.0.1, nothing else to install.

Routes are a fixed table: the three page files (package data), the JSON API and the finished test's figure.
Any other path, `..` and encoded variants included, is a 404, so no file outside the page and that one
figure can be served. `DirectoryLock` keeps a second server off a results directory that one already uses.
"""

from __future__ import annotations

import json
import logging
import os
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from filelock import FileLock, Timeout

from mnist1d.apps.human.api import BenchmarkApi, Response, error
from mnist1d.apps.human.quiz import HumanInputError
from mnist1d.reports.human import PERSON_STEM

log = logging.getLogger(__name__)
HOST = "127.0.0.1"  # never another interface: the page is for the person at this machine
LOCK_FILE = "server.lock"
HOLDER_FILE = "server.holder"
STATIC = {
    "/": ("index.html", "text/html"),
    "/app.js": ("app.js", "text/javascript"),
    "/style.css": ("style.css", "text/css"),
}
FIGURE = f"/results/{PERSON_STEM}.png"  # the finished test's figure, the one file served from the results
MAX_BODY = 4096
NUMBERED = re.compile(r"^/api/(question|practice)/(-?\d+)$")


class DirectoryLock:
    """An exclusive lock on `<dir>/server.lock` (filelock: the kernel releases it when the process ends, even
    killed); `<dir>/server.holder` says which process holds it and where it serves."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.holder = directory / HOLDER_FILE
        self.lock = FileLock(directory / LOCK_FILE, blocking=False)
        try:
            self.lock.acquire()
        except Timeout:
            holder = (self.holder.read_text().strip() if self.holder.exists() else "") or "another process"
            raise HumanInputError(
                f"{directory} is already being served ({holder}): open that page, or stop that server first"
            ) from None
        self.holder.write_text(f"pid {os.getpid()}")

    def note(self, url: str) -> None:
        """Record where the holder serves, for the message a refused second server prints."""
        if self.lock.is_locked:
            self.holder.write_text(f"pid {os.getpid()} at {url}")

    def release(self) -> None:
        if self.lock.is_locked:
            self.lock.release()


class Handler(BaseHTTPRequestHandler):
    server: BenchmarkServer

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path in STATIC:
            name, kind = STATIC[url.path]
            self.send(HTTPStatus.OK, files(__package__).joinpath("static", name).read_bytes(), kind)
        elif url.path == FIGURE and (path := self.server.api.figure_path()):
            self.send(HTTPStatus.OK, path.read_bytes(), "image/png")
        elif url.path.startswith("/api/"):
            self.reply(self.route_get(url.path, parse_qs(url.query)))
        else:
            self.reply(error(HTTPStatus.NOT_FOUND, f"no such page: {url.path}"))

    def route_get(self, path: str, query: dict[str, list[str]]) -> Response:
        api = self.server.api
        routes = {"/api/info": api.info, "/api/state": api.state, "/api/result": api.result}
        if path in routes:
            return routes[path]()
        if path == "/api/train":
            return self.guarded(api.train_samples, query)
        if numbered := NUMBERED.match(path):
            kind, number = numbered[1], int(numbered[2])
            return api.question(number) if kind == "question" else api.practice(number)
        return error(HTTPStatus.NOT_FOUND, f"no such API: {path}")

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/api/answer":
            self.reply(error(HTTPStatus.NOT_FOUND, f"no such API: {self.path}"))
            return
        length = self.headers.get("Content-Length", "")
        length = int(length) if length.isdigit() else 0
        if not 0 < length <= MAX_BODY:
            self.reply(error(HTTPStatus.BAD_REQUEST, f"the body must be JSON of 1-{MAX_BODY} bytes"))
            return
        try:
            body = json.loads(self.rfile.read(length))
        except (json.JSONDecodeError, UnicodeDecodeError):
            self.reply(error(HTTPStatus.BAD_REQUEST, "the body is not JSON"))
            return
        self.reply(self.guarded(self.server.api.answer, body))

    @staticmethod
    def guarded(call: Any, argument: Any) -> Response:
        """A bad request becomes a 400 with its message, never a traceback."""
        try:
            return call(argument)
        except HumanInputError as bad:
            return error(HTTPStatus.BAD_REQUEST, str(bad))

    def reply(self, response: Response) -> None:
        status, payload = response
        self.send(status, json.dumps(payload).encode(), "application/json")

    def send(self, status: HTTPStatus, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", f"{kind}; charset=utf-8" if kind.startswith("text") else kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class BenchmarkServer(ThreadingHTTPServer):
    """Serves one session's page on 127.0.0.1:`port` (0: a free port, see `url`)."""

    daemon_threads = True

    def __init__(self, api: BenchmarkApi, port: int) -> None:
        super().__init__((HOST, port), Handler)
        self.api = api

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/"
