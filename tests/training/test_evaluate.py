"""A trained model is usable: one call loads it, `trainer.predict` works, eval.py scores it on any data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from mnist1d.errors import ConfigError
from mnist1d.training.classifier import Classifier
from mnist1d.training.evaluate import evaluate
from mnist1d.training.fit import fit
from mnist1d.trusted import UntrustedFileError
from tests.helpers import ON_CPU, ROOT, build_run, compose_eval, compose_run, read_results
from tests.test_trusted import touches


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, cache_dir) -> tuple:
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    cfg = compose_run(
        ["model=cnn", "trainer.max_steps=60", "eval_every=30", "logger=csv", ON_CPU], run_dir, cache_dir
    )
    fit(cfg)
    return cfg, run_dir


def test_a_checkpoint_loads_with_one_call_and_predicts_what_the_test_scored(trained):
    cfg, run_dir = trained
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    model = Classifier.load_from_checkpoint(ckpt, weights_only=True)  # nothing else to pass
    assert type(model.net).__name__ == "CNN"
    saved = torch.load(ckpt, weights_only=True)["state_dict"]
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, saved[name], rtol=0, atol=0)
    datamodule = build_run(cfg).datamodule
    probabilities = torch.cat(pl.Trainer(logger=False, enable_progress_bar=False).predict(model, datamodule))
    assert probabilities.shape == (1000, 10)
    torch.testing.assert_close(probabilities.sum(1), torch.ones(1000))
    datamodule.setup()
    accuracy = (probabilities.argmax(1) == datamodule.splits["test"][1]).float().mean().item()
    assert accuracy == pytest.approx(read_results(run_dir)["final_test_acc"])


def test_eval_scores_a_checkpoint_with_the_metrics_of_training(trained, tmp_path, cache_dir):
    _, run_dir = trained
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    same = evaluate(compose_eval([f"ckpt_path={ckpt}"], tmp_path / "same", cache_dir))
    trained_results = read_results(run_dir)
    results = read_results(tmp_path / "same")
    assert same == results["final_test_acc"] == pytest.approx(trained_results["final_test_acc"])
    assert results["confusion_matrix"] == trained_results["confusion_matrix"]
    assert results["model"] == "cnn" and results["steps"] == 60 and results["same_data_as_training"] is True
    assert (tmp_path / "same" / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    evaluate(compose_eval([f"ckpt_path={ckpt}", "data.seed=7"], tmp_path / "other", cache_dir))
    other = read_results(tmp_path / "other")
    assert (
        other["same_data_as_training"] is False and other["confusion_matrix"] != results["confusion_matrix"]
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["ckpt_path=/no/such.ckpt"], "ckpt_path='/no/such.ckpt' is invalid: must be a readable checkpoint"),
        (["data.final_seq_length=72"], "data.final_seq_length=72 is invalid for this checkpoint"),
        (["model.eval_norm=train"], "model.eval_norm='train' is invalid: must be null or one of"),
    ],
)
def test_eval_refuses_bad_input_before_writing(overrides, message, trained, tmp_path, cache_dir):
    _, run_dir = trained
    ckpt = [f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}"]
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        evaluate(compose_eval([*ckpt, *overrides], tmp_path / "bad", cache_dir))
    assert not (tmp_path / "bad" / "results.json").exists()


def crafted(trained_checkpoint: Path, path: Path, marker: Path) -> Path:
    """A copy of a real checkpoint whose saved net config creates `marker` when Hydra builds it."""
    saved = torch.load(trained_checkpoint, weights_only=True)
    saved["hyper_parameters"]["net"]["channels"] = touches(marker)
    torch.save(saved, path)
    return path


def test_eval_refuses_a_checkpoint_that_names_code_and_builds_nothing(trained, tmp_path, cache_dir):
    _, run_dir = trained
    marker = tmp_path / "pwned"
    ckpt = crafted(run_dir / "checkpoints" / "last.ckpt", tmp_path / "crafted.ckpt", marker)
    environment = {key: value for key, value in os.environ.items() if key != "HYDRA_FULL_ERROR"}
    command = [sys.executable, "eval.py", f"ckpt_path={ckpt}", f"hydra.run.dir={tmp_path / 'eval'}"]
    done = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith(f"{ckpt}: net.channels._target_ is not allowed: it would name code to run")
    assert not marker.exists() and not (tmp_path / "eval" / "results.json").exists()


def test_eval_takes_a_net_outside_the_package_only_when_the_config_vouches_for_it(tmp_path, cache_dir):
    net = {"_target_": "tests.test_trusted.Tattletale"}
    module = Classifier(net=net, optimizer={"_target_": "torch.optim.Adam", "_partial_": True})
    ckpt = tmp_path / "own.ckpt"
    saved = {"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams), "global_step": 7}
    torch.save(saved | {"pytorch-lightning_version": pl.__version__}, ckpt)
    with pytest.raises(UntrustedFileError, match="Tattletale' is not allowed"):
        evaluate(compose_eval([f"ckpt_path={ckpt}"], tmp_path / "refused", cache_dir))
    vouched = [f"ckpt_path={ckpt}", "trusted_nets=[tests.test_trusted.Tattletale]"]
    evaluate(compose_eval(vouched, tmp_path / "vouched", cache_dir))
    assert read_results(tmp_path / "vouched")["steps"] == 7
