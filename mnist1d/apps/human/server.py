"""The page's HTTP server: the standard library's threading server on 127.0.0.1, nothing else to install.

Routes are a fixed table: the three page files (package data), the JSON API and the finished test's figure.
Any other path, `..` and encoded variants included, is a 404, so no file outside the page and that one
figure can be served. `DirectoryLock` keeps a second server off a results directory that one already uses.

Only the page itself may talk to the server (`refusal`): every request must name the server's own address
and port as its `Host` (a page on another site that rebinds its name to 127.0.0.1 names its own) and, when
the browser sends an `Origin`, come from the server's own page; an answer must be JSON and carry the
session's token, which only the page served here knows (other sites cannot read it). A client gets
`REQUEST_SECONDS` for its whole request: a slow or silent one is disconnected.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import os
import re
import secrets
import socket
import time
from email.message import Message
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
PAGE = "index.html"
STATIC = {
    "/": (PAGE, "text/html"),
    "/app.js": ("app.js", "text/javascript"),
    "/style.css": ("style.css", "text/css"),
}
FIGURE = f"/results/{PERSON_STEM}.png"  # the finished test's figure, the one file served from the results
MAX_BODY = 4096
NUMBERED = re.compile(r"^/api/(question|practice)/(-?\d+)$")
TOKEN_HEADER = "X-Session-Token"  # what app.js sends with every answer
TOKEN_PLACEHOLDER = b"SESSION_TOKEN"  # in the page, replaced by the session's token when it is served
TOKEN_META = re.compile(rb'<meta name="session-token" content="([^"]*)">')
REQUEST_SECONDS = 10.0  # a client's whole request (request line, headers and body) must arrive within this


def refusal(headers: Message, method: str, authority: str, token: str) -> str | None:
    """Why the server refuses a request that does not come from its own page (None: it does not).

    `authority` is `127.0.0.1:<port>`, the only `Host` the page's requests carry.
    """
    hosts = headers.get_all("Host", [])
    if hosts != [authority]:
        return f"Host {', '.join(hosts) or '(none)'} is refused: this server answers only Host {authority}"
    origin = headers.get("Origin")
    if origin is not None and origin != f"http://{authority}":
        return f"Origin {origin} is refused: only the page http://{authority}/ may use this server"
    if method == "GET":
        return None
    if headers.get_content_type() != "application/json":  # a missing one reads as text/plain
        return f"Content-Type {headers.get('Content-Type')} is refused: an answer must be application/json"
    if not hmac.compare_digest(headers.get(TOKEN_HEADER, "").encode(), token.encode()):
        return f"{TOKEN_HEADER} is missing or wrong: answer from the page this server serves (reload it)"
    return None


def check_port(port: int) -> None:
    """Refuse a port the server could not listen on (in use, or privileged), before anything is written."""
    if port == 0:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            probe.bind((HOST, port))
        except OSError as error:
            raise HumanInputError(f"port={port} is invalid: cannot listen there ({error.strerror})") from None


def page_token(page: bytes) -> str:
    """The session's token in the page this server served: what app.js sends, and what a script that
    answers through the API (scripts/scripted_person.py) reads first."""
    found = TOKEN_META.search(page)
    if found is None:
        raise ValueError("the page carries no session token: is this the human benchmark's page?")
    return found[1].decode()


class DeadlineReader(io.RawIOBase):
    """A socket's bytes, read no later than `seconds` from now: a slow client is cut off like a silent one
    (each read waits only for what is left of the time, then raises TimeoutError)."""

    def __init__(self, connection: socket.socket, seconds: float) -> None:
        self.connection = connection
        self.deadline = time.monotonic() + seconds

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the client did not send its request in time")
        self.connection.settimeout(left)
        return self.connection.recv_into(buffer)


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
    timeout = REQUEST_SECONDS  # also bounds each write to a client that does not read

    def setup(self) -> None:
        super().setup()
        self.rfile = io.BufferedReader(DeadlineReader(self.connection, REQUEST_SECONDS))

    def parse_request(self) -> bool:
        """The standard parsing, then `refusal`: a refused request gets a 403 and nothing else."""
        if not super().parse_request():
            return False
        server = self.server
        refused = refusal(self.headers, self.command, server.authority, server.token)
        if refused:
            log.warning("refused %s %s: %s", self.command, self.path, refused)
            self.reply(error(HTTPStatus.FORBIDDEN, refused))
            return False
        return True

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path in STATIC:
            name, kind = STATIC[url.path]
            body = files(__package__).joinpath("static", name).read_bytes()
            if name == PAGE:
                body = body.replace(TOKEN_PLACEHOLDER, self.server.token.encode())
            self.send(HTTPStatus.OK, body, kind)
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
        self.token = secrets.token_urlsafe(32)  # this session's: known only to the page served here

    @property
    def authority(self) -> str:
        return f"{HOST}:{self.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.authority}/"
