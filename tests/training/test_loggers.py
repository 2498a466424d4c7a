"""Loggers: one W&B run per training run taking any W&B argument, trouble with W&B costs no local results,
TensorBoard."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from mnist1d.errors import ConfigError
from mnist1d.training.fit import fit
from tests.helpers import read_results

QUICK = ["model=logistic", "trainer.max_steps=4", "eval_every=2"]


def test_wandb_offline_run_is_written_per_run(make_cfg, tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    fit(make_cfg("logger=wandb", "model=logistic", *QUICK, run="w1"))
    fit(make_cfg("logger=wandb", "model=logistic", *QUICK, "seed=1", run="w2"))
    pytest.importorskip(
        "wandb"
    ).teardown()  # stops this process's W&B service, which flushes the offline logs to disk
    runs = [list((tmp_path / run / "wandb").glob("offline-run-*")) for run in ("w1", "w2")]
    assert [len(r) for r in runs] == [1, 1]
    assert runs[0][0].name != runs[1][0].name
    for (run_dir,) in runs:
        (records,) = run_dir.glob("run-*.wandb")
        log = records.read_bytes()  # the offline transaction log that `wandb sync` uploads
        assert log.count(b"test/acc_best") >= 2  # both evaluations' history rows
        assert b"model_name" in log  # the resolved config


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("api_key", [None, "0" * 40], ids=["no-credentials", "unreachable-server"])
def test_wandb_online_without_network_or_credentials_keeps_local_results(
    api_key, make_cfg, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NETRC", str(tmp_path / "home" / ".netrc"))
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    if api_key:
        monkeypatch.setenv("WANDB_API_KEY", api_key)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="mnist1d.training.loggers"):
        fit(make_cfg("logger=wandb", "logger.wandb.mode=online", "logger.wandb.init_timeout=3", *QUICK))
    assert time.monotonic() - started < 90  # bounded: no prompt, no endless retry
    warnings = [r.getMessage() for r in caplog.records if r.name == "mnist1d.training.loggers"]
    assert len(warnings) == 1 and "logging offline" in warnings[0]
    results = read_results(tmp_path / "run")
    assert results["status"] == "ok" and results["steps"] == results["max_steps"]
    assert (tmp_path / "run" / "csv" / "metrics.csv").exists()
    assert len(list((tmp_path / "run" / "wandb").glob("offline-run-*"))) == 1  # syncable later


def test_wandb_takes_any_wandb_argument_and_logs_the_confusion_matrix(make_cfg, tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    extra = ["+logger.wandb.notes=passed-through-note", "+logger.wandb.job_type=training"]
    fit(make_cfg("logger=wandb", *QUICK, *extra, "+logger.wandb.log_model=true"))
    pytest.importorskip("wandb").teardown()
    (records,) = (tmp_path / "run" / "wandb").glob("offline-run-*/run-*.wandb")
    log = records.read_bytes()
    assert b"passed-through-note" in log and b"training" in log
    assert b"final/confusion_matrix" in log and b"final/test_acc_class_9" in log
    assert b"artifact" in log and b"model-" in log  # log_model: the checkpoints as a W&B model artifact
    assert (tmp_path / "run" / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"


def test_an_unknown_wandb_argument_is_refused_before_any_work(make_cfg, tmp_path):
    with pytest.raises(
        ConfigError, match=r"logger\.wandb\.colour is not an argument of WandbLogger or wandb\.init"
    ):
        fit(make_cfg("logger=wandb", *QUICK, "+logger.wandb.colour=blue"))
    assert not (tmp_path / "run").exists()


def test_tensorboard_logger_writes_event_files(make_cfg, tmp_path):
    fit(make_cfg("logger=tensorboard", *QUICK))
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert read_results(tmp_path / "run")["status"] == "ok"
