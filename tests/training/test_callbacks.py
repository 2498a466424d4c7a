"""Interruptions save a checkpoint and resume exactly; diverging runs stop at the first bad step."""

from __future__ import annotations

import math
import signal
from types import SimpleNamespace

import pytest
import torch

from mnist1d.training.callbacks import DivergenceGuard, NonFiniteLossError
from mnist1d.training.fit import fit
from tests.helpers import ON_CPU, RESUMABLE, read_results, signal_at


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)], ids=["SIGTERM", "Ctrl-C"]
)
def test_interrupted_run_saves_checkpoint_and_resumes_to_identical_metrics(signum, make_cfg, tmp_path):
    fit(make_cfg(*RESUMABLE, run="full"))
    with pytest.raises(SystemExit) as stopped:
        fit(make_cfg(*RESUMABLE, *signal_at(15, signum), run="part"))
    assert stopped.value.code == 128 + signum
    interrupted = read_results(tmp_path / "part")
    last = tmp_path / "part" / "checkpoints" / "last.ckpt"
    assert interrupted["status"] == "interrupted" and interrupted["steps"] == 15
    assert interrupted["error"] == f"{signum.name} at step 15; resume with ckpt_path={last}"
    assert [record["step"] for record in interrupted["history"]] == [10]
    assert torch.load(last, weights_only=True)["global_step"] == 15

    fit(make_cfg(*RESUMABLE, f"ckpt_path={last}", run="part"))
    full, resumed = read_results(tmp_path / "full"), read_results(tmp_path / "part")
    assert resumed["status"] == "ok" and resumed["steps"] == 30
    assert resumed["history"] == full["history"]
    assert resumed["final_test_acc"] == full["final_test_acc"]
    assert resumed["confusion_matrix"] == full["confusion_matrix"]


@pytest.mark.parametrize("chunk", [1, 25])
def test_diverging_run_stops_at_the_first_non_finite_step_and_is_reported_failed(chunk, make_cfg, tmp_path):
    """The error names the first bad step (the second here), at the end of its chunk of steps (on the CPU,
    where the guard reads every chunk's losses; on a GPU: tests/training/test_gpu.py)."""
    diverging = ["model=mlp", "optimizer=sgd", "optimizer.lr=1e20", "trainer.max_steps=50", ON_CPU]
    with pytest.raises(NonFiniteLossError) as diverged:
        fit(make_cfg(*diverging, f"chunk_steps={chunk}"))
    results = read_results(tmp_path / "run")
    assert results["status"] == "failed"
    assert results["error"] == f"NonFiniteLossError: {diverged.value}"
    assert "not finite (NaN or inf) at step 2:" in results["error"]
    assert results["steps"] == max(chunk, 2) and results["history"] == []


def test_divergence_guard_names_the_first_bad_step_of_a_buffered_window():
    """On accelerators the guard reads its flags every `check_every` steps; the step must still be exact."""
    guard = DivergenceGuard(check_every=4)
    trainer = SimpleNamespace(global_step=0, max_steps=100, log_every_n_steps=50)
    losses = [1.0, 2.0, 3.0, 0.5, 1.0, math.inf, math.nan, 2.0]
    with pytest.raises(NonFiniteLossError, match="at step 6: "):
        for trainer.global_step, loss in enumerate(losses, start=1):
            guard.on_train_batch_end(trainer, None, {"loss": torch.tensor(loss)}, None, 0)
            assert trainer.global_step < 8  # steps 1-4 pass, 5-7 are only read at the window's end
    assert trainer.global_step == 8
