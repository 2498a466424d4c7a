"""Derive the published human benchmark's per-digit numbers from the reference repository's quiz files.

    python scripts/derive_human_reference.py <dir>

`<dir>` holds `human_q1.pkl` ... `human_q5.pkl`, `classwise_human_errors.png` and
`classwise_cnn_errors.png`, all from the `static/` folder of greydanus/mnist1d. Each pickle is read through
the restricted unpickler (`mnist1d.frozen`, never `pickle.load`) and holds three lists of 100: the signals
shown, the person's answers and the true labels. Every signal is located in the test split that our
generator makes with the default arguments (the reference's frozen dataset), which gives each question its
test index. Prints the `human_per_digit` section of mnist1d/reports/published_results.json as JSON;
only these derived numbers are shipped, never the pickles.

The two figures are measured, not read: bar heights in pixels, scaled by the y ticks (whose labels, 2.5
and 5 points apart, were read by eye). The human figure checks the measurement against the pickles.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from mnist1d import frozen
from mnist1d.data import load_dataset
from mnist1d.dataset_config import DatasetConfig

QUIZZES = [f"human_q{i}.pkl" for i in range(1, 6)]
# the figures and the step between their y tick labels (read by eye: 0, 2.5, 5, ... and 0, 5, 10, 15)
FIGURES = {
    "human_error_rate": ("classwise_human_errors.png", 2.5),
    "cnn_error_rate": ("classwise_cnn_errors.png", 5.0),
}
SOURCE = (
    "reference repository greydanus/mnist1d: static/human_q1.pkl ... human_q5.pkl (the human benchmark's "
    "quizzes) and static/classwise_human_errors.png, classwise_cnn_errors.png; derived by "
    "scripts/derive_human_reference.py, which reads the pickles through the restricted unpickler"
)
NOTE = (
    "Each quiz file holds 100 test samples, the person's answers and the true labels. The samples are "
    "test_indices [start, stop) of the default MNIST-1D test split (the reference's frozen dataset), "
    "which our generator reproduces: identical labels, signals within 1e-15. human_q2.pkl is "
    "byte-identical to human_q1.pkl, so the published 95.8 +- 0.44 (96, 96, 96, 97, 94) and the "
    "reference's per-digit figure (as_published: all five files, 500 answers) count quiz 1 twice; "
    "'distinct' pools the four different quizzes (400 answers). Percent; confusion_matrix rows are true "
    "digits, columns the person's answers."
)
FIGURE_NOTE = (
    "bar heights measured in pixels on the reference's per-digit figures (percent misclassified, about "
    "+-0.1); the CNN figure is the only source of the CNN's per-digit errors, and the set it was scored on "
    "is not stated (its rates are not whole numbers of errors on the quiz samples or on the 1000 test "
    "samples)"
)
MATCH_TOLERANCE = 1e-9  # our generator matches the frozen file to ~1e-15


def read_quiz(path: Path, x_test: np.ndarray, y_test: np.ndarray) -> dict[str, Any]:
    """One quiz: the test index of every question (located by its signal), answers and labels."""
    signals, answers, labels = frozen.loads(path.read_bytes())
    signals, answers, labels = np.stack(signals), np.asarray(answers), np.asarray(labels)
    distance = np.abs(signals[:, None, :] - x_test[None]).max(-1)
    indices = distance.argmin(1)
    if distance.min(1).max() > MATCH_TOLERANCE:
        raise ValueError(f"{path.name}: a question is not a sample of the default test split")
    if not np.array_equal(y_test[indices], labels):
        raise ValueError(f"{path.name}: the stored labels differ from the test split's")
    return {
        "file": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "indices": indices,
        "answers": answers,
        "labels": labels,
    }


def scores(quizzes: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy, per-class numbers (percent) and the confusion matrix (rows: truth) of pooled quizzes."""
    answers = np.concatenate([q["answers"] for q in quizzes])
    labels = np.concatenate([q["labels"] for q in quizzes])
    confusion = np.zeros((10, 10), dtype=int)
    np.add.at(confusion, (labels, answers), 1)
    per_class_n = confusion.sum(1)
    per_class_acc = 100 * np.diag(confusion) / per_class_n
    return {
        "files": [q["file"] for q in quizzes],
        "n": len(labels),
        "accuracy": round(100 * float((answers == labels).mean()), 2),
        "per_class_n": per_class_n.tolist(),
        "per_class_acc": np.round(per_class_acc, 2).tolist(),
        "error_rate": np.round(100 - per_class_acc, 2).tolist(),
        "confusion_matrix": confusion.tolist(),
    }


def measure_bars(path: Path, tick_step: float) -> list[float]:
    """Bar heights (in y-axis units) of a 10-bar matplotlib chart with green bars on white."""
    import matplotlib.image

    rgb = matplotlib.image.imread(path)[..., :3]
    black = rgb.max(-1) < 0.35
    green = (rgb[..., 1] > 0.3) & (rgb[..., 0] < 0.2) & (rgb[..., 2] < 0.2)
    left = int(black.sum(0).argmax())  # the left spine is the longest black column
    rows = black.sum(1)
    bottom = int(np.flatnonzero(rows >= 0.9 * rows.max()).max())  # the lower of the two long black rows
    tick_rows = run_centres(np.flatnonzero(black[:, left - 4]))  # y tick marks stick out left of the spine
    tick_cols = run_centres(np.flatnonzero(black[bottom + 4, left + 1 :])) + left + 1  # x ticks below it
    if len(tick_cols) != 10 or len(tick_rows) < 2:
        raise ValueError(f"{path.name}: expected 10 x ticks and at least 2 y ticks")
    zero, pixels_per_step = tick_rows[-1], float(np.diff(tick_rows).mean())
    heights = []
    for col in tick_cols.round().astype(int):
        rows = np.flatnonzero(green[:, col])
        heights.append(0.0 if len(rows) == 0 else (zero - rows.min() + 0.5) / pixels_per_step * tick_step)
    return [round(h, 1) for h in heights]


def run_centres(positions: np.ndarray) -> np.ndarray:
    """Centres of the runs of consecutive integers in `positions` (a line drawn several pixels thick)."""
    runs = np.split(positions, np.flatnonzero(np.diff(positions) > 1) + 1)
    return np.array([run.mean() for run in runs if len(run)])


def derive(folder: Path) -> dict[str, Any]:
    data = load_dataset(DatasetConfig(), cache_dir=None)
    x_test, y_test = np.asarray(data["x_test"]), np.asarray(data["y_test"])
    quizzes = [read_quiz(folder / name, x_test, y_test) for name in QUIZZES]
    first_of: dict[str, dict[str, Any]] = {}
    for quiz in quizzes:
        first_of.setdefault(quiz["sha256"], quiz)
    section: dict[str, Any] = {
        "source": SOURCE,
        "note": NOTE,
        "quizzes": [quiz_summary(q, first_of[q["sha256"]]) for q in quizzes],
        "as_published": scores(quizzes),
        "distinct": scores(list(first_of.values())),
    }
    errors = section["as_published"]["error_rate"]
    measured = {key: measure_bars(folder / name, step) for key, (name, step) in FIGURES.items()}
    gap = np.abs(np.subtract(measured["human_error_rate"], errors)).max()
    section["figure_measurement"] = {
        "note": FIGURE_NOTE,
        "cnn_error_rate": measured["cnn_error_rate"],
        "human_error_rate": measured["human_error_rate"],
        "human_max_abs_difference_from_pickles": round(float(gap), 2),
    }
    r = np.corrcoef(errors, measured["cnn_error_rate"])[0, 1]
    section["human_cnn_error_correlation"] = round(float(r), 3)
    return section


def quiz_summary(quiz: dict[str, Any], first: dict[str, Any]) -> dict[str, Any]:
    """Which test samples a quiz asked (a contiguous range), how many it got right, and duplicates."""
    start = int(quiz["indices"][0])
    if not np.array_equal(quiz["indices"], np.arange(start, start + len(quiz["indices"]))):
        raise ValueError(f"{quiz['file']}: the questions are not a contiguous range of test samples")
    summary = {
        "file": quiz["file"],
        "test_indices": [start, start + len(quiz["indices"])],
        "correct": int((quiz["answers"] == quiz["labels"]).sum()),
        "n": len(quiz["labels"]),
    }
    return summary | ({"identical_to": first["file"]} if first is not quiz else {})


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    print(json.dumps(derive(Path(argv[0])), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
