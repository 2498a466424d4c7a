"""W&B: one offline run per training run, and trouble with W&B costs no local results."""

from __future__ import annotations

import logging
import socket
import time

import pytest
import wandb

from mnist1d.training.fit import train
from tests.helpers import read_results

# TCN has dropout, so an exact resume also needs the RNG state that checkpoints carry.
QUICK = ["model=logistic", "trainer.max_steps=4", "eval_every=2"]


def test_wandb_offline_run_is_written_per_run(make_cfg, tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    train(make_cfg("logger=wandb", "model=logistic", *QUICK, run="w1"))
    train(make_cfg("logger=wandb", "model=logistic", *QUICK, "seed=1", run="w2"))
    wandb.teardown()  # stops this process's W&B service, which flushes the offline logs to disk
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
        train(make_cfg("logger=wandb", "logger.wandb.mode=online", "logger.wandb.init_timeout=3", *QUICK))
    assert time.monotonic() - started < 90  # bounded: no prompt, no endless retry
    warnings = [r.getMessage() for r in caplog.records if r.name == "mnist1d.training.loggers"]
    assert len(warnings) == 1 and "logging offline" in warnings[0]
    results = read_results(tmp_path / "run")
    assert results["status"] == "ok" and results["steps"] == results["max_steps"]
    assert (tmp_path / "run" / "csv" / "metrics.csv").exists()
    assert len(list((tmp_path / "run" / "wandb").glob("offline-run-*"))) == 1  # syncable later
