"""What train.py runs per job: a continued sweep job resumes an interrupted or killed run from its newest
readable checkpoint, and a full disk stops a run without losing what it saved."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import torch

from mnist1d.errors import DiskFullError
from mnist1d.records import TrainRecord
from mnist1d.training.fit import fit, write_results
from mnist1d.training.job import run_job
from mnist1d.trusted import UntrustedFileError
from tests.helpers import RESUMABLE, FullDisk, compose_run, read_results, signal_at
from tests.test_trusted import touches


def test_continued_sweep_job_resumes_an_interrupted_run_from_its_last_checkpoint(make_cfg, tmp_path):
    """What `python sweep.py resume=<dir>` (and a requeued SLURM job with skip_completed=true) does."""
    fit(make_cfg(*RESUMABLE, run="full"))
    with pytest.raises(SystemExit):
        fit(make_cfg(*RESUMABLE, *signal_at(15, signal.SIGTERM), run="part"))
    run_job(make_cfg(*RESUMABLE, "skip_completed=true", run="part"))
    full, resumed = read_results(tmp_path / "full"), read_results(tmp_path / "part")
    assert resumed["config"]["ckpt_path"] == str(tmp_path / "part" / "checkpoints" / "last.ckpt")
    assert resumed["status"] == "ok" and resumed["history"] == full["history"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> dict[str, Any]:
    """The results of the resumable run without any interruption."""
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    fit(compose_run(["logger=csv", *RESUMABLE], run_dir, cache_dir))
    return read_results(run_dir)


def interrupted_at_15(make_cfg) -> Path:
    """A run stopped at step 15 (SIGTERM): last.ckpt of step 15, best.ckpt of step 10; its directory."""
    with pytest.raises(SystemExit):
        fit(make_cfg(*RESUMABLE, *signal_at(15, signal.SIGTERM)))
    return Path(make_cfg().paths.output_dir)


def same_metrics(results: dict[str, Any], expected: dict[str, Any]) -> bool:
    keys = ("status", "steps", "history", "final_test_acc", "confusion_matrix")
    return {key: results[key] for key in keys} == {key: expected[key] for key in keys}


def test_killed_job_without_results_resumes_from_its_last_checkpoint(make_cfg, uninterrupted):
    """SIGKILL, the OOM killer, a lost node: no results.json (a started run removes it), a last.ckpt."""
    run_dir = interrupted_at_15(make_cfg)
    (run_dir / "results.json").unlink()
    (run_dir / "checkpoints" / ".last.ckpt-k1lled.tmp").write_bytes(b"half a checkpoint")
    run_job(make_cfg(*RESUMABLE, "skip_completed=true"))
    resumed = read_results(run_dir)
    assert resumed["config"]["ckpt_path"] == str(run_dir / "checkpoints" / "last.ckpt")
    assert same_metrics(resumed, uninterrupted)
    assert sorted(os.listdir(run_dir / "checkpoints")) == ["best.ckpt", "last.ckpt"]  # the partial is gone


def test_a_failed_job_reruns_from_scratch(make_cfg, uninterrupted):
    run_dir = interrupted_at_15(make_cfg)
    failed = read_results(run_dir) | {"status": "failed", "error": "RuntimeError: a bug"}
    (run_dir / "results.json").write_text(json.dumps(failed))
    run_job(make_cfg(*RESUMABLE, "skip_completed=true"))
    rerun = read_results(run_dir)
    assert rerun["config"]["ckpt_path"] is None and same_metrics(rerun, uninterrupted)


@pytest.mark.parametrize("unreadable", [["last.ckpt"], ["last.ckpt", "best.ckpt"]], ids=["last", "both"])
def test_unreadable_checkpoints_are_moved_aside_and_the_newest_readable_one_resumed(
    unreadable, make_cfg, uninterrupted, caplog
):
    run_dir = interrupted_at_15(make_cfg)
    checkpoints = run_dir / "checkpoints"
    for name in unreadable:  # torn (half of it) or empty
        data = (checkpoints / name).read_bytes()
        (checkpoints / name).write_bytes(data[: len(data) // 2] if name == "last.ckpt" else b"")
    (run_dir / "results.json").unlink()
    run_job(make_cfg(*RESUMABLE, "skip_completed=true"))
    resumed = read_results(run_dir)
    expected_start = None if "best.ckpt" in unreadable else str(checkpoints / "best.ckpt")  # step 10
    assert resumed["config"]["ckpt_path"] == expected_start
    assert same_metrics(resumed, uninterrupted)
    for name in unreadable:
        assert (checkpoints / f"{name}.unreadable").exists()
        assert f"{checkpoints / name} cannot be loaded: moved to {name}.unreadable" in caplog.text


@pytest.mark.parametrize(
    "full", [None, {"best.ckpt", "last.ckpt"}], ids=["everything fails", "checkpoints fail"]
)
def test_disk_full_during_training_stops_naming_the_file_and_resumes_once_space_is_back(
    full, make_cfg, uninterrupted, monkeypatch
):
    """The evaluation of step 10 is saved; then the disk is full: the saves of step 20 fail."""
    disk = FullDisk(full, room=2).install(monkeypatch)
    with pytest.raises(
        DiskFullError, match=r"no space left on device to write .*/checkpoints/(best|last)\.ckpt"
    ):
        run_job(make_cfg(*RESUMABLE))
    run_dir = Path(make_cfg().paths.output_dir)
    last = run_dir / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["global_step"] == 10  # the previous checkpoint, whole
    if full is None:  # results.json could not be written either: the job looks killed
        assert not (run_dir / "results.json").exists()
    else:
        stopped = read_results(run_dir)
        assert stopped["status"] == "interrupted" and stopped["error"].startswith("DiskFullError: no space")
        assert stopped["error"].endswith(
            f"then resume with ckpt_path={last} (a sweep: python sweep.py resume=<sweep dir>)"
        )
    assert not list(run_dir.rglob("*.tmp"))
    disk.full = False
    run_job(make_cfg(*RESUMABLE, "skip_completed=true"))
    resumed = read_results(run_dir)
    assert resumed["config"]["ckpt_path"] == str(last) and same_metrics(resumed, uninterrupted)


def test_disk_full_for_results_json_keeps_the_previous_file_and_the_run_resumes(
    make_cfg, uninterrupted, monkeypatch, tmp_path
):
    previous = tmp_path / "earlier" / "results.json"
    previous.parent.mkdir()
    previous.write_text('{"status": "interrupted"}')
    disk = FullDisk({"results.json"}).install(monkeypatch)
    with pytest.raises(DiskFullError, match=f"to write {previous} "):
        write_results(previous.parent, TrainRecord(model="cnn", status="ok"))
    assert previous.read_text() == '{"status": "interrupted"}' and os.listdir(previous.parent) == [
        "results.json"
    ]

    with pytest.raises(DiskFullError, match=r"to write .*/run/results.json \(the file there"):
        run_job(make_cfg(*RESUMABLE))  # trains to the end, then cannot record it
    run_dir = Path(make_cfg().paths.output_dir)
    assert not (run_dir / "results.json").exists()
    disk.full = False
    run_job(make_cfg(*RESUMABLE, "skip_completed=true"))  # from last.ckpt, of the final step
    resumed = read_results(run_dir)
    assert resumed["config"]["ckpt_path"] == str(run_dir / "checkpoints" / "last.ckpt")
    assert same_metrics(resumed, uninterrupted)


def test_sigterm_on_a_full_disk_keeps_the_earlier_checkpoint_and_resumes_from_it(
    make_cfg, uninterrupted, monkeypatch
):
    disk = FullDisk({"last.ckpt"}, room=1).install(monkeypatch)  # step 10's last.ckpt fits, step 15's not
    with pytest.raises(SystemExit) as stopped:
        run_job(make_cfg(*RESUMABLE, *signal_at(15, signal.SIGTERM)))
    assert stopped.value.code == 128 + signal.SIGTERM
    run_dir = Path(make_cfg().paths.output_dir)
    last = run_dir / "checkpoints" / "last.ckpt"
    interrupted = read_results(run_dir)
    assert interrupted["status"] == "interrupted"
    assert interrupted["error"].startswith(
        f"SIGTERM at step 15, but its checkpoint could not be saved: no space left on device to write {last}"
    )
    assert torch.load(last, weights_only=True)["global_step"] == 10
    disk.full = False
    run_job(make_cfg(*RESUMABLE, "skip_completed=true"))
    resumed = read_results(run_dir)
    assert resumed["config"]["ckpt_path"] == str(last) and same_metrics(resumed, uninterrupted)


def test_resume_refuses_a_checkpoint_that_names_code_and_touches_nothing(make_cfg, tmp_path):
    """`train.py ckpt_path=<a crafted checkpoint>` (and a sweep's resume of a job holding one)."""
    run_dir = interrupted_at_15(make_cfg)
    last, marker = run_dir / "checkpoints" / "last.ckpt", tmp_path / "pwned"
    saved = torch.load(last, weights_only=True)
    saved["hyper_parameters"]["optimizer"]["lr"] = touches(marker)
    torch.save(saved, last)
    before = (run_dir / "results.json").read_bytes()
    with pytest.raises(UntrustedFileError, match=r"last\.ckpt: optimizer\.lr\._target_ is not allowed"):
        run_job(make_cfg(*RESUMABLE, "skip_completed=true"))
    assert not marker.exists() and (run_dir / "results.json").read_bytes() == before
