"""A file read back names no code but what the allowlist allows: crafted checkpoints build nothing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from mnist1d import trusted
from mnist1d.config.compose import compose_train, config_options
from mnist1d.training.classifier import Classifier
from mnist1d.trusted import UntrustedFileError, check_hyperparameters, register_net
from tests.helpers import build_run

LOGISTIC = {"_target_": "mnist1d.models.logistic.LogisticRegression"}
ADAM = {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.01}


def touches(marker: Path) -> dict[str, Any]:
    """A config that creates `marker` when Hydra instantiates it (Hydra's blocklist lets it through)."""
    return {
        "_target_": "pathlib.Path.touch",
        "_args_": [{"_target_": "pathlib.Path", "_args_": [str(marker)]}],
    }


class Tattletale(nn.Module):
    """A net outside mnist1d.models that records every construction."""

    built = 0

    def __init__(self, seq_length: int = 40, num_classes: int = 10) -> None:
        super().__init__()
        Tattletale.built += 1
        self.linear = nn.Linear(seq_length, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


def checkpoint(path: Path, **hyperparameters: Any) -> Path:
    """A checkpoint of a logistic regression whose saved hyperparameters are replaced by `hyperparameters`."""
    module = Classifier(net=LOGISTIC, optimizer=ADAM)
    saved = {"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams) | hyperparameters}
    torch.save(saved | {"pytorch-lightning_version": "2.6.0", "global_step": 0}, path)
    return path


def test_a_plain_checkpoint_loads(tmp_path):
    model = Classifier.load_from_checkpoint(checkpoint(tmp_path / "plain.ckpt"), weights_only=True)
    assert type(model.net).__name__ == "LogisticRegression"


@pytest.mark.parametrize(
    ("where", "key"),
    [
        ("net", "net.hidden_size._target_"),
        ("optimizer", "optimizer.lr._target_"),
        ("scheduler", "scheduler._target_"),
        ("other", "log_every._target_"),
    ],
)
def test_a_checkpoint_with_code_in_its_hyperparameters_is_refused_and_builds_nothing(tmp_path, where, key):
    marker = tmp_path / "pwned"
    crafted = {
        "net": {"net": LOGISTIC | {"hidden_size": touches(marker)}},
        "optimizer": {"optimizer": ADAM | {"lr": touches(marker)}},
        "scheduler": {"scheduler": touches(marker) | {"_partial_": True}},
        "other": {"log_every": touches(marker)},
    }[where]
    path = checkpoint(tmp_path / "crafted.ckpt", **crafted)
    with pytest.raises(UntrustedFileError, match=re.escape(f"{path}: {key}") + "[ =]"):
        Classifier.load_from_checkpoint(path, weights_only=True)
    assert not marker.exists()


def test_a_net_outside_the_allowlist_is_refused_unless_registered(tmp_path, monkeypatch):
    monkeypatch.setattr(trusted, "_registered_nets", set())  # the registration below ends with this test
    net = {"_target_": f"{__name__}.Tattletale"}
    path = checkpoint(tmp_path / "own_net.ckpt", net=net)
    built = Tattletale.built
    with pytest.raises(
        UntrustedFileError, match=r"net\._target_='tests\.test_trusted\.Tattletale' is not allowed"
    ):
        Classifier.load_from_checkpoint(path, weights_only=True)
    assert Tattletale.built == built
    register_net(Tattletale)  # a call in your own code, never in the file
    assert isinstance(Classifier.load_from_checkpoint(path, weights_only=True).net, Tattletale)


@pytest.mark.parametrize(
    "target",
    [
        "pathlib.Path.touch",  # not a net at all
        "mnist1d.models.cnn.nn.Linear",  # reached through a module of the package, defined elsewhere
        "mnist1d.models.cnn.to_layout",  # a function of the package
        "mnist1d.models.no_such_module.Net",
        "torch.nn.Linear",
    ],
)
def test_only_classes_of_the_models_package_are_nets(target):
    with pytest.raises(UntrustedFileError, match=r"must be a class of mnist1d\.models"):
        check_hyperparameters({"net": {"_target_": target}}, "file.ckpt")


@pytest.mark.parametrize(
    ("hyperparameters", "key"),
    [
        (
            {"optimizer": {"_target_": "torch.optim.lr_scheduler.StepLR", "_partial_": True}},
            "optimizer._target_",
        ),
        ({"optimizer": {"_target_": "torch.optim.os.system"}}, "optimizer._target_"),
        ({"scheduler": {"_target_": "torch.optim.Adam", "_partial_": True}}, "scheduler._target_"),
        ({"net": LOGISTIC | {"_partial_": True}}, "net._partial_"),
        ({"net": LOGISTIC | {"_args_": [1]}}, "net._args_"),
        ({"net": LOGISTIC | {"layers": [{"_convert_": "all"}]}}, r"net.layers\[0\]._convert_"),
        ({"net": LOGISTIC | {"width": "${oc.env:HOME}"}}, "net.width"),
        ({"eval_split": "${oc.create:'{a: 1}'}"}, "eval_split"),
        ({"net": "mnist1d.models.logistic.LogisticRegression"}, "net"),
    ],
)
def test_what_a_checkpoint_may_not_hold(hyperparameters, key):
    with pytest.raises(UntrustedFileError, match=rf"^file\.ckpt: {key}[ =]"):
        check_hyperparameters(hyperparameters, "file.ckpt")


def test_what_a_checkpoint_may_hold():
    check_hyperparameters(
        {
            "net": {"_target_": "mnist1d.models.tcn.TCN", "channels": [8, 8], "causal": False},
            "optimizer": {"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1, "momentum": 0.9},
            "scheduler": {
                "_target_": "torch.optim.lr_scheduler.CosineAnnealingLR",
                "_partial_": True,
                "T_max": 9,
            },
            "eval_split": "test",
            "gradient_clip_val": None,
        },
        "file.ckpt",
    )


@pytest.mark.parametrize(
    "net",
    [
        *(
            OmegaConf.to_container(compose_train([f"model={name}"]).model, resolve=True)
            for name in config_options("model")
        ),
        # the lottery tickets' masked MLP with its .npz paths, the self-supervised app's contrastive net
        {"_target_": "mnist1d.models.sparse_mlp.SparseMLP", "init": "init.npz", "mask": "mask.npz"},
        {"_target_": "mnist1d.models.contrastive_cnn.ContrastiveCNN", "channels": 25, "projector": [125, 16]},
    ],
    ids=lambda net: net["_target_"].rsplit(".", 1)[-1],
)
def test_every_net_of_the_project_may_be_in_a_checkpoint(net):
    check_hyperparameters({"net": net}, "file.ckpt")


def test_the_config_you_pass_is_trusted_with_its_own_net():
    net = {"net": {"_target_": f"{__name__}.Unregistered"}}
    with pytest.raises(UntrustedFileError):
        check_hyperparameters(net, "file.ckpt")
    check_hyperparameters(net, "file.ckpt", trusted=[f"{__name__}.Unregistered"])


@pytest.mark.parametrize(("preset", "model"), [("beebe", m) for m in ("tcn", "tcn_trained", "tcn_dilated")])
def test_checkpoints_of_the_papers_presets_load(preset, model, make_cfg, tmp_path):
    """Their nets' options (the TCN's projection, its dilation) and `eval_norm` are data the allowlist lets
    through: such a checkpoint loads, with the hyperparameters it was saved with."""
    module = build_run(make_cfg(f"experiment={preset}", f"model={model}")).module
    saved = {"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams), "global_step": 0}
    torch.save(saved | {"pytorch-lightning_version": "2.6.0"}, tmp_path / "run.ckpt")
    loaded = Classifier.load_from_checkpoint(tmp_path / "run.ckpt", weights_only=True)
    assert loaded.hparams.net == module.hparams.net and loaded.hparams.eval_norm == "running"
    assert all(torch.equal(v, module.state_dict()[k]) for k, v in loaded.state_dict().items())
