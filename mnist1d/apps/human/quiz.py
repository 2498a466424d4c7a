"""Which test samples a person is asked, and the answers, saved after every one so that nothing is lost.

A test is defined by its seed, its length and the dataset: `stratified_questions` draws the same test
indices in the same order from them every time, so two people with the same settings take the same test.
`Session` keeps the answers in `answers.json` (written atomically before an answer is acknowledged), which
is also what a restarted server resumes from. A file read back is data: `record_problem` checks every field
of it against what `Session` writes, and anything else is refused with one line naming the field.
"""

from __future__ import annotations

import json
import math
import re
import reprlib
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from mnist1d.atomic import write_json
from mnist1d.dataset_config import NUM_CLASSES, DatasetConfig
from mnist1d.rules import Rule, is_int, is_number

ANSWERS_FILE = "answers.json"
FORMAT = 1  # of answers.json
MAX_RECORD_BYTES = 16 * 2**20  # a saved test of the whole test split is well under 1 MiB
NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
NAME_ALLOWED = "1-64 letters, digits, '.', '_' or '-'"
_ABSENT = object()


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


def is_name(value: Any) -> bool:
    """A person's name as it goes into a directory name: no path separator, never `.` or `..`."""
    return isinstance(value, str) and bool(NAME.match(value)) and value not in (".", "..")


def is_time(value: Any) -> bool:
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def is_duration(value: Any) -> bool:
    """A finite number >= 0 (not a bool)."""
    return is_number(value) and math.isfinite(value) and value >= 0


def is_digit(value: Any) -> bool:
    return is_int(value) and 0 <= value < NUM_CLASSES


def has_generator_args(value: Any) -> bool:
    """An object with every generator argument, as a test records them (its `conf/train/data` config)."""
    return isinstance(value, dict) and set(DatasetConfig().generator_args()) <= set(value)


# What `Session` writes: every field of answers.json, and of each of its answers.
RECORD_RULES = (
    Rule("format", str(FORMAT), lambda v: is_int(v) and v == FORMAT),
    Rule("started_at", "an ISO 8601 time", is_time),
    Rule("finished_at", "null or an ISO 8601 time", lambda v: v is None or is_time(v)),
    Rule("config", "the settings the test began with", lambda v: isinstance(v, dict)),
    Rule("config.name", NAME_ALLOWED, is_name),
    Rule("config.n_questions", "an integer >= 1", lambda v: is_int(v) and v >= 1),
    Rule("config.seed", "an integer >= 0", lambda v: is_int(v) and v >= 0),
    Rule("config.data", "an object with every generator argument", has_generator_args),
    Rule("questions", "a list of test indices", lambda v: isinstance(v, list) and all(is_int(i) for i in v)),
    Rule("answers", "a list of answers", lambda v: isinstance(v, list)),
)
ANSWER_RULES = (
    Rule("question", "an integer", is_int),
    Rule("sample_index", "an integer", is_int),
    Rule("answer", f"a digit 0-{NUM_CLASSES - 1}", is_digit),
    Rule("response_time_s", "null or a number >= 0", lambda v: v is None or is_duration(v)),
    Rule("answered_at", "an ISO 8601 time", is_time),
)


def field_problem(node: Any, rules: tuple[Rule, ...], name: str = "", closed: bool = True) -> str | None:
    """The first field of the JSON object `node` (called `name`) that breaks its rule, or (`closed`) a key
    no rule names; None when every field is as the rules say."""
    where = name or "the file"
    if not isinstance(node, dict):
        return f"{where}={reprlib.repr(node)} is invalid: must be an object"
    for rule in rules:
        value = node
        for part in rule.key.split("."):
            value = value.get(part, _ABSENT) if isinstance(value, dict) else _ABSENT
        key = f"{name}.{rule.key}" if name else rule.key
        if value is _ABSENT:
            return f"{key} is missing: must be {rule.allowed}"
        if not rule.ok(value):
            return f"{key}={reprlib.repr(value)} is invalid: must be {rule.allowed}"
    known = {rule.key.split(".")[0] for rule in rules}
    unknown = sorted(set(node) - known) if closed else []
    return f"{where} has unknown keys {unknown}: its keys are {sorted(known)}" if unknown else None


def record_problem(record: Any) -> str | None:
    """What makes a loaded answers.json other than a test `Session` saved (None: nothing)."""
    problem = field_problem(record, RECORD_RULES)
    if problem:
        return problem
    try:
        DatasetConfig.from_args(record["config"]["data"])
    except (TypeError, ValueError) as error:
        return f"config.data: {error}"
    n, questions, answers = record["config"]["n_questions"], record["questions"], record["answers"]
    if len(questions) != n or len(answers) > n:
        return (
            f"{len(questions)} questions and {len(answers)} answers are invalid: must be {n} and at most {n}"
        )
    for number, (entry, index) in enumerate(zip(answers, questions, strict=False)):
        problem = field_problem(entry, ANSWER_RULES, f"answers[{number}]")
        if problem:
            return problem
        for key, expected in (("question", number), ("sample_index", index)):
            if entry[key] != expected:
                return f"answers[{number}].{key}={entry[key]} is invalid: must be {expected}"
    if (record["finished_at"] is None) != (len(answers) < n):
        return (
            f"finished_at={record['finished_at']!r} is invalid: must be set once every question is answered"
        )
    return None


def read_json(path: Path, refused: str) -> Any:
    """The JSON in `path`; when it is missing, too large, unreadable or not JSON, a HumanInputError that
    starts with `refused` (e.g. "resume=<dir> is invalid: its answers.json") and says which."""
    try:
        if path.stat().st_size > MAX_RECORD_BYTES:
            raise HumanInputError(f"{refused} is larger than {MAX_RECORD_BYTES // 2**20} MiB")
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        raise HumanInputError(f"{refused} does not exist") from None
    except OSError as error:
        raise HumanInputError(f"{refused} cannot be read ({error.strerror})") from None
    except (ValueError, RecursionError) as error:  # not UTF-8, not JSON, nested too deep, huge numbers
        raise HumanInputError(f"{refused} is not JSON ({error})") from None


def response_time(value: Any) -> float | None:
    """Seconds from milliseconds sent by the page; None when missing or not a finite, non-negative number."""
    return value / 1000 if is_duration(value) else None


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
        """The test saved in `directory`, refused with one line when its answers.json is not one `Session`
        wrote: not there, unreadable, not JSON, or any field other than what `record_problem` allows."""
        refused = f"resume={directory} is invalid: its {ANSWERS_FILE}"
        record = read_json(directory / ANSWERS_FILE, refused)
        problem = record_problem(record)
        if problem:
            raise HumanInputError(f"{refused} is not a test this app saved ({problem})")
        return cls(directory, record)

    def save(self) -> None:
        write_json(self.path, self.record)

    def answer(self, question: Any, digit: Any, response_time_ms: Any = None) -> dict[str, Any]:
        """Record the answer to the next question and save it; refuses any other question or a non-digit."""
        if not is_digit(digit):
            raise HumanInputError(f"answer={digit!r} is invalid: must be a digit 0-{NUM_CLASSES - 1}")
        with self.lock:
            expected = len(self.answers)
            if self.done:
                raise HumanInputError(f"question={question!r} is invalid: the test is finished")
            if not is_int(question) or question != expected:
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
