"""The double-descent report: a small grid of real runs (MLP with and without label noise, the CNN
variant), train and test errors, the peak, the interpolation threshold, the reference's curves."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.image import imread

from mnist1d.reports.common import published
from mnist1d.reports.double_descent import (
    best_error,
    double_descent_peak,
    double_descent_report,
    interpolation_width,
)
from mnist1d.sweeps.summary import collect_rows
from tests.helpers import report_files, train_grid

QUICK = ["trainer.max_steps=20", "eval_every=10"]


def test_double_descent_sweep_small(make_cfg, tmp_path: Path) -> None:
    grid = [
        ["experiment=double_descent", f"model.hidden_size={w}", f"data.label_noise={noise}", *QUICK]
        for w in (4, 64)
        for noise in (0.15, 0.0)
    ]
    grid.append(["experiment=double_descent_cnn", "model.channels=6", *QUICK])
    train_grid(make_cfg, grid)
    rows = collect_rows(tmp_path, None)
    paths = double_descent_report(tmp_path, rows)
    numbers = report_files([p for p in paths if p.suffix != ".md"], "double_descent")
    groups = numbers["groups"]
    assert list(groups) == [
        "cnn, label noise 0.15",
        "mlp_plain, label noise 0.15",
        "mlp_plain, label noise 0",
    ]
    for row in rows:
        noise = row["config"]["data"]["label_noise"]
        name = f"{row['model']}, label noise {noise:g}"
        width = row["config"]["model"].get("hidden_size", row["config"]["model"].get("channels"))
        entry = groups[name]["by_width"][str(width)]
        assert entry["test_final"]["values"] == [pytest.approx(100 * (1 - row["final_acc"]))]
        assert entry["test_best"]["mean"] <= entry["test_final"]["mean"]
        assert 0 <= entry["train_final"]["mean"] <= 100  # the whole training split was scored
        assert entry["parameters"] == row["parameters"]
    noisy = groups["mlp_plain, label noise 0.15"]
    assert noisy["label_noise"] == 0.15 and noisy["wrong_labels"] == pytest.approx(13.5)  # resampled labels
    assert noisy["published"]["peak_width"] == 47 and noisy["published"]["interpolation_width"] == 61
    assert groups["mlp_plain, label noise 0"]["published"]["interpolation_width"] == 47
    assert groups["cnn, label noise 0.15"]["published"]["interpolation_width"] == 24
    assert "## mlp_plain, label noise 0" in (tmp_path / "double_descent.md").read_text()
    image = imread(tmp_path / "double_descent.png")
    assert image.ndim == 3 and image.shape[1] > 1000 and image.std() > 0.01


@pytest.mark.parametrize(
    ("curve", "peak_width"),
    [("mlp_label_noise", 47), ("mlp_no_label_noise", None), ("cnn_label_noise", 18)],
)
def test_double_descent_peak_of_the_reference_curves(curve: str, peak_width: int | None) -> None:
    reference = published("double_descent")[curve]
    widths, test = reference["width"], reference["test_error"]
    peak = double_descent_peak(widths, test, interpolation_width(widths, reference["train_error"]))
    assert (None if peak is None else widths[peak]) == peak_width


def test_double_descent_peak_needs_a_rise_and_an_interpolating_width() -> None:
    widths = [2, 4, 8, 16, 32]
    assert double_descent_peak(widths, [60, 50, 55, 52, 48], 8) == 2
    assert double_descent_peak(widths, [60, 50, 50.5, 49, 48], 8) is None  # within the margin
    assert double_descent_peak(widths, [60, 50, 55, 52, 48], None) is None


def test_interpolation_threshold_is_where_the_training_labels_stay_fitted() -> None:
    assert interpolation_width([2, 4, 8, 16], [50.0, 0.0, 3.0, 0.2]) == 16
    assert interpolation_width([2, 4, 8], [50.0, 0.4, 0.0]) == 4
    assert interpolation_width([2, 4], [50.0, 10.0]) is None


def test_best_error_is_lowest_error_over_history() -> None:
    row = {
        "config": {"eval_split": "test"},
        "history": [{"step": 1, "test/acc": 0.4}, {"step": 2, "test/acc": 0.6}, {"step": 3, "test/acc": 0.5}],
    }
    assert best_error(row) == pytest.approx(40.0)
