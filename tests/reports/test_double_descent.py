"""The double-descent report: a small grid of real runs, the peak, the best error."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnist1d.reports.double_descent import best_error, double_descent_report, peak_after_first_minimum
from mnist1d.sweeps.summary import collect_rows
from tests.helpers import report_files, train_grid

QUICK = ["trainer.max_steps=20", "eval_every=10"]


def test_double_descent_sweep_small(make_cfg, tmp_path: Path) -> None:
    train_grid(make_cfg, [["experiment=double_descent", f"model.hidden_size={w}", *QUICK] for w in (4, 64)])
    rows = collect_rows(tmp_path, None)
    numbers = report_files(double_descent_report(tmp_path, rows), "double_descent")
    assert list(numbers["test_error"]) == ["4", "64"]
    for row in rows:
        entry = numbers["test_error"][str(row["config"]["model"]["hidden_size"])]
        assert entry["final"]["values"] == [pytest.approx(100 * (1 - row["final_acc"]))]
        assert entry["best"]["mean"] <= entry["final"]["mean"]
        assert entry["parameters"] == row["parameters"]
    assert numbers["label_noise"] == 0.15
    final = [numbers["test_error"][w]["final"]["mean"] for w in ("4", "64")]
    assert numbers["peak_width"] == (64 if final[1] > final[0] else None)


@pytest.mark.parametrize(
    ("errors", "peak"),
    [([64, 50, 50.4, 54.7, 55.1, 51, 48.9], 4), ([60, 50, 45], None), ([50, 55, 52], 1), ([50], None)],
)
def test_double_descent_peak_is_highest_error_after_first_minimum(
    errors: list[float], peak: int | None
) -> None:
    assert peak_after_first_minimum(errors) == peak


def test_best_error_is_lowest_error_over_history() -> None:
    row = {
        "history": [{"step": 1, "test/acc": 0.4}, {"step": 2, "test/acc": 0.6}, {"step": 3, "test/acc": 0.5}]
    }
    assert best_error(row) == pytest.approx(40.0)
