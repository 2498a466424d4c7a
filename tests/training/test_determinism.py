"""`trainer.deterministic=true`: what a GPU needs for bit-identical reruns is in place before any CUDA work
(the reruns themselves are compared on a GPU, in tests/training/test_gpu.py)."""

from __future__ import annotations

import logging
import os

import pytorch_lightning as pl
import torch

import mnist1d.training.fit
from mnist1d.training.fit import fit, prepare_determinism
from tests.helpers import ON_CPU, read_results

SEEN: dict[str, object] = {}


class Probe(pl.Callback):
    """Records what the training run sees (added as `+callbacks.probe._target_=...`)."""

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        SEEN["deterministic"] = torch.are_deterministic_algorithms_enabled()
        SEEN["cublas"] = os.environ.get("CUBLAS_WORKSPACE_CONFIG")


def test_deterministic_runs_set_cublas_workspace_before_building_anything(make_cfg, tmp_path, monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    real_build = mnist1d.training.fit.build
    at_build = []
    monkeypatch.setattr(
        mnist1d.training.fit,
        "build",
        lambda *args: at_build.append(os.environ.get("CUBLAS_WORKSPACE_CONFIG")) or real_build(*args),
    )
    run = ["model=cnn", "trainer.max_steps=4", "eval_every=2", "trainer.deterministic=true", ON_CPU]
    try:
        fit(make_cfg(*run, f"+callbacks.probe._target_={__name__}.Probe"))
    finally:
        torch.use_deterministic_algorithms(False)
    assert at_build == [":4096:8"] and SEEN == {"deterministic": True, "cublas": ":4096:8"}
    assert read_results(tmp_path / "run")["status"] == "ok"


def test_default_runs_leave_the_environment_and_a_late_setting_is_reported(make_cfg, monkeypatch, caplog):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    prepare_determinism(make_cfg().trainer)
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)  # an earlier job used CUDA
    caplog.set_level(logging.WARNING, logger="mnist1d.training.fit")
    prepare_determinism(make_cfg("trainer.deterministic=true").trainer)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert "CUDA already ran in this process, so cuBLAS may ignore" in caplog.text
