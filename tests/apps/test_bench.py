"""The benchmark's tiny mode: every model timed on both paths, on the run's device, the batches compared, the
JSON written; the default configuration (W&B offline) and the CSV-only one."""

from __future__ import annotations

import json

import pytest
import torch

import mnist1d.apps.bench
from mnist1d.apps.bench import grid_floor, main, plain_loop, study_models
from mnist1d.training.callbacks import synchronize

DEVICE = "cuda:0" if torch.cuda.is_available() else "cpu"  # what trainer.accelerator=auto picks


def test_tiny_benchmark_reports_every_model(tmp_path, cache_dir, capsys):
    out = tmp_path / "bench.json"
    report = main(["--tiny", "--csv", "--threads", "1", "--cache-dir", str(cache_dir), "--out", str(out)])
    assert json.loads(out.read_text()) == report
    assert report["device"] == DEVICE and report["overrides"][0] == "logger=csv"
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
    assert f"device: {DEVICE} ({report['device_name']})" in printed


def test_by_default_the_framework_runs_as_train_py_does_with_wandb_offline(cache_dir, monkeypatch):
    pytest.importorskip("wandb")
    configs = []
    real_fit = mnist1d.apps.bench.fit

    def fit(cfg):
        configs.append(cfg)
        return real_fit(cfg)

    monkeypatch.setattr(mnist1d.apps.bench, "fit", fit)
    report = main(["--tiny", "--models", "mlp", "--threads", "1", "--cache-dir", str(cache_dir)])
    assert report["overrides"][0] == "logger.wandb.mode=offline"
    assert configs and all(set(cfg.logger) == {"wandb", "csv"} for cfg in configs)
    assert all(cfg.logger.wandb.mode == "offline" and "best_checkpoint" in cfg.callbacks for cfg in configs)


def test_the_plain_loop_reads_its_clock_after_the_device_is_done(make_cfg, monkeypatch):
    events = []
    monkeypatch.setattr(mnist1d.apps.bench, "synchronize", lambda device: events.append(str(device)))
    plain_loop(make_cfg("model=logistic", "eval_every=2"), 3, torch.device("cpu"))
    assert events == ["cpu", "cpu"]  # before starting and before stopping the clock


def test_synchronize_waits_for_the_accelerator_and_not_for_the_cpu(monkeypatch):
    waited = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: waited.append(device))
    synchronize(torch.device("cpu"))
    synchronize(torch.device("cuda", 0))
    assert waited == [torch.device("cuda", 0)]


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


@pytest.mark.slow  # four `train.py -m` processes: about a minute
def test_tiny_stacked_benchmark_times_loops_and_launchers_and_says_what_was_stacked(
    tmp_path, cache_dir, capsys
):
    arguments = [
        "--tiny",
        "--stacked",
        "--csv",
        "--threads",
        "1",
        "--seeds",
        "2",
        "--models",
        "logistic",
        "gru",
    ]
    report = main([*arguments, "--cache-dir", str(cache_dir)])
    logistic, gru = report["loops"]
    assert logistic["refusal"] is None and logistic["separate_s"] > 0 and logistic["stacked_s"] > 0
    assert logistic["ratio"] == pytest.approx(logistic["separate_s"] / logistic["stacked_s"])
    assert "aten::gru" in gru["refusal"] and gru["flops_per_sample"] > 0
    decisions = {row["model"]: row["decision"] for row in report["launchers"]}
    assert decisions["logistic"] == "stacked" and decisions["gru"].startswith("one by one: the net cannot")
    assert all(row["basic_s"] > 0 and row["stacked_s"] > 0 for row in report["launchers"])
    assert "basic vs stacked launcher" in capsys.readouterr().out
