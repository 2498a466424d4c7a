"""The pooling report, written by `sweep.py report=` on a plain multirun directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnist1d.sweeps import launch
from mnist1d.sweeps.summary import collect_rows
from tests.helpers import report_files, train_grid

QUICK = ["trainer.max_steps=20", "eval_every=10"]


def test_pooling_sweep_small(make_cfg, tmp_path: Path) -> None:
    grid = [
        ["experiment=pooling", f"model.pooling={pooling}", f"data.train_size={size}", *QUICK]
        for pooling in ("none", "max")
        for size in (1000, 2000)
    ]
    train_grid(make_cfg, grid)
    # sweep.py's report mode, on a plain multirun directory
    assert launch.sweep(["sweep=pooling_small", f"report={tmp_path}", "wandb_report=false"]) == 0
    rows = collect_rows(tmp_path, None)
    numbers = report_files([tmp_path / f"pooling{s}" for s in (".json", ".png", ".pdf")], "pooling")
    assert "| max | 2,000 |" in (tmp_path / "pooling.md").read_text()
    assert {p: list(by_size) for p, by_size in numbers["accuracy"].items()} == {
        "none": ["1000", "2000"],
        "max": ["1000", "2000"],
    }
    # the notebook's 1000-sample numbers (last step) beside ours; one seed gives no prediction interval
    assert numbers["reading"] == "final" and numbers["protocol"] == "greydanus_kobak"
    for pooling, published in (("none", 59.2), ("max", 78.2)):
        judged = numbers["vs_published"][pooling]["1000"]
        assert judged["published"] == published and judged["interval"] is None and judged["inside"] is None
        assert judged["ours"] == numbers["accuracy"][pooling]["1000"]["mean"]
    assert "2000" not in numbers["vs_published"]["max"]
    for size in ("1000", "2000"):
        for pooling in ("none", "max"):
            best, final = numbers["best_accuracy"][pooling][size], numbers["accuracy"][pooling][size]
            assert best["n"] == final["n"] == 1 and best["mean"] >= final["mean"]
        gain = numbers["accuracy"]["max"][size]["mean"] - numbers["accuracy"]["none"][size]["mean"]
        assert numbers["best_pooling_gain_over_none"][size] == pytest.approx(gain)
    assert all(
        row["parameters"] == (9310 if row["config"]["model"]["pooling"] == "none" else 3310) for row in rows
    )
