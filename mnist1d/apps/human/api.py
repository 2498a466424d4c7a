"""What the page asks the server for, independent of HTTP: every request becomes (status, JSON payload).

Practice requests see training samples with their labels; the test sees only the signal of a question
that is answered or next, never a label, until the test is finished. A finished test is scored at once:
results.json and the figure are written before the last answer is acknowledged.
"""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path
from typing import Any

import numpy as np

from mnist1d.apps.human.quiz import HumanInputError, Session
from mnist1d.apps.human.scoring import score
from mnist1d.dataset_config import NUM_CLASSES
from mnist1d.records import HumanRecord, write_run
from mnist1d.reports.human import PERSON_STEM, published_human, write_person_figure

Response = tuple[HTTPStatus, dict[str, Any]]
PAGE_SIZE_MAX = 50
X_LIMIT_PERCENTILE = 99.5  # the drawn range of signal values: the few larger peaks run off the edge


def error(status: HTTPStatus, message: str) -> Response:
    return status, {"error": message}


def integer(query: dict[str, list[str]], name: str, default: int) -> int:
    """An integer query parameter (`?name=3`), refused with a message naming it when malformed."""
    values = query.get(name)
    try:
        return default if not values else int(values[0])
    except ValueError:
        raise HumanInputError(f"{name}={values[0]!r} is invalid: must be an integer") from None


class BenchmarkApi:
    """The data the page may see and the session it writes to."""

    def __init__(self, data: dict[str, Any], session: Session, shuffled: bool) -> None:
        self.x, self.y = np.asarray(data["x"]), np.asarray(data["y"])
        self.x_test, self.y_test = np.asarray(data["x_test"]), np.asarray(data["y_test"])
        self.t = np.asarray(data["t"])
        self.templates = data["templates"]
        self.session = session
        self.shuffled = shuffled
        self.results: HumanRecord | None = None
        if session.done:
            self.finish()

    def info(self) -> Response:
        """What the page needs to draw: names, sizes, the common x range, templates (unshuffled only)."""
        config = self.session.record["config"]
        templates = None
        if not self.shuffled:
            templates = {"x": self.templates["x"].tolist(), "t": self.templates["t"].tolist()}
        return HTTPStatus.OK, {
            "name": config["name"],
            "n_questions": len(self.session.questions),
            "n_train": len(self.y),
            "shuffled": self.shuffled,
            "x_limit": float(np.percentile(np.abs(self.x), X_LIMIT_PERCENTILE)),
            "t": self.t.tolist(),
            "templates": templates,
            "published_human": published_human(self.shuffled)["accuracy"],
            **self.state()[1],
        }

    def state(self) -> Response:
        return HTTPStatus.OK, {"answered": len(self.session.answers), "done": self.session.done}

    def train_samples(self, query: dict[str, list[str]]) -> Response:
        """A page of training samples of one digit: `?digit=3&offset=0&count=12`."""
        digit, offset, count = (integer(query, k, d) for k, d in (("digit", 0), ("offset", 0), ("count", 12)))
        if not 0 <= digit < NUM_CLASSES:
            return error(HTTPStatus.BAD_REQUEST, f"digit={digit} is invalid: must be 0-{NUM_CLASSES - 1}")
        if not 1 <= count <= PAGE_SIZE_MAX or offset < 0:
            return error(HTTPStatus.BAD_REQUEST, f"count must be 1-{PAGE_SIZE_MAX} and offset >= 0")
        indices = np.flatnonzero(self.y == digit)
        page = indices[offset : offset + count]
        return HTTPStatus.OK, {"total": len(indices), "samples": [self.train_sample(int(i)) for i in page]}

    def train_sample(self, index: int) -> dict[str, Any]:
        return {"index": index, "x": self.x[index].tolist(), "label": int(self.y[index])}

    def practice(self, index: int) -> Response:
        """One training sample with its label (the page asks first and shows the label after)."""
        if not 0 <= index < len(self.y):
            return error(
                HTTPStatus.NOT_FOUND, f"training sample {index} does not exist (0-{len(self.y) - 1})"
            )
        return HTTPStatus.OK, self.train_sample(index)

    def question(self, number: int) -> Response:
        """The signal of test question `number` (0-based): one already answered or the next one."""
        n = len(self.session.questions)
        if not 0 <= number < n:
            return error(HTTPStatus.NOT_FOUND, f"question {number} is outside the test (0-{n - 1})")
        if number > len(self.session.answers):
            return error(
                HTTPStatus.CONFLICT, f"question {number} is not open: answer {len(self.session.answers)}"
            )
        return HTTPStatus.OK, {"question": number, "x": self.x_test[self.session.questions[number]].tolist()}

    def answer(self, body: Any) -> Response:
        """Save `{"question": k, "answer": d, "response_time_ms": t}`; the last one also scores the test."""
        if not isinstance(body, dict):
            return error(HTTPStatus.BAD_REQUEST, "the body must be a JSON object with question and answer")
        self.session.answer(body.get("question"), body.get("answer"), body.get("response_time_ms"))
        if self.session.done:
            self.finish()
        return self.state()

    def finish(self) -> None:
        """Score the finished test: results.json and the figure in the results directory."""
        with self.session.lock:
            if self.results is None:
                results = score(self.session, self.y_test)
                write_person_figure(self.session.directory, results)
                write_run(self.session.directory, results)
                self.results = results

    def result(self) -> Response:
        if self.results is None:
            return error(HTTPStatus.CONFLICT, "the test is not finished yet")
        keys = ["name", "final_acc", "accuracy_ci", "n_questions", "n_correct", "per_class_acc"]
        keys += ["per_class_n", "confusion_matrix", "response_time_s"]
        figure = f"results/{PERSON_STEM}.png"
        return HTTPStatus.OK, {key: getattr(self.results, key) for key in keys} | {"figure": figure}

    def figure_path(self) -> Path | None:
        path = self.session.directory / f"{PERSON_STEM}.png"
        return path if self.results is not None and path.exists() else None
