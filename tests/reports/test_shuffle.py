"""The spatial-shuffle report from a small grid of real runs: final and best accuracies, the published
numbers and the human's, and the train / test accuracy curves (the paper's Fig. 6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.image import imread

from mnist1d.reports.shuffle import shuffle_report
from mnist1d.sweeps.summary import collect_rows
from tests.helpers import report_files, train_grid

QUICK = ["trainer.max_steps=20", "eval_every=10", "data.eval_train_split=true"]


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
    paths = shuffle_report(tmp_path, rows)
    numbers = report_files([p for p in paths if p.stem == "shuffle" and p.suffix != ".md"], "shuffle")
    for model in seeds:
        for variant in ("mnist1d", "mnist1d_shuffled"):
            runs = [
                r
                for r in rows
                if r["model"] == model and r["config"]["data"]["shuffle_seq"] == (variant != "mnist1d")
            ]
            stats = numbers["accuracy"][model][variant]
            assert stats["n"] == len(seeds[model]) and stats["values"] == [100 * r["final_acc"] for r in runs]
            assert stats["mean"] == pytest.approx(sum(stats["values"]) / len(runs))
            assert numbers["best_accuracy"][model][variant]["values"] == [100 * r["best_acc"] for r in runs]
            curve = numbers["curves"][model][variant]
            assert curve["seeds"] == 2 and curve["test"]["steps"] == curve["train"]["steps"] == [10, 20]
            assert all(0 < acc < 100 for acc in curve["train"]["mean"])
        drop = (
            numbers["accuracy"][model]["mnist1d"]["mean"]
            - numbers["accuracy"][model]["mnist1d_shuffled"]["mean"]
        )
        assert numbers["drop_when_shuffled"][model] == pytest.approx(drop)
        judged = numbers["vs_published"][model]["mnist1d"]  # G&K's table is early-stopped: our best
        best = numbers["best_accuracy"][model]["mnist1d"]
        assert judged["published"] == 32 and judged["ours"] == best["mean"] and judged["n"] == 2
        half = 12.706 * best["std"] * (1 + 1 / 2) ** 0.5  # t(1, 0.975): the interval for one new run
        assert judged["interval"] == pytest.approx([best["mean"] - half, best["mean"] + half], abs=1e-3)
        assert judged["inside"] == (abs(best["mean"] - 32) <= half)
    assert numbers["published_human"] == {"mnist1d": 96, "mnist1d_shuffled": 30}
    table = (tmp_path / "shuffle.md").read_text()
    assert "| logistic | spatially shuffled |" in table and "(n=2)" in table
    assert "protocol **ours**" in table and "published numbers lie inside our prediction interval" in table
    for stem in ("shuffle", "train_test_curves"):
        image = imread(tmp_path / f"{stem}.png")
        assert image.ndim == 3 and min(image.shape[:2]) > 300 and image.std() > 0.01
        assert (tmp_path / f"{stem}.pdf").read_bytes()[:5] == b"%PDF-"


def test_without_training_split_scores_no_curves_figure(make_cfg, tmp_path: Path) -> None:
    train_grid(make_cfg, [["model=logistic", "callbacks=none", "trainer.max_steps=20", "eval_every=10"]])
    paths = shuffle_report(tmp_path, collect_rows(tmp_path, None))
    assert sorted(p.name for p in paths) == ["shuffle.json", "shuffle.md", "shuffle.pdf", "shuffle.png"]
