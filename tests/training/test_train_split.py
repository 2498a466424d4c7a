"""Scoring the whole training split at every evaluation (data.eval_train_split): logged as train_split/acc
and train_split/loss beside the test metrics, which it leaves unchanged; off by default."""

from __future__ import annotations

import csv

import pytest

from mnist1d.training.classifier import Classifier
from mnist1d.training.fit import fit
from tests.helpers import ON_CPU, compose_run, read_results

QUICK = ["model=cnn", "trainer.max_steps=40", "eval_every=20", "seed=1", ON_CPU]


def logged(run_dir) -> list[dict[str, str]]:
    with (run_dir / "csv" / "metrics.csv").open() as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def runs(tmp_path_factory, cache_dir):
    base = tmp_path_factory.mktemp("train_split")
    for name, extra in (("off", []), ("on", ["data.eval_train_split=true"])):
        fit(compose_run(["logger=csv", *QUICK, *extra], base / name, cache_dir))
    return base


def test_training_split_is_logged_at_every_evaluation(runs):
    rows = [row for row in logged(runs / "on") if row.get("train_split/acc")]
    assert [int(float(row["step"])) for row in rows] == [20, 40]
    assert all(0 < float(row["train_split/acc"]) <= 1 and float(row["train_split/loss"]) > 0 for row in rows)
    assert all(row["test/acc"] for row in rows)  # logged with the evaluation it belongs to
    assert not any(key.endswith("dataloader_idx_0") or key.endswith("dataloader_idx_1") for key in rows[0])


def test_training_split_changes_nothing_else_and_is_off_by_default(runs):
    off, on = read_results(runs / "off"), read_results(runs / "on")
    assert on["history"] == off["history"] and on["final_test_acc"] == off["final_test_acc"]
    assert "train_split/acc" not in logged(runs / "off")[0]
    model = Classifier.load_from_checkpoint(runs / "on" / "checkpoints" / "best.ckpt")  # still loads alone
    assert model.hparams.eval_split == "test"
