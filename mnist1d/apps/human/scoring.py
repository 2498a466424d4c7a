"""A finished test scored like a trained model: results.json with a model's fields, so that the sweep
summary, the reports and the comparison read a person's results as they read a run's."""

from __future__ import annotations

import statistics
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import binomtest

from mnist1d.apps.human.quiz import NAME_ALLOWED, HumanInputError, Session, is_name
from mnist1d.dataset_config import NUM_CLASSES
from mnist1d.records import STATUS_OK, HumanRecord, library_versions, read_run
from mnist1d.rules import Rule, is_int, is_number, problems

MODEL = "human"  # the `model` field of a person's results.json
CI_LEVEL = 0.95


def is_fraction(value: Any) -> bool:
    return is_number(value) and 0 <= value <= 1


def per_digit(ok: Any) -> Any:
    """A test that a value is a list of one `ok` value per digit."""
    return lambda v: isinstance(v, list) and len(v) == NUM_CLASSES and all(ok(x) for x in v)


# The fields of a person's results.json that the comparison reads (`mnist1d.reports.human`).
PERSON_RULES = (
    Rule("model", f"{MODEL!r}, a finished test of this app", lambda v: v == MODEL, required=True),
    Rule("name", NAME_ALLOWED, is_name, required=True),
    Rule("final_test_acc", "a fraction in [0, 1]", is_fraction, required=True),
    Rule("accuracy_ci.level", "a fraction in [0, 1]", is_fraction, required=True),
    Rule("accuracy_ci.low", "a fraction in [0, 1]", is_fraction, required=True),
    Rule("accuracy_ci.high", "a fraction in [0, 1]", is_fraction, required=True),
    Rule("n_questions", "an integer >= 1", lambda v: is_int(v) and v >= 1, required=True),
    Rule("per_class_n", "a count >= 0 per digit", per_digit(lambda x: is_int(x) and x >= 0), required=True),
    Rule(
        "per_class_acc",
        "a fraction or null per digit",
        per_digit(lambda x: x is None or is_fraction(x)),
        required=True,
    ),
    Rule("config.data.shuffle_seq", "true or false", lambda v: isinstance(v, bool), required=True),
)


def read_person(directory: Path) -> HumanRecord:
    """The results.json of a finished test in `directory`, refused with one line when it is not one."""
    refused = f"compare={directory} is invalid: its results.json"
    try:
        person = read_run(directory)
    except (OSError, ValueError) as error:  # a RecordError, not UTF-8, a directory
        raise HumanInputError(f"{refused} cannot be read ({error})") from None
    if person is None:
        raise HumanInputError(f"{refused} does not exist or is not JSON")
    found = problems(PERSON_RULES, person)
    if found:
        raise HumanInputError(f"{refused} is not a finished test of this app ({found[0]})")
    return person


def confusion(labels: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """Counts with rows the true digit and columns the answer, like a model's confusion_matrix."""
    matrix = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=int)
    np.add.at(matrix, (labels, answers), 1)
    return matrix


def accuracy_ci(correct: int, n: int) -> dict[str, Any]:
    """Wilson score interval of a binomial proportion: sound near 100 % and for short tests, unlike the
    normal approximation."""
    interval = binomtest(correct, n).proportion_ci(CI_LEVEL, method="wilson")
    return {"level": CI_LEVEL, "method": "wilson", "low": float(interval.low), "high": float(interval.high)}


def score(session: Session, y_test: np.ndarray) -> HumanRecord:
    """The record (results.json) of a finished session (accuracies are fractions, as in a model's)."""
    answers = session.answers
    labels = np.asarray([int(y_test[a["sample_index"]]) for a in answers])
    given = np.asarray([a["answer"] for a in answers])
    matrix = confusion(labels, given)
    per_class_n = matrix.sum(1)
    per_class_acc = [float(matrix[c, c] / n) if n else None for c, n in enumerate(per_class_n)]
    correct = int(np.trace(matrix))
    accuracy = correct / len(answers)
    times = [a["response_time_s"] for a in answers if a["response_time_s"] is not None]
    record, config = session.record, session.record["config"]
    started, finished = (datetime.fromisoformat(record[k]) for k in ("started_at", "finished_at"))
    return HumanRecord(
        model=MODEL,
        name=config["name"],
        seed=config["seed"],
        eval_split="test",
        status=STATUS_OK,
        final_acc=accuracy,
        best_acc=accuracy,
        final_test_acc=accuracy,
        accuracy_ci=accuracy_ci(correct, len(answers)),
        n_questions=len(answers),
        n_correct=correct,
        per_class_acc=per_class_acc,
        per_class_n=per_class_n.tolist(),
        confusion_matrix=matrix.tolist(),
        answers=[
            a | {"label": int(label), "correct": bool(a["answer"] == label)}
            for a, label in zip(answers, labels, strict=True)
        ],
        response_time_s={
            "median": statistics.median(times) if times else None,
            "mean": statistics.fmean(times) if times else None,
            "total": sum(times),
        },
        started_at=record["started_at"],
        finished_at=record["finished_at"],
        wall_time_s=(finished - started).total_seconds(),
        versions=library_versions(),
        config=config,
    )
