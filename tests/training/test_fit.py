"""One training run end to end: real configs, real Trainer, results.json, checkpoints, resume."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from mnist1d.config.compose import config_options
from mnist1d.training.eval_norm import net_config
from mnist1d.training.fit import fit
from mnist1d.trusted import UntrustedFileError
from tests.helpers import ON_CPU, read_results

QUICK = ["trainer.max_steps=4", "eval_every=2"]


@pytest.mark.parametrize("model", config_options("model"))
def test_every_model_trains_and_reports(model, make_cfg, tmp_path):
    fit(make_cfg(f"model={model}", *QUICK))
    results = read_results(tmp_path / "run")
    assert results["status"] == "ok" and results["error"] is None
    assert results["model"] == model and results["steps"] == 4 and results["max_steps"] == 4
    assert [record["step"] for record in results["history"]] == [2, 4]
    assert 0 <= results["final_acc"] <= 1 and results["best_acc"] >= results["final_acc"]
    assert results["final_acc"] == results["history"][-1]["test/acc"]
    assert results["parameters"] > 0 and results["steps_per_s"] > 0 and results["wall_time_s"] > 0
    assert results["accelerator"] == ("cuda:0" if torch.cuda.is_available() else "cpu")  # accelerator=auto
    assert results["eval_split"] == "test"
    assert results["versions"]["torch"] == torch.__version__
    assert results["config"]["model"]["_target_"].startswith("mnist1d.models.")
    assert len(results["per_class_acc"]) == 10
    assert sum(map(sum, results["confusion_matrix"])) == 1000


def test_cnn_reaches_80_percent_within_1000_steps(make_cfg, tmp_path):
    final_acc = fit(make_cfg("model=cnn", "trainer.max_steps=1000"))
    results = read_results(tmp_path / "run")
    assert final_acc == results["final_acc"] > 0.80
    assert [r["step"] for r in results["history"]] == [250, 500, 750, 1000]
    assert results["final_test_acc"] == pytest.approx(final_acc)


def test_final_step_is_evaluated_when_not_a_multiple_of_eval_every(make_cfg, tmp_path):
    fit(make_cfg("model=logistic", "trainer.max_steps=7", "eval_every=5"))
    assert [r["step"] for r in read_results(tmp_path / "run")["history"]] == [5, 7]


def test_same_seed_same_metrics_other_seed_differs(make_cfg, tmp_path):
    for run, seed in [("a", 0), ("b", 0), ("c", 1)]:
        fit(make_cfg("model=mlp", "trainer.max_steps=60", "eval_every=20", f"seed={seed}", ON_CPU, run=run))
    a, b, c = (read_results(tmp_path / run)["history"] for run in "abc")
    assert a == b
    assert a != c


def test_validation_fraction_is_evaluated_and_test_reported_after(make_cfg, tmp_path):
    fit(make_cfg("model=logistic", *QUICK, "data.val_fraction=0.1"))
    results = read_results(tmp_path / "run")
    assert results["eval_split"] == "val"
    assert "val/acc" in results["history"][-1] and "test/acc" not in results["history"][-1]
    assert 0 <= results["final_test_acc"] <= 1
    assert (tmp_path / "run" / "checkpoints" / "best.ckpt").exists()


def test_resume_from_mid_epoch_checkpoint_matches_uninterrupted_run(make_cfg, tmp_path):
    common = ["model=resnet", "eval_every=10", "seed=3", ON_CPU]
    fit(make_cfg(*common, "trainer.max_steps=70", run="full"))
    fit(make_cfg(*common, "trainer.max_steps=30", run="part"))
    last = tmp_path / "part" / "checkpoints" / "last.ckpt"
    assert last.exists()
    fit(make_cfg(*common, "trainer.max_steps=70", f"ckpt_path={last}", run="part"))
    full, resumed = read_results(tmp_path / "full"), read_results(tmp_path / "part")
    assert resumed["steps"] == 70
    assert resumed["history"] == full["history"]
    assert resumed["final_test_acc"] == full["final_test_acc"]


def test_chunk_size_changes_speed_not_results(make_cfg, tmp_path):
    """Optimizer steps, LR schedule, dropout draws, evaluations and logged steps do not depend on chunks."""
    common = ["model=tcn", "model.channels=[8,8]", "scheduler=cosine", "trainer.max_steps=60"]
    common += ["eval_every=20", "trainer.log_every_n_steps=10", ON_CPU]
    for chunk in (1, 10):
        fit(make_cfg(*common, f"chunk_steps={chunk}", run=f"chunk{chunk}"))
    single, chunked = (read_results(tmp_path / f"chunk{chunk}") for chunk in (1, 10))
    assert [r["step"] for r in chunked["history"]] == [20, 40, 60]
    assert chunked["history"] == single["history"]
    assert chunked["final_test_acc"] == single["final_test_acc"]
    assert chunked["confusion_matrix"] == single["confusion_matrix"]
    logs = [tmp_path / f"chunk{chunk}" / "csv" / "metrics.csv" for chunk in (1, 10)]
    train_losses = [logged(log, "train/loss") for log in logs]
    assert [step for step, _ in train_losses[1]] == list(range(10, 61, 10))
    assert train_losses[1] == train_losses[0]
    assert [step for step, _ in logged(logs[1], "test/acc")] == [20, 40, 60]
    assert [step for step, _ in logged(logs[1], "final/test_acc")] == [60]


def logged(metrics_csv: Path, key: str) -> list[tuple[int, str]]:
    """(step, value) of every row of a CSV log that has a value for `key`."""
    with metrics_csv.open() as file:
        return [(int(row["step"]), row[key]) for row in csv.DictReader(file) if row[key]]


@pytest.mark.slow
def test_compiled_net_trains_and_its_checkpoint_loads_into_a_plain_net(make_cfg, tmp_path):
    fit(make_cfg("model=mlp", *QUICK, "compile=true"))
    assert read_results(tmp_path / "run")["status"] == "ok"
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    plain = instantiate(net_config(make_cfg("model=mlp").model), seq_length=40, num_classes=10)
    plain.load_state_dict({key.removeprefix("net."): v for key, v in state.items() if key.startswith("net.")})


class Exploit:
    """Unpickling this creates a file: what a malicious checkpoint could do instead."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (self.marker, "w")


def test_resume_refuses_a_checkpoint_that_would_run_code(make_cfg, tmp_path):
    marker = tmp_path / "code-ran"
    checkpoint = tmp_path / "malicious.ckpt"
    torch.save({"state_dict": {}, "payload": Exploit(str(marker))}, checkpoint)
    with pytest.raises(UntrustedFileError, match=f"{checkpoint}: it holds more than data"):
        fit(make_cfg("model=logistic", "trainer.max_steps=2", f"ckpt_path={checkpoint}"))
    assert not marker.exists()
    assert not (tmp_path / "run").exists()  # refused before anything was written
