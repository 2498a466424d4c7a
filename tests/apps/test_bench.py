"""The benchmark's tiny mode: every model timed on both paths, the batches compared, the JSON written."""

from __future__ import annotations

import json

import pytest

from mnist1d.apps.bench import grid_floor, main, study_models


def test_tiny_benchmark_reports_every_model(tmp_path, cache_dir, capsys):
    out = tmp_path / "bench.json"
    report = main(["--tiny", "--threads", "1", "--cache-dir", str(cache_dir), "--out", str(out)])
    assert json.loads(out.read_text()) == report
    assert [row["model"] for row in report["models"]] == study_models()
    for row in report["models"]:
        assert row["steps"] == 4 and row["repeats"] == 1
        assert row["plain_steps_per_s"] > 0 and row["framework_steps_per_s"] > 0
        assert row["ratio"] == pytest.approx(row["framework_steps_per_s"] / row["plain_steps_per_s"])
        expected_overhead = 1000 / row["framework_steps_per_s"] - 1000 / row["plain_steps_per_s"]
        assert row["overhead_ms_per_step"] == pytest.approx(expected_overhead)
    batches = report["batches"]
    assert batches["tensor_batches_batches_per_s"] > 0 and batches["dataloader_batches_per_s"] > 0
    printed = capsys.readouterr().out
    assert all(model in printed for model in study_models()) and "overhead ms/step" in printed


@pytest.mark.parametrize("argv", [["--steps", "0"], ["--repeats", "-1"], ["--threads", "0"]])
def test_bad_counts_are_rejected_naming_the_option(argv, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    assert f"{argv[0]}={argv[1]} is invalid: must be >= 1" in capsys.readouterr().err


def test_grid_floor_is_the_plain_loop_time_of_the_trained_steps(tmp_path):
    """Shared budgets count only in the all-budgets floor; the wall time comes from sweep.py's timing.json."""
    summary = "model,steps,shared_budget\ntcn,100,False\ntcn,50,True\nmlp,300,False\n"
    (tmp_path / "summary.csv").write_text(summary)
    (tmp_path / "timing.json").write_text(json.dumps({"jobs_wall_time_s": 9.0}))
    rates = [{"model": "tcn", "plain_steps_per_s": 10.0}, {"model": "mlp", "plain_steps_per_s": 100.0}]
    grid = grid_floor(tmp_path, rates, parallel=2)
    assert grid["jobs"] == 2
    assert grid["floor_s"] == pytest.approx((100 / 10 + 300 / 100) / 2)
    assert grid["floor_all_budgets_s"] == pytest.approx((150 / 10 + 300 / 100) / 2)
    assert grid["wall_over_floor"] == pytest.approx(9.0 / grid["floor_s"])
    with pytest.raises(ValueError, match=r"--models is missing \['mlp'\]"):
        grid_floor(tmp_path, rates[:1], parallel=2)


@pytest.mark.slow
def test_process_timing_measures_startup_before_the_first_step(tmp_path, cache_dir):
    report = main(["--tiny", "--models", "mlp", "--process", "--cache-dir", str(cache_dir)])
    process = report["process"]
    assert (
        0
        < process["import_pytorch_lightning_s"]
        < process["train_py_startup_s"]
        < process["train_py_total_s"]
    )
