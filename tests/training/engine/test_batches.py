"""The step-indexed minibatch stream: resumable order, any chunk size, chunk size fixed on resume."""

from __future__ import annotations

import pytest
import torch

from mnist1d.training.engine.batches import TrainingChunks
from mnist1d.training.fit import fit
from tests.helpers import RESUMABLE, build_run


def test_order_resumes_mid_epoch_from_the_global_step():
    x, y = torch.arange(50.0)[:, None], torch.arange(50)
    steps = iter([0, 5, 7])  # the global step at each call of iter(): two whole epochs, then a resume
    loader = TrainingChunks(x, y, batch_size=10, seed=7, start_step=lambda: next(steps))
    uninterrupted = [b for _ in range(2) for [(_, b)] in loader]
    resumed = [b for [(_, b)] in loader]
    assert len(resumed) == 3
    assert all(torch.equal(a, b) for a, b in zip(uninterrupted[7:], resumed, strict=True))


@pytest.mark.parametrize("chunk", [2, 3, 7])
def test_chunks_serve_the_minibatches_of_consecutive_steps_across_epochs(chunk):
    """Any chunk size serves the step-indexed stream of chunk size 1 (last batches short: 43 % 10)."""
    x, y = torch.arange(43.0)[:, None], torch.arange(43)
    single = TrainingChunks(x, y, batch_size=10, seed=3)
    chunked = TrainingChunks(x, y, batch_size=10, chunk=chunk, seed=3, start_step=lambda: 2 * chunk)
    served = [batch for item in chunked for batch in item]
    assert len(served) == len(chunked) * chunk and len(chunked) == round(5 / chunk)
    for step, (x_step, y_step) in enumerate(served, start=2 * chunk):
        [(x_one, y_one)] = single.steps(step, 1)
        assert torch.equal(x_step, x_one) and torch.equal(y_step, y_one)
    assert {len(b) for _, b in served} <= {10, 3}


def test_resume_with_another_chunk_size_is_refused(make_cfg, tmp_path):
    """Lightning counts evaluations in chunks, so a checkpoint only continues with its own chunk size."""
    fit(make_cfg(*RESUMABLE, "trainer.max_steps=10", run="first"))
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    assert last.exists()
    with pytest.raises(ValueError, match="resuming with data chunk 10, but the checkpoint used 5"):
        fit(make_cfg(*RESUMABLE, "chunk_steps=10", f"ckpt_path={last}", run="second"))


@pytest.mark.parametrize(("n", "batch_size", "chunk"), [(4000, 100, 50), (250, 100, 3), (43, 10, 7)])
def test_cyclic_order_is_the_papers_walk_batch_for_batch(n, batch_size, chunk):
    """Step s trains on x[bix:bix + batch_size] with bix = (s * batch_size) % N, as both papers' train.py
    (slices cut short at the end of the split, passes not aligned with batches when N % batch_size)."""
    x, y = torch.arange(float(n))[:, None], torch.arange(n)
    start, served = 2 * chunk, []
    stream = TrainingChunks(
        x, y, batch_size, chunk=chunk, order="cyclic", start_step=lambda: start + len(served)
    )
    while len(served) <= 2 * n // batch_size:  # Lightning epochs, each going on from the global step
        served += [batch for item in stream for batch in item]
    for step, (_, y_step) in enumerate(served, start=start):
        bix = (step * batch_size) % n
        assert torch.equal(y_step, y[bix : bix + batch_size]), step


def test_cyclic_datamodule_serves_the_training_split_in_storage_order(make_cfg):
    """The real DataModule of `data.order=cyclic`, chunked as a run chunks it: the reference's batches."""
    cfg = make_cfg("data.order=cyclic", "trainer.max_steps=100")
    run = build_run(cfg)
    datamodule, plan = run.datamodule, run.plan
    datamodule.setup()
    x, y = datamodule.splits["train"]
    served = [batch for item in datamodule.train_dataloader() for batch in item]
    assert plan.chunk > 1 and len(served) >= 40
    for step, (x_step, y_step) in enumerate(served):
        bix = (step * 100) % len(y)
        assert torch.equal(x_step, x[bix : bix + 100]) and torch.equal(y_step, y[bix : bix + 100])


def test_resume_with_another_order_is_refused(make_cfg, tmp_path):
    fit(make_cfg(*RESUMABLE, "trainer.max_steps=10", run="first"))
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    with pytest.raises(ValueError, match="resuming with data order cyclic, but the checkpoint used shuffled"):
        fit(make_cfg(*RESUMABLE, "data.order=cyclic", f"ckpt_path={last}", run="second"))
