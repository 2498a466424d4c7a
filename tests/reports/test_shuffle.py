"""The spatial-shuffle report from a small grid of real runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnist1d.reports.shuffle import shuffle_report
from mnist1d.sweeps.summary import collect_rows
from tests.helpers import report_files, train_grid

QUICK = ["trainer.max_steps=20", "eval_every=10"]


def test_shuffle_sweep_small(make_cfg, tmp_path: Path) -> None:
    seeds = {"logistic": (0, 1)}
    grid = [
        [f"model={model}", f"data={data}", f"seed={seed}", "callbacks=none", *QUICK]
        for model in seeds
        for data in ("mnist1d", "mnist1d_shuffled")
        for seed in seeds[model]
    ]
    train_grid(make_cfg, grid)
    rows = collect_rows(tmp_path, None)
    numbers = report_files(shuffle_report(tmp_path, rows), "shuffle")
    for model in seeds:
        for variant in ("mnist1d", "mnist1d_shuffled"):
            stats = numbers["accuracy"][model][variant]
            runs = [
                100 * r["final_acc"]
                for r in rows
                if r["model"] == model and r["config"]["data"]["shuffle_seq"] == (variant != "mnist1d")
            ]
            assert stats["n"] == len(seeds[model]) and stats["values"] == runs
            assert stats["mean"] == pytest.approx(sum(runs) / len(runs))
        drop = (
            numbers["accuracy"][model]["mnist1d"]["mean"]
            - numbers["accuracy"][model]["mnist1d_shuffled"]["mean"]
        )
        assert numbers["drop_when_shuffled"][model] == pytest.approx(drop)
