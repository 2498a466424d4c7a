"""What the reports share: the published numbers, and figures written whole."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from mnist1d.atomic import save_figure
from mnist1d.reports.common import published, published_results, seed_stats, setting


def test_published_numbers_ship_with_the_package():
    assert published_results()["beebe_et_al_runs"]["steps_10000"]["tcn"] == 98.8
    double_descent = published("double_descent")  # structured fields beside the note they come from
    low, high = double_descent["peak_widths"]
    assert f"near {double_descent['peak_test_error']}% at widths {low}-{high}" in double_descent["note"]
    assert f"{double_descent['test_error_at_width_300']}% at width 300" in double_descent["note"]


def test_summary_of_seeds():
    assert seed_stats([90.0, 92.0, 94.0]) == {"mean": 92.0, "std": 2.0, "n": 3, "values": [90.0, 92.0, 94.0]}
    assert seed_stats([50.0])["std"] == 0.0


def test_figure_is_written_in_every_format_and_nothing_else(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    paths = save_figure(fig, tmp_path, "line")
    assert [p.name for p in paths] == ["line.png", "line.pdf"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line.pdf", "line.png"]  # no temporary left
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[1].read_bytes()[:5] == b"%PDF-"
    assert not plt.fignum_exists(fig.number)  # closed: a report of many figures does not pile them up


def test_a_failed_figure_leaves_no_file(tmp_path):
    fig, _ = plt.subplots()
    with pytest.raises(ValueError):
        save_figure(fig, tmp_path, "broken", formats=("png", "no-such-format"))
    assert [p.name for p in tmp_path.iterdir()] == ["broken.png"]  # the finished one only, never a partial


def test_a_run_config_read_back_is_data(monkeypatch):
    """A results.json is a file anyone may hand over: what the reports read from it is never resolved."""
    monkeypatch.setenv("MNIST1D_TEST_SECRET", "s3cret")
    row = {"config": {"model": {"pooling": "${oc.env:MNIST1D_TEST_SECRET}"}, "data": {"train_size": 1000}}}
    assert setting(row, "model.pooling") == "${oc.env:MNIST1D_TEST_SECRET}"
    assert setting(row, "data.train_size") == 1000 and setting(row, "data.label_noise") is None
