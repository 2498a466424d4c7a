"""The study report from rows alone (no training): the results table, failures and figures."""

from __future__ import annotations

import statistics
from pathlib import Path

from matplotlib.image import imread
from omegaconf import OmegaConf

from mnist1d.reports.study import published_results, study_report
from mnist1d.reports.study_figures import FIGURE_SIZE_PX
from tests.helpers import result_row


def test_study_report_table_failures_and_figures(tmp_path: Path):
    rows = [
        result_row("cnn", 1000, seed, [0.6, 0.7, 0.8, acc]) for seed, acc in enumerate([0.90, 0.92, 0.95])
    ]
    rows += [result_row("gru", 1000, 0, [0.5, 0.6, 0.7, 0.85])]
    rows += [result_row("gru", 1000, 1, [0.5], status="failed", error="FloatingPointError: loss is nan")]
    paths = study_report(tmp_path, rows, OmegaConf.create({"name": "study"}))
    report = (tmp_path / "results.md").read_text()
    cnn = [90, 92, 95]
    assert (
        f"| cnn | 5,210 | {statistics.fmean(cnn):.1f} ± {statistics.stdev(cnn):.1f} (n=3) | 88.3 |" in report
    )
    assert "| gru | 5,134 | 85.0 (n=1) | 86.6 |" in report
    assert "| gru-1000-1 | failed | FloatingPointError: loss is nan |" in report
    assert f"| human | — | — | {published_results()['human']['test_accuracy']:g} |" in report
    pngs = [path for path in paths if path.suffix == ".png"]
    assert [p.name for p in pngs] == [
        "accuracy_1000steps.png",
        "learning_curves.png",
        "accuracy_vs_parameters.png",
    ]
    for png in pngs:
        height, width, _ = imread(png).shape
        assert (width, height) == FIGURE_SIZE_PX
