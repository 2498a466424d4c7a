"""Loggers: one W&B run per training run taking any W&B argument, trouble with W&B costs no local results,
TensorBoard."""

from __future__ import annotations

import csv
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pytorch_lightning.loggers import CSVLogger

from mnist1d.errors import ConfigError
from mnist1d.training.fit import fit
from mnist1d.training.loggers import RESUMED_FROM, continue_csv
from tests.helpers import RESUMABLE, needs, read_results, signal_at

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


@needs("tensorboard")
def test_tensorboard_logger_writes_event_files(make_cfg, tmp_path):
    fit(make_cfg("logger=tensorboard", *QUICK))
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert read_results(tmp_path / "run")["status"] == "ok"


def test_wandb_credentials_are_those_of_the_server_wandb_resolves(tmp_path):
    """A self-hosted server, named by WANDB_BASE_URL or saved by `wandb login --host` (W&B's settings file),
    goes online with its netrc entry; W&B's own server has no key here, so a run logs offline. Each case in a
    fresh process: W&B keeps a process's credentials once it found them."""
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine wandb.example.internal\n  login user\n  password {'k' * 40}\n")
    netrc.chmod(0o600)
    self_hosted = "https://wandb.example.internal"
    cases = {
        "WANDB_BASE_URL": ({"WANDB_BASE_URL": self_hosted}, True),
        "wandb login --host": ({}, True),
        "W&B's server": ({}, False),
        "WANDB_MODE=offline": ({"WANDB_BASE_URL": self_hosted, "WANDB_MODE": "offline"}, False),
    }
    (tmp_path / "wandb login --host").mkdir()
    (tmp_path / "wandb login --host" / "settings").write_text(f"[default]\nbase_url = {self_hosted}\n")
    code = "from mnist1d.training.loggers import has_wandb_credentials as found; print(found())"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env |= {"HOME": str(tmp_path / "home"), "NETRC": str(netrc)}

    def start(name: str) -> subprocess.Popen:
        own = env | cases[name][0] | {"WANDB_CONFIG_DIR": str(tmp_path / name)}
        return subprocess.Popen(
            [sys.executable, "-c", code], env=own, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )  # fmt: skip

    def answer(name: str, process: subprocess.Popen, retry: bool = True) -> str:
        """The case's answer. W&B's service process (wandb-core) at times never starts: it waits forever
        without writing its port file, and so does the process that asked. Such a case is asked once more,
        in a fresh process; the first is killed with its service."""
        try:
            return process.communicate(timeout=90)[0].split()[-1]
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            if not retry:
                raise
            return answer(name, start(name), retry=False)

    running = {name: start(name) for name in cases}
    found = {name: answer(name, process) for name, process in running.items()}
    assert found == {name: str(expected) for name, (_, expected) in cases.items()}


def csv_rows(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "csv" / "metrics.csv").open() as file:
        return list(csv.DictReader(file))


def scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of the run's TensorBoard events as TensorBoard shows it: (step, value) per tag."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard")).Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


@needs("tensorboard")
def test_a_resumed_run_holds_its_whole_history_once(make_cfg, tmp_path):
    """CSV and TensorBoard after a resume: the rows up to the checkpoint's step are kept, the rows logged
    after it before the run stopped are replaced by the resumed run's, none is there twice."""
    logged = [*RESUMABLE, "logger=tensorboard", "trainer.log_every_n_steps=5"]
    fit(make_cfg(*logged, run="whole"))
    with pytest.raises(SystemExit):
        fit(make_cfg(*logged, *signal_at(15, signal.SIGTERM), run="resumed"))
    assert csv_rows(tmp_path / "resumed")[-1]["step"] == "15"
    best = tmp_path / "resumed" / "checkpoints" / "best.ckpt"  # step 10: steps 11-15 were logged after it
    fit(make_cfg(*logged, f"ckpt_path={best}", run="resumed"))
    whole, resumed = csv_rows(tmp_path / "whole"), csv_rows(tmp_path / "resumed")
    assert [row["step"] for row in resumed] == [row["step"] for row in whole]
    assert resumed == whole
    assert scalars(tmp_path / "resumed") == scalars(tmp_path / "whole")
    assert sorted(p.name for p in (tmp_path / "resumed" / "csv").iterdir()) == ["hparams.yaml", "metrics.csv"]


def test_a_resumed_run_continues_its_wandb_run(make_cfg, tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    with pytest.raises(SystemExit):
        fit(make_cfg(*RESUMABLE, "logger=wandb", *signal_at(15, signal.SIGTERM)))
    fit(make_cfg(*RESUMABLE, "logger=wandb", f"ckpt_path={tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}"))
    pytest.importorskip("wandb").teardown()
    starts = sorted((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert (
        len(starts) == 2 and len({start.name.split("-")[3] for start in starts}) == 1
    )  # one run id (a start in the same second adds "-1")


EARLIER = "epoch,step,test/acc,train/loss\n0,5,,0.9\n0,10,0.5,0.7\n1,15,,0.6\n1,20,0.6,0.5\n1,2"


def test_a_resumed_csv_log_survives_a_kill_at_any_point(tmp_path):
    """The last row cut short by a kill is dropped, and a resume killed before it wrote the history again
    finds the earlier log where it left it."""
    log_dir = tmp_path / "csv"
    log_dir.mkdir()
    (log_dir / "metrics.csv").write_text(EARLIER)
    continue_csv(CSVLogger(tmp_path, name="csv", version=""), resume_step=15)
    assert [row["step"] for row in csv_rows(tmp_path)] == ["5", "10", "15"]
    assert csv_rows(tmp_path)[1] == {"epoch": "0", "step": "10", "test/acc": "0.5", "train/loss": "0.7"}
    (log_dir / RESUMED_FROM).write_text(EARLIER)  # a resume killed after renaming the log aside
    (log_dir / "metrics.csv").write_text("epoch,step\n0,5\n")  # and while it wrote the history again
    continue_csv(CSVLogger(tmp_path, name="csv", version=""), resume_step=10)
    assert [row["step"] for row in csv_rows(tmp_path)] == ["5", "10"]
    assert sorted(path.name for path in log_dir.iterdir()) == ["metrics.csv"]
