"""`python -m mnist1d.apps.human`: the fixed stratified test, answers saved after every question and resumed
after a killed server, refused bad requests and paths, one server per directory, and a model-like
results.json."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mnist1d.apps.human import app
from mnist1d.apps.human.api import BenchmarkApi
from mnist1d.apps.human.quiz import ANSWERS_FILE, HumanInputError, stratified_questions
from mnist1d.apps.human.server import BenchmarkServer, DirectoryLock
from mnist1d.data import load_dataset
from mnist1d.dataset_config import DatasetConfig
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
    """(status, decoded JSON or bytes) of a GET, or of a POST when a body is given."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url + path.lstrip("/"), data=data, headers={"Content-Type": "application/json"}
    )
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
    assert answer(url, 1, 3)[0] == 400  # not the next question
    assert request(url, "api/answer", raw=b"{not json")[0] == 400
    assert request(url, "api/answer", raw=b"[1, 2]")[0] == 400
    connection = http.client.HTTPConnection(*page.server.server_address[:2], timeout=30)
    connection.request("POST", "/api/answer", body=b"{}", headers={"Content-Length": "lots"})
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
    with pytest.raises(HumanInputError, match=re.escape(field)):
        app.run(cfg)
    assert not (tmp_path / "bad").exists()


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
        labels = [int(load_dataset(DatasetConfig(), cache_dir)["y_test"][i]) for i in saved_questions(out)]
        for question in range(3):
            assert answer(url, question, labels[question])[0] == 200
        second = subprocess.run(
            command(out, cache_dir, f"resume={out}"), cwd=ROOT, capture_output=True, text=True
        )
        # its run directory too: refused before Hydra writes there (the server's own lock has its own test)
        assert second.returncode == 1 and f"{out} is in use by pid {first.pid} " in second.stderr
        assert "Traceback" not in second.stderr + second.stdout
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
