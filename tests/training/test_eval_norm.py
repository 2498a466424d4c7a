"""model.eval_norm: `batch` scores as a net left in training mode, `running` as PyTorch's eval mode."""

from __future__ import annotations

import copy

import pytest
import torch

from mnist1d.training.classifier import Classifier
from mnist1d.training.eval_norm import norm_statistics, split_net_config
from mnist1d.training.evaluate import evaluate
from mnist1d.training.fit import fit
from tests.helpers import ON_CPU, build_model, build_run, compose_eval, read_results

RESNET = ["model=resnet", "model.channels=8", "trainer.max_steps=20", "eval_every=10", ON_CPU]
RESNET += ["num_threads=1"]


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return (logits.argmax(-1) == y).float().mean().item()


@pytest.mark.parametrize("eval_norm", ["batch", "running"])
def test_run_scores_as_the_reference_loop_would(make_cfg, tmp_path, eval_norm):
    """`batch`: every evaluation and the final test equal the trained net left in training mode scoring the
    whole test split in one call (Beebe et al.'s train_model); `running`: the net in eval mode."""
    cfg = make_cfg(*RESNET, f"model.eval_norm={eval_norm}")
    fit(cfg)
    results = read_results(tmp_path / "run")
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    module = Classifier.load_from_checkpoint(last, weights_only=True)
    assert module.hparams.eval_norm == eval_norm
    datamodule = build_run(cfg).datamodule
    datamodule.setup()
    x, y = datamodule.splits["test"]
    reference = copy.deepcopy(module.net).train(eval_norm == "batch")
    with torch.no_grad():
        expected = accuracy(reference(x), y)
    assert results["history"][-1]["test/acc"] == pytest.approx(expected, abs=1e-6)
    assert results["final_test_acc"] == pytest.approx(expected, abs=1e-6)
    assert results["config"]["model"]["eval_norm"] == eval_norm


def test_eval_py_scores_a_checkpoint_with_either_statistics(make_cfg, tmp_path, cache_dir):
    """eval.py keeps the run's `model.eval_norm` unless told otherwise."""
    fit(make_cfg(*RESNET))
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    module = Classifier.load_from_checkpoint(ckpt, weights_only=True)
    datamodule = build_run(make_cfg(*RESNET)).datamodule
    datamodule.setup()
    x, y = datamodule.splits["test"]
    for eval_norm, training_mode in ((None, False), ("batch", True), ("running", False)):
        override = [] if eval_norm is None else [f"model.eval_norm={eval_norm}"]
        out = tmp_path / f"eval-{eval_norm}"
        evaluate(compose_eval([f"ckpt_path={ckpt}", *override], out, cache_dir))
        results = read_results(out)
        with torch.no_grad():
            expected = accuracy(copy.deepcopy(module.net).train(training_mode)(x), y)
        assert results["final_test_acc"] == pytest.approx(expected, abs=1e-6)
        assert results["eval_norm"] == (eval_norm or "running")


def test_batch_statistics_leave_running_averages_and_mode_alone():
    net = build_model("resnet").train()
    with torch.no_grad():
        net(torch.randn(64, 40) * 3 + 1)  # running averages away from their initial values
    net.eval()
    before = copy.deepcopy(net.state_dict())
    x = torch.randn(50, 40)
    with torch.no_grad(), norm_statistics(net, "batch"):
        scored = net(x)
    after = net.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)
    assert not any(m.training for m in net.modules())
    with torch.no_grad():
        torch.testing.assert_close(scored, copy.deepcopy(net).train()(x))
        assert not torch.allclose(scored, net(x))  # running averages: another answer


def test_eval_norm_is_no_argument_of_the_net_and_is_checked():
    net, eval_norm = split_net_config({"_target_": "mnist1d.models.resnet.ResNet", "eval_norm": "batch"})
    assert net == {"_target_": "mnist1d.models.resnet.ResNet"} and eval_norm == "batch"
    with pytest.raises(ValueError, match=r"model.eval_norm='train' is invalid: must be one of \['running'"):
        split_net_config({"eval_norm": "train"})
