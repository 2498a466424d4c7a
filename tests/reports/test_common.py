"""What the reports share: the published numbers, and figures written whole."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from mnist1d.atomic import save_figure
from mnist1d.reports.common import (
    count_inside,
    judge,
    model_colour,
    prediction_interval,
    published,
    published_results,
    seed_stats,
    setting,
)


def test_published_numbers_ship_with_the_package():
    assert published_results()["beebe_et_al_runs"]["steps_10000"]["tcn"] == 98.8
    double_descent = published("double_descent")  # structured fields beside the note they come from
    low, high = double_descent["peak_widths"]
    assert f"near {double_descent['peak_test_error']}% at widths {low}-{high}" in double_descent["note"]
    assert f"{double_descent['test_error_at_width_300']}% at width 300" in double_descent["note"]


def test_prediction_interval_for_one_new_run():
    """mean ± t(n-1, 0.975) · sd · sqrt(1 + 1/n): t(9) = 2.2622, t(2) = 4.3027 (tables)."""
    ten = seed_stats([97.0, 98.0] * 5)
    half = 2.2622 * ten["std"] * (1 + 1 / 10) ** 0.5
    assert prediction_interval(ten) == pytest.approx((97.5 - half, 97.5 + half), abs=1e-3)
    three = seed_stats([90.0, 92.0, 94.0])
    assert prediction_interval(three) == pytest.approx(
        (92 - 4.3027 * 2 * 1.1547, 92 + 4.3027 * 2 * 1.1547), abs=1e-3
    )
    assert prediction_interval(seed_stats([50.0])) is None
    two_runs = 2.2622 * ten["std"] * (1 / 2 + 1 / 10) ** 0.5  # a published mean of two runs
    assert prediction_interval(ten, runs=2) == pytest.approx((97.5 - two_runs, 97.5 + two_runs), abs=1e-3)


def test_judging_published_numbers():
    ten = seed_stats([97.0, 98.0] * 5)  # interval about [96.3, 98.7]
    inside, outside = judge(ten, 98.6), judge(ten, 98.8)
    assert inside["inside"] is True and outside["inside"] is False and outside["n"] == 10
    assert inside["delta"] == pytest.approx(-1.1)
    single = judge(seed_stats([50.0]), 60.0)
    assert single["interval"] is None and single["inside"] is None
    assert count_inside([inside, outside, single]) == "1 of 2"


def test_one_colour_per_model():
    assert model_colour("cnn") == "tab:blue" and model_colour("tcn") != model_colour("tcn_trained")
    assert model_colour("my_net") == model_colour("my_net")  # an unlisted model keeps its colour too


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


def test_a_published_number_equal_to_every_seed_lies_inside():
    ours = seed_stats([100 * float(np.float32(0.315))] * 10)  # 31.499999..., as results.json holds it
    assert judge(ours, 31.5)["inside"] is True and judge(ours, 31.6)["inside"] is False
