"""A trained model is usable: one call loads it, `trainer.predict` works, eval.py scores it on any data."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig

from mnist1d.config.compose import TRAIN_CONF, compose_config
from mnist1d.errors import ConfigError
from mnist1d.training.classifier import Classifier
from mnist1d.training.evaluate import evaluate
from mnist1d.training.fit import fit
from tests.helpers import ON_CPU, build_run, compose_run, read_results


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, cache_dir) -> tuple:
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    cfg = compose_run(
        ["model=cnn", "trainer.max_steps=60", "eval_every=30", "logger=csv", ON_CPU], run_dir, cache_dir
    )
    fit(cfg)
    return cfg, run_dir


def compose_eval(overrides: list[str], output_dir, cache_dir) -> DictConfig:
    """The config `python eval.py <overrides>` would run, writing into `output_dir`."""
    return compose_config(
        TRAIN_CONF,
        "eval",
        [f"paths.output_dir={output_dir}", f"paths.cache_dir={cache_dir}", ON_CPU, *overrides],
    )


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
    ],
)
def test_eval_refuses_bad_input_before_writing(overrides, message, trained, tmp_path, cache_dir):
    _, run_dir = trained
    ckpt = [f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}"]
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        evaluate(compose_eval([*ckpt, *overrides], tmp_path / "bad", cache_dir))
    assert not (tmp_path / "bad" / "results.json").exists()
