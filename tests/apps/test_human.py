"""`python -m mnist1d.apps.human`: the fixed stratified test, answers saved after every question and resumed
after a killed server, refused bad requests and paths, requests only from its own page, slow clients cut
off, damaged or crafted files refused in one line, one server per directory, and a model-like
results.json."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mnist1d.apps.human import app, server
from mnist1d.apps.human.api import BenchmarkApi
from mnist1d.apps.human.quiz import ANSWERS_FILE, HumanInputError, stratified_questions
from mnist1d.apps.human.server import TOKEN_HEADER, BenchmarkServer, DirectoryLock, page_token
from mnist1d.data import load_dataset
from mnist1d.dataset_config import DatasetConfig
from mnist1d.errors import FULL_ERROR_HINT
from mnist1d.sweeps.summary import run_row
from tests.helpers import ROOT, compose_app

URL = re.compile(r"http://127\.0\.0\.1:\d+/")


class Page:
    """A test served in this process, and the HTTP requests the page would make."""

    def __init__(self, out: Path, cache_dir: Path, overrides: list[str]) -> None:
        cfg = compose_app("human", overrides, out, cache_dir)
        app.validate(cfg)
        self.session, self.data = app.open_session(cfg, out)
        self.api = BenchmarkApi(self.data, self.session, shuffled=bool(cfg.data.shuffle_seq))
        self.server = BenchmarkServer(self.api, 0)
        poll = {"poll_interval": 0.05}  # a quick shutdown
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs=poll, daemon=True)
        self.thread.start()
        self.out = out

    def labels(self) -> list[int]:
        return [int(self.data["y_test"][i]) for i in self.session.questions]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def request(url: str, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
    """(status, decoded JSON or bytes) of a GET, or of a POST when a body is given: as the page sends them,
    with its session token."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if data is not None:
        with urllib.request.urlopen(url, timeout=30) as page:
            headers[TOKEN_HEADER] = page_token(page.read())
    req = urllib.request.Request(url + path.lstrip("/"), data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            status, payload, kind = response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        status, payload, kind = error.code, error.read(), error.headers["Content-Type"]
    return status, json.loads(payload) if kind == "application/json" else payload


def answer(url: str, question: int, digit: Any, ms: Any = 1500) -> tuple[int, Any]:
    return request(url, "api/answer", {"question": question, "answer": digit, "response_time_ms": ms})


def saved(out: Path) -> list[dict[str, Any]]:
    return json.loads((out / ANSWERS_FILE).read_text())["answers"]


@pytest.fixture
def page(tmp_path: Path, cache_dir: Path) -> Iterator[Page]:
    served = Page(tmp_path / "person", cache_dir, ["n_questions=20", "name=tester"])
    yield served
    served.close()


def test_the_test_is_stratified_and_the_same_for_the_same_seed(cache_dir):
    y_test = load_dataset(DatasetConfig(), cache_dir)["y_test"]
    questions = stratified_questions(y_test, 100, seed=0)
    assert len(set(questions)) == 100
    assert np.bincount(y_test[questions], minlength=10).tolist() == [10] * 10
    assert questions == stratified_questions(y_test, 100, seed=0)
    assert questions != stratified_questions(y_test, 100, seed=1)
    asked = y_test[questions].tolist()
    assert asked != sorted(asked)  # not grouped by class: the order is shuffled too
    odd = np.bincount(y_test[stratified_questions(y_test, 15, seed=3)], minlength=10)
    assert odd.sum() == 15 and set(odd.tolist()) == {1, 2}
    with pytest.raises(HumanInputError, match="n_questions=1001"):
        stratified_questions(y_test, 1001, seed=0)


def test_every_answer_is_on_disk_before_it_is_acknowledged(page):
    labels = page.labels()
    for question in range(3):
        status, state = answer(page.server.url, question, labels[question], ms=1234)
        assert status == 200 and state == {"answered": question + 1, "done": False}
        on_disk = saved(page.out)
        assert len(on_disk) == question + 1
        assert on_disk[-1]["question"] == question and on_disk[-1]["answer"] == labels[question]
        assert on_disk[-1]["sample_index"] == page.session.questions[question]
        assert on_disk[-1]["response_time_s"] == pytest.approx(1.234)
    assert answer(page.server.url, 3, 0, ms="soon")[0] == 200
    assert saved(page.out)[-1]["response_time_s"] is None  # a bad time is dropped, the answer kept


def test_bad_requests_are_refused_and_change_nothing(page):
    url = page.server.url
    for digit in ("a", 10, -1, True, 3.0, None):
        status, body = answer(url, 0, digit)
        assert status == 400 and "answer=" in body["error"] and "0-9" in body["error"]
    for question in (0.0, True, "0", None, [0]):  # 0.0 is refused like an answer of 3.0
        status, body = answer(url, question, 3)
        assert status == 400 and f"question={question!r} is invalid" in body["error"]
    assert answer(url, 1, 3)[0] == 400  # not the next question
    assert request(url, "api/answer", raw=b"{not json")[0] == 400
    assert request(url, "api/answer", raw=b"[1, 2]")[0] == 400
    connection = http.client.HTTPConnection(*page.server.server_address[:2], timeout=30)
    headers = {"Content-Length": "lots", "Content-Type": "application/json", TOKEN_HEADER: page.server.token}
    connection.request("POST", "/api/answer", body=b"{}", headers=headers)
    assert connection.getresponse().status == 400
    assert not saved(page.out)
    status, body = request(url, "api/question/20")
    assert status == 404 and "outside the test (0-19)" in body["error"]
    assert request(url, "api/question/-1")[0] == 404
    assert request(url, "api/question/5")[0] == 409  # no looking ahead
    assert request(url, "api/practice/4000")[0] == 404
    assert request(url, "api/train?digit=10")[0] == 400
    status, body = request(url, "api/train?digit=x")
    assert status == 400 and "digit='x'" in body["error"]
    assert request(url, "api/result")[0] == 409
    status, body = request(url, "api/question/0")
    assert status == 200 and "label" not in body and len(body["x"]) == 40


def send(page: Page, method: str, path: str, headers: dict[str, str | None], body: bytes = b"") -> int:
    """The status of a request with exactly these headers (None: left out), as any client could send it."""
    connection = http.client.HTTPConnection(*page.server.server_address[:2], timeout=30)
    connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for name, value in headers.items():
        for one in value if isinstance(value, list) else [value]:
            if one is not None:
                connection.putheader(name, one)
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body)
    response = connection.getresponse()
    response.read()
    return response.status


def own_headers(page: Page) -> dict[str, Any]:
    """What the page's own answer carries."""
    authority = page.server.authority
    return {
        "Host": authority,
        "Origin": f"http://{authority}",
        "Content-Type": "application/json",
        TOKEN_HEADER: page.server.token,
    }


# What another site, or a script that did not load the page, would send instead (of the page's own
# headers, at the server's port); None leaves a header out.
ATTACKS: dict[str, Any] = {
    "a cross-site form: text/plain, another Host, no token": lambda port: {
        "Host": "evil.example",
        "Origin": "http://evil.example",
        "Content-Type": "text/plain",
        TOKEN_HEADER: None,
    },
    "a rebound name (DNS rebinding)": lambda port: {
        "Host": f"evil.example:{port}",
        "Origin": f"http://evil.example:{port}",
    },
    "another port": lambda port: {"Host": "127.0.0.1:1"},
    "localhost instead of the address": lambda port: {"Host": f"localhost:{port}", "Origin": None},
    "two Host headers": lambda port: {"Host": [f"127.0.0.1:{port}", "evil.example"]},
    "no Host": lambda port: {"Host": None},
    "another Origin": lambda port: {"Origin": "http://evil.example"},
    "Origin null (a sandboxed page)": lambda port: {"Origin": "null"},
    "text/plain from the page": lambda port: {"Content-Type": "text/plain"},
    "no Content-Type": lambda port: {"Content-Type": None},
    "form-encoded": lambda port: {"Content-Type": "application/x-www-form-urlencoded"},
    "no token": lambda port: {TOKEN_HEADER: None},
    "another session's token": lambda port: {TOKEN_HEADER: "x" * 43},
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_only_the_page_itself_may_answer(page, attack):
    headers = own_headers(page) | ATTACKS[attack](page.server.server_address[1])
    body = json.dumps({"question": 0, "answer": page.labels()[0]}).encode()
    assert send(page, "POST", "/api/answer", headers, body) == 403
    assert not saved(page.out)
    assert send(page, "POST", "/api/answer", own_headers(page), body) == 200  # the page's own answer
    assert len(saved(page.out)) == 1


@pytest.mark.parametrize("path", ["/", "/api/question/0", "/api/info", "/app.js"])
def test_another_host_or_origin_reads_nothing(page, path):
    """A page of another site that rebinds its name to 127.0.0.1 may not read the questions or the page
    (whose token it would need to answer)."""
    headers = own_headers(page)
    rebound = {"Host": f"evil.example:{page.server.server_address[1]}", "Origin": None}
    assert send(page, "GET", path, headers | rebound) == 403
    assert send(page, "GET", path, headers | {"Origin": "http://evil.example"}) == 403
    assert send(page, "GET", path, {"Host": headers["Host"]}) == 200  # a browser's own GET sends no Origin


def test_the_page_carries_the_session_token(page):
    status, html = request(page.server.url, "/")
    assert status == 200 and page_token(html) == page.server.token and len(page.server.token) >= 40
    assert BenchmarkServer(page.api, 0).token != page.server.token  # a new one per server


@pytest.mark.parametrize(
    "sent",
    [
        b"",  # connects and says nothing
        b"GET /api/state HTTP/1.1\r\nHost: HOST",  # stops in the headers
        b"POST /api/answer HTTP/1.1\r\nHost: HOST\r\nContent-Type: application/json\r\n"
        b"X-Session-Token: TOKEN\r\nContent-Length: 100\r\n\r\n{",  # announces a body, never sends it
    ],
    ids=["silent", "headers cut short", "body announced, never sent"],
)
def test_a_silent_client_is_disconnected_and_changes_nothing(page, monkeypatch, sent):
    monkeypatch.setattr(server, "REQUEST_SECONDS", 0.5)
    with socket.create_connection(page.server.server_address[:2], timeout=30) as client:
        client.sendall(
            sent.replace(b"HOST", page.server.authority.encode()).replace(
                b"TOKEN", page.server.token.encode()
            )
        )
        started = time.monotonic()
        assert request(page.server.url, "api/state")[0] == 200  # others are served meanwhile
        assert client.recv(1024) == b""  # the server closed the connection
        assert time.monotonic() - started < 10
    assert not saved(page.out)


def test_a_slow_client_is_disconnected_too(page, monkeypatch):
    """A byte every 0.1 s never leaves any read waiting long: the whole request has a deadline."""
    monkeypatch.setattr(server, "REQUEST_SECONDS", 1.0)
    started = time.monotonic()
    with socket.create_connection(page.server.server_address[:2], timeout=30) as client:
        client.sendall(f"GET /api/state HTTP/1.1\r\nHost: {page.server.authority}\r\nX-Slow: ".encode())
        client.settimeout(0.1)
        closed = False
        while not closed and time.monotonic() - started < 10:
            try:
                client.sendall(b"a")
                closed = client.recv(1024) == b""
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed = True
    assert closed and time.monotonic() - started < 5


def test_practice_sees_labelled_training_samples(page):
    status, page_of_threes = request(page.server.url, "api/train?digit=3&offset=2&count=5")
    assert status == 200 and len(page_of_threes["samples"]) == 5
    threes = np.flatnonzero(page.data["y"] == 3)
    assert [s["index"] for s in page_of_threes["samples"]] == threes[2:7].tolist()
    assert page_of_threes["total"] == len(threes)
    status, sample = request(page.server.url, "api/practice/17")
    assert sample["label"] == page.data["y"][17] and sample["x"] == page.data["x"][17].tolist()
    status, info = request(page.server.url, "api/info")
    assert info["templates"] is not None and info["n_questions"] == 20 and info["published_human"] == 95.8


@pytest.mark.parametrize(
    "path",
    [
        "/answers.json",
        "/../answers.json",
        "/static/../answers.json",
        "/%2e%2e/answers.json",
        "/results/../answers.json",
        "/results/answers.json",
        "/results/%2e%2e%2fanswers.json",
        "/app.js/../../server.lock",
        "/../../../../../../etc/passwd",
        "//etc/passwd",
        "/api/../answers.json",
        "/__init__.py",
        "/static/index.html",
        "/results/human_results.png",  # only once the test is finished
    ],
)
def test_no_file_outside_the_page_is_served(page, path):
    (page.out / "secret.txt").write_text("SECRET")
    host, port = page.server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.request("GET", path)  # sent as written: no client-side normalisation of `..`
    response = connection.getresponse()
    body = response.read()
    assert response.status == 404
    assert b"SECRET" not in body and b"root:" not in body and b'"questions"' not in body


def test_the_page_files_are_served(page):
    for path, marker in (("/", b"<!doctype html>"), ("/app.js", b"use strict"), ("/style.css", b"body")):
        status, body = request(page.server.url, path)
        assert status == 200 and marker in body


def test_a_second_server_on_the_same_directory_is_refused(tmp_path):
    first = DirectoryLock(tmp_path)
    first.note("http://127.0.0.1:1/")
    with pytest.raises(HumanInputError, match=r"already being served \(pid \d+ at http://127.0.0.1:1/\)"):
        DirectoryLock(tmp_path)
    first.release()
    DirectoryLock(tmp_path).release()  # free again once the holder is gone


def test_finished_test_writes_a_models_results_fields(page):
    labels = page.labels()
    wrong = {2: 5, 7: 1, 11: 1}  # question -> answer, the rest right
    for question, label in enumerate(labels):
        answer(page.server.url, question, wrong.get(question, label), ms=2000 + question)
    results = json.loads((page.out / "results.json").read_text())
    assert results["model"] == "human" and results["status"] == "ok" and results["name"] == "tester"
    assert results["final_acc"] == results["final_test_acc"] == results["best_acc"] == pytest.approx(17 / 20)
    expected = np.zeros((10, 10), dtype=int)
    for question, label in enumerate(labels):
        expected[label, wrong.get(question, label)] += 1
    assert results["confusion_matrix"] == expected.tolist()
    assert results["per_class_n"] == expected.sum(1).tolist() == [2] * 10
    assert results["per_class_acc"] == pytest.approx((np.diag(expected) / 2).tolist())
    low, high = results["accuracy_ci"]["low"], results["accuracy_ci"]["high"]
    centre, half = wilson(17, 20)
    assert (low, high) == pytest.approx((centre - half, centre + half))
    assert [a["correct"] for a in results["answers"]] == [q not in wrong for q in range(20)]
    assert [a["sample_index"] for a in results["answers"]] == page.session.questions
    assert results["response_time_s"]["median"] == pytest.approx(2.0095)
    assert (page.out / "human_results.png").read_bytes().startswith(b"\x89PNG")
    row = run_row(page.out.parent, page.out)  # the sweep summary reads it like a run
    assert row["status"] == "ok" and row["model"] == "human" and row["final_acc"] == pytest.approx(0.85)
    status, figure = request(page.server.url, "/results/human_results.png")
    assert status == 200 and figure.startswith(b"\x89PNG")
    assert answer(page.server.url, 20, 0)[0] == 400  # finished: no more answers


def wilson(correct: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson interval's centre and half-width, from its formula."""
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre, half


def test_the_shuffled_variant_has_its_own_test_and_no_templates(tmp_path, cache_dir):
    served = Page(tmp_path / "shuffled", cache_dir, ["n_questions=10", "data=mnist1d_shuffled"])
    try:
        _, info = request(served.server.url, "api/info")
        assert info["shuffled"] and info["templates"] is None and info["published_human"] == 30
        _, question = request(served.server.url, "api/question/0")
        shuffled_x = load_dataset(DatasetConfig(shuffle_seq=True), cache_dir)["x_test"]
        assert question["x"] == shuffled_x[served.session.questions[0]].tolist()
    finally:
        served.close()
    assert served.session.record["config"]["data"]["shuffle_seq"] is True


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("name='a b'", "name="),
        ("n_questions=0", "n_questions=0"),
        ("seed=-1", "seed=-1"),
        ("port=70000", "port=70000"),
        ("runs=.", "runs= is only used with compare="),
        ("compare=/nonexistent/dir", "compare="),
        ("resume=/nonexistent/dir", "resume="),
    ],
)
def test_bad_settings_are_refused_before_any_work(tmp_path, cache_dir, override, field):
    cfg = compose_app("human", [override], tmp_path / "bad", cache_dir)
    with pytest.raises(ValueError, match=re.escape(field)):  # HumanInputError, or what every app refuses
        app.run(cfg)
    assert not (tmp_path / "bad").exists()


def set_in(record: dict[str, Any], path: str, value: Any) -> None:
    """Set `a.b.0.c`-style `path` of a JSON record (list indices as numbers); `DELETE` removes it."""
    *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
    for part in parents:
        record = record[part]
    if value is DELETE:
        del record[last]
    else:
        record[last] = value


DELETE = object()
# answers.json as resume= finds it, after 3 answers: damaged (bytes), or crafted (path -> value), and the
# words of its one-line refusal.
DAMAGED: dict[str, tuple[Any, str]] = {
    "not JSON": (b"{oops", "is not JSON"),
    "empty": (b"", "is not JSON"),
    "not UTF-8": (b"\xff\x00\xfe garbage", "is not JSON"),
    "nested too deep": (b"[" * 100_000 + b"]" * 100_000, "is not JSON"),
    "larger than 16 MiB": ("sparse", "is larger than 16 MiB"),
    "a directory": ("directory", "cannot be read (Is a directory)"),
    "a list": (b"[1, 2]", "the file=[1, 2] is invalid: must be an object"),
    "no format": ({"format": DELETE}, "format is missing: must be 1"),
    "another format": ({"format": 2}, "format=2 is invalid: must be 1"),
    "a key it never writes": ({"extra": 1}, "the file has unknown keys ['extra']"),
    "no config": ({"config": DELETE}, "config is missing"),
    "config not an object": ({"config": "x"}, "config='x' is invalid"),
    "a generator argument missing": ({"config.data.shuffle_seq": DELETE}, "config.data={"),
    "a bad generator argument": ({"config.data.num_samples": "many"}, "num_samples='many' is invalid"),
    "n_questions a string": ({"config.n_questions": "3"}, "config.n_questions='3' is invalid"),
    "a fractional seed": ({"config.seed": 0.5}, "config.seed=0.5 is invalid"),
    "an infinite seed": ({"config.seed": float("inf")}, "config.seed=inf is invalid"),
    "a name with a path": ({"config.name": "../x"}, "config.name='../x' is invalid"),
    "no questions": ({"questions": DELETE}, "questions is missing"),
    "questions not a list": ({"questions": "abc"}, "questions='abc' is invalid"),
    "fewer questions than n_questions": (
        {"config.n_questions": 21},
        "20 questions and 3 answers are invalid",
    ),
    "answers an object": ({"answers": {"a": 1}}, "answers={'a': 1} is invalid: must be a list"),
    "an answer not a digit": ({"answers.0.answer": 99}, "answers[0].answer=99 is invalid: must be a digit"),
    "an answer as 3.0": ({"answers.0.answer": 3.0}, "answers[0].answer=3.0 is invalid"),
    "an answer missing": ({"answers.0.answer": DELETE}, "answers[0].answer is missing"),
    "an answer not an object": ({"answers.0": 5}, "answers[0]=5 is invalid: must be an object"),
    "an answer for another sample": ({"answers.0.sample_index": -3}, "answers[0].sample_index=-3 is invalid"),
    "answers out of order": ({"answers.1.question": 2}, "answers[1].question=2 is invalid: must be 1"),
    "a question as 1.0": ({"answers.1.question": 1.0}, "answers[1].question=1.0 is invalid"),
    "a response time that is not a number": ({"answers.0.response_time_s": "fast"}, "response_time_s='fast'"),
    "a NaN response time": ({"answers.0.response_time_s": float("nan")}, "response_time_s=nan"),
    "a start that is not a time": ({"started_at": "yesterday"}, "started_at='yesterday' is invalid"),
    "finished before the last answer": ({"finished_at": "2024-01-01T00:00:00"}, "finished_at='2024-01-01"),
    "another test's questions": ({"questions.19": 999}, "its questions differ from those its settings draw"),
}


@pytest.mark.parametrize("damage", DAMAGED)
def test_a_damaged_or_crafted_answers_json_is_refused_in_one_line(page, tmp_path, cache_dir, damage):
    labels = page.labels()
    for question in range(3):
        assert answer(page.server.url, question, labels[question])[0] == 200
    directory = tmp_path / "damaged"
    directory.mkdir()
    path = directory / ANSWERS_FILE
    change, words = DAMAGED[damage]
    if isinstance(change, dict):
        record = json.loads((page.out / ANSWERS_FILE).read_text())
        for key, value in change.items():
            set_in(record, key, value)
        path.write_text(json.dumps(record))  # NaN and Infinity as Python's json writes them
    elif change == "sparse":
        with path.open("wb") as file:
            file.truncate(17 * 2**20)
    elif change == "directory":
        path.mkdir()
    else:
        path.write_bytes(change)
    before = sorted((p, p.stat().st_mtime_ns) for p in directory.rglob("*"))
    cfg = compose_app("human", [f"resume={directory}"], tmp_path / "unused", cache_dir)
    with pytest.raises(HumanInputError) as refused:
        app.validate(cfg)  # what the preflight runs before Hydra creates a directory
        app.open_session(cfg, directory)  # only its questions against the drawn ones need the data
    message = str(refused.value)
    assert message.startswith(f"resume={directory} is invalid: ") and words in message, message
    assert "\n" not in message and len(message) < 400
    assert sorted((p, p.stat().st_mtime_ns) for p in directory.rglob("*")) == before
    assert not (tmp_path / "unused").exists()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"model": "cnn"}, "model='cnn' is invalid: must be 'human', a finished test of this app"),
        (
            {"per_class_acc": [0.5] * 3},
            "per_class_acc=[0.5, 0.5, 0.5] is invalid: must be a fraction or null",
        ),
        ({"final_test_acc": 95.0}, "final_test_acc=95.0 is invalid: must be a fraction in [0, 1]"),
        ({"name": "../x"}, "name='../x' is invalid"),
        ({"accuracy_ci": None}, "accuracy_ci.level is missing"),
    ],
)
def test_compare_refuses_a_results_json_that_is_no_finished_test(page, tmp_path, cache_dir, change, words):
    for question, label in enumerate(page.labels()):
        answer(page.server.url, question, label)
    results = json.loads((page.out / "results.json").read_text()) | change
    crafted = tmp_path / "crafted"
    crafted.mkdir()
    (crafted / "results.json").write_text(json.dumps(results))
    cfg = compose_app("human", [f"compare={crafted}"], crafted / "comparison", cache_dir)
    with pytest.raises(HumanInputError) as refused:
        app.validate(cfg)
    assert str(refused.value).startswith(f"compare={crafted} is invalid: its results.json is not a finished")
    assert words in str(refused.value) and sorted(crafted.iterdir()) == [crafted / "results.json"]


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` with its content (None for a directory)."""
    return {str(p.relative_to(root)): None if p.is_dir() else p.read_bytes() for p in sorted(root.rglob("*"))}


def test_name_resume_and_compare_are_checked_before_hydra_creates_a_directory(page, tmp_path):
    """Run from a working directory holding a training run: a name that climbs into it, resuming it or
    comparing it as if it were a test, and resuming a crafted test, each end with one line and exit 1,
    and nothing under the working directory is created or changed (Hydra used to write `.hydra/` first)."""
    work = tmp_path / "work"
    victim = work / "outputs" / "runs" / "victim"
    (victim / ".hydra").mkdir(parents=True)
    (victim / ".hydra" / "config.yaml").write_text("model: cnn\n")
    (victim / "results.json").write_text(json.dumps({"model": "cnn", "status": "ok"}))
    crafted = work / "crafted"
    crafted.mkdir()
    record = json.loads((page.out / ANSWERS_FILE).read_text()) | {"answers": {"a": 1}}
    (crafted / ANSWERS_FILE).write_text(json.dumps(record))
    refusals = {
        "name=../../../runs/victim": "name='../../../runs/victim' is invalid: must be 1-64 letters",
        "resume=outputs/runs/victim": "resume=outputs/runs/victim is invalid: its answers.json does not",
        "compare=outputs/runs/victim": "compare=outputs/runs/victim is invalid: its results.json is not a "
        "finished test of this app (model='cnn' is invalid",
        "resume=crafted": "resume=crafted is invalid: its answers.json is not a test this app saved "
        "(answers={'a': 1} is invalid: must be a list of answers)",
    }
    before = tree(work)
    environment = {key: value for key, value in os.environ.items() if key != "HYDRA_FULL_ERROR"}
    running = {
        override: subprocess.Popen(
            [sys.executable, "-m", "mnist1d.apps.human", override], cwd=work, env=environment,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for override in refusals
    }  # fmt: skip
    for override, process in running.items():
        out, err = process.communicate(timeout=120)
        assert process.returncode == 1, err
        assert err.startswith(refusals[override]) and err.count("\n") == 3, err
        assert err.endswith(f"\n\n{FULL_ERROR_HINT}\n") and "Traceback" not in out + err
    assert tree(work) == before


def command(out: Path, cache_dir: Path, *overrides: str) -> list[str]:
    """The real command line, writing into `out`."""
    app_args = [f"hydra.run.dir={out}", f"paths.cache_dir={cache_dir}", *overrides]
    return [sys.executable, "-m", "mnist1d.apps.human", *app_args]


def start(out: Path, cache_dir: Path, *overrides: str) -> subprocess.Popen:
    """The real command in its own process (read its URL with `url_of`)."""
    return subprocess.Popen(
        command(out, cache_dir, *overrides),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )


def url_of(process: subprocess.Popen) -> str:
    for line in process.stdout:
        if found := URL.search(line):
            return found[0]
    raise AssertionError(f"the server exited without a URL (status {process.wait()})")


def test_a_killed_server_loses_nothing_and_a_second_one_is_refused(tmp_path, cache_dir):
    out = tmp_path / "killed"
    first = start(out, cache_dir, "n_questions=10", "name=killed")
    try:
        url = url_of(first)
        served_config = (out / ".hydra" / "config.yaml").read_text()
        labels = [int(load_dataset(DatasetConfig(), cache_dir)["y_test"][i]) for i in saved_questions(out)]
        for question in range(3):
            assert answer(url, question, labels[question])[0] == 200
        second = subprocess.run(
            command(out, cache_dir, f"resume={out}"), cwd=ROOT, capture_output=True, text=True
        )
        # its run directory: refused before Hydra writes there (the server's own lock has its own test)
        assert second.returncode == 1 and f"{out} is in use by pid {first.pid} " in second.stderr
        assert "Traceback" not in second.stderr + second.stdout
        assert (out / ".hydra" / "config.yaml").read_text() == served_config  # the second wrote nothing
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    resumed = start(out, cache_dir, f"resume={out}")
    try:
        url = url_of(resumed)
        assert request(url, "api/state")[1] == {"answered": 3, "done": False}
        for question in range(3, 10):
            assert answer(url, question, labels[question])[0] == 200
    finally:
        resumed.send_signal(signal.SIGINT)
        assert resumed.wait(timeout=60) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["n_questions"] == 10 and results["final_acc"] == 1.0
    assert [a["question"] for a in results["answers"]] == list(range(10))


def saved_questions(out: Path) -> list[int]:
    return json.loads((out / ANSWERS_FILE).read_text())["questions"]
