"""The Lightning internals this project relies on are where it expects them, or it says which moved."""

from __future__ import annotations

import os
import signal
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from mnist1d.training.engine import lightning_internals
from tests.helpers import build_run


def test_the_installed_lightning_has_every_internal(make_cfg):
    """Fails with LightningInternalsError, naming the internal, on a Lightning release that moved one."""
    trainer = build_run(make_cfg("model=logistic", "trainer.max_steps=2")).trainer
    lightning_internals.check(trainer)
    progress = trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress
    lightning_internals.optimizer_step_counter(trainer)()
    assert progress.total.ready == progress.total.completed == 1  # what global_step reads in manual mode
    assert not any(map(lightning_internals.saves_on_train_steps, trainer.checkpoint_callbacks))
    assert lightning_internals.saves_on_train_steps(ModelCheckpoint(every_n_train_steps=5)) is True


def test_a_moved_step_counter_is_named_with_the_lightning_version():
    trainer = SimpleNamespace(fit_loop=SimpleNamespace(epoch_loop=SimpleNamespace()), checkpoint_callbacks=[])
    with pytest.raises(lightning_internals.LightningInternalsError) as moved:
        lightning_internals.check(trainer)
    assert lightning_internals.STEP_PROGRESS in str(moved.value) and pl.__version__ in str(moved.value)


def test_a_moved_checkpoint_interval_is_named(make_cfg):
    trainer = build_run(make_cfg("model=logistic", "trainer.max_steps=2")).trainer
    del trainer.checkpoint_callbacks[0]._train_time_interval
    with pytest.raises(
        lightning_internals.LightningInternalsError, match=r"ModelCheckpoint\._train_time_interval"
    ):
        lightning_internals.check(trainer)


class SigtermHandlerAtTrainStart(pl.Callback):
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.handler = lightning_internals.sigterm_handler()


def test_fit_installs_a_sigterm_handler_before_on_train_start(make_cfg):
    run = build_run(make_cfg("model=logistic", "trainer.max_steps=2", "eval_every=2"))
    datamodule, module, trainer = run.datamodule, run.module, run.trainer
    probe = SigtermHandlerAtTrainStart()
    trainer.callbacks.append(probe)
    trainer.fit(module, datamodule=datamodule)
    assert callable(probe.handler)


def test_no_sigterm_handler_outside_fit_is_named(monkeypatch):
    monkeypatch.setattr(signal, "getsignal", lambda signum: signal.SIG_DFL)
    with pytest.raises(lightning_internals.LightningInternalsError, match="SIGTERM handler"):
        lightning_internals.sigterm_handler()


def test_a_run_without_a_cuda_device_drops_lightnings_nvml_check(make_cfg, monkeypatch):
    """Lightning's NVML check would load the NVML library at every optimizer step (torch's Adam asks whether
    CUDA is available), as torch caches the answer only once CUDA runs; without a device it is dropped."""
    if torch.cuda.device_count():
        pytest.skip("a CUDA device is present: the check stays")
    monkeypatch.setenv(lightning_internals.NVML_CUDA_CHECK, "1")  # as importing Lightning sets it
    build_run(make_cfg("model=logistic", "trainer.max_steps=2"))
    assert lightning_internals.NVML_CUDA_CHECK not in os.environ
