"""A finished test scored like a trained model: results.json with a model's fields, so that the sweep
summary, the reports and the comparison read a person's results as they read a run's."""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

import numpy as np
from scipy.stats import binomtest

from mnist1d.apps.human.quiz import Session
from mnist1d.dataset_config import NUM_CLASSES
from mnist1d.records import STATUS_OK, HumanRecord, library_versions

MODEL = "human"  # the `model` field of a person's results.json
CI_LEVEL = 0.95


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
