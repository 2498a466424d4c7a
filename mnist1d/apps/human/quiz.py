"""Which test samples a person is asked, and the answers, saved after every one so that nothing is lost.

A test is defined by its seed, its length and the dataset: `stratified_questions` draws the same test
indices in the same order from them every time, so two people with the same settings take the same test.
`Session` keeps the answers in `answers.json` (written atomically before an answer is acknowledged), which
is also what a restarted server resumes from.
"""

from __future__ import annotations

import json
import math
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from mnist1d.atomic import write_json
from mnist1d.dataset_config import NUM_CLASSES

ANSWERS_FILE = "answers.json"
FORMAT = 1  # of answers.json


class HumanInputError(ValueError):
    """A bad setting or request; its message names the field and what is allowed (shown without traceback)."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def stratified_questions(labels: np.ndarray, n_questions: int, seed: int) -> list[int]:
    """`n_questions` test indices, as many of each class as possible (the remainder goes to classes drawn
    by the seed), in an order shuffled by the seed; the same arguments always give the same list."""
    labels = np.asarray(labels)
    if not 1 <= n_questions <= len(labels):
        raise HumanInputError(
            f"n_questions={n_questions} is invalid: must be in 1..{len(labels)} (the test split)"
        )
    rng = np.random.default_rng(seed)
    base, extra = divmod(n_questions, NUM_CLASSES)
    counts = np.full(NUM_CLASSES, base)
    counts[rng.choice(NUM_CLASSES, size=extra, replace=False)] += 1
    picks = []
    for digit, count in enumerate(counts):
        pool = np.flatnonzero(labels == digit)
        if count > len(pool):
            raise HumanInputError(
                f"n_questions={n_questions} is invalid: the test split has only {len(pool)} samples of digit "
                f"{digit}, fewer than the {count} a stratified test of that length needs"
            )
        picks.append(rng.choice(pool, size=count, replace=False))
    questions = np.concatenate(picks)
    rng.shuffle(questions)
    return [int(i) for i in questions]


def response_time(value: Any) -> float | None:
    """Seconds from milliseconds sent by the page; None when missing or not a finite, non-negative number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return None
    return value / 1000


class Session:
    """One person's test in its results directory: the questions and the answers so far."""

    def __init__(self, directory: Path, record: dict[str, Any]) -> None:
        self.directory = directory
        self.record = record
        self.lock = threading.Lock()  # the server answers requests from several threads

    @property
    def path(self) -> Path:
        return self.directory / ANSWERS_FILE

    @property
    def questions(self) -> list[int]:
        return self.record["questions"]

    @property
    def answers(self) -> list[dict[str, Any]]:
        return self.record["answers"]

    @property
    def done(self) -> bool:
        return len(self.answers) == len(self.questions)

    @classmethod
    def start(cls, directory: Path, questions: list[int], config: dict[str, Any]) -> Session:
        """A new test; refuses a directory that already holds one (that is what `resume=` is for)."""
        if (directory / ANSWERS_FILE).exists():
            raise HumanInputError(
                f"{directory} already holds a test ({ANSWERS_FILE}): continue it with resume={directory}"
            )
        record = {"format": FORMAT, "started_at": now(), "finished_at": None, "config": config}
        session = cls(directory, record | {"questions": questions, "answers": []})
        session.save()
        return session

    @classmethod
    def resume(cls, directory: Path) -> Session:
        path = directory / ANSWERS_FILE
        try:
            record = json.loads(path.read_text())
        except FileNotFoundError:
            raise HumanInputError(f"resume={directory} is invalid: it has no {ANSWERS_FILE}") from None
        except json.JSONDecodeError as error:
            raise HumanInputError(
                f"resume={directory} is invalid: {ANSWERS_FILE} is not JSON ({error})"
            ) from None
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            raise HumanInputError(f"resume={directory} is invalid: {ANSWERS_FILE} is not a saved test")
        return cls(directory, record)

    def save(self) -> None:
        write_json(self.path, self.record)

    def answer(self, question: Any, digit: Any, response_time_ms: Any = None) -> dict[str, Any]:
        """Record the answer to the next question and save it; refuses any other question or a non-digit."""
        if isinstance(digit, bool) or not isinstance(digit, int) or not 0 <= digit < NUM_CLASSES:
            raise HumanInputError(f"answer={digit!r} is invalid: must be a digit 0-{NUM_CLASSES - 1}")
        with self.lock:
            expected = len(self.answers)
            if self.done:
                raise HumanInputError(f"question={question!r} is invalid: the test is finished")
            if isinstance(question, bool) or question != expected:
                raise HumanInputError(f"question={question!r} is invalid: the next question is {expected}")
            entry = {
                "question": expected,
                "sample_index": self.questions[expected],
                "answer": digit,
                "response_time_s": response_time(response_time_ms),
                "answered_at": now(),
            }
            self.answers.append(entry)
            if self.done:
                self.record["finished_at"] = entry["answered_at"]
            self.save()
            return entry
