"""The DataModule and the plain Dataset: shapes, dtypes, splits, determinism, shuffling, resumable order."""

from __future__ import annotations

import pytest
import torch

from mnist1d.batches import TrainingChunks
from mnist1d.datamodule import MNIST1DDataModule
from mnist1d.dataset import MNIST1D


@pytest.fixture
def datamodule(cache_dir) -> MNIST1DDataModule:
    dm = MNIST1DDataModule(cache_dir=cache_dir)
    dm.setup()
    return dm


def test_paper_protocol_shapes_and_dtypes(datamodule):
    batches = [batch for chunk in datamodule.train_dataloader() for batch in chunk]
    assert len(batches) == 40
    x, y = batches[0]
    assert x.shape == (100, 40) and x.dtype == torch.float32
    assert y.shape == (100,) and y.dtype == torch.long
    assert sorted(torch.cat([b[1] for b in batches]).tolist()) == sorted(
        datamodule.splits["train"][1].tolist()
    )
    (x_eval, y_eval), *rest = list(datamodule.val_dataloader())
    assert rest == [] and x_eval.shape == (1000, 40) and datamodule.eval_split == "test"
    assert set(y_eval.tolist()) == set(range(10))


def test_epoch_is_a_permutation_and_epochs_differ(datamodule):
    loader = datamodule.train_dataloader()
    x_train = datamodule.splits["train"][0]
    first, second = loader.order(0), loader.order(1)
    assert sorted(first.tolist()) == list(range(len(x_train)))
    assert not torch.equal(first, second)
    [(x0, _)] = next(iter(loader))
    assert torch.equal(x0, x_train[first[:100]])


def test_same_shuffle_seed_same_order_other_seed_differs(cache_dir):
    orders = []
    for seed in (0, 0, 1):
        dm = MNIST1DDataModule(cache_dir=cache_dir, shuffle_seed=seed)
        dm.setup()
        orders.append(torch.cat([y for [(_, y)] in dm.train_dataloader()]))
    assert torch.equal(orders[0], orders[1])
    assert not torch.equal(orders[0], orders[2])


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


def test_validation_fraction_holds_out_part_of_the_training_split(cache_dir):
    dm = MNIST1DDataModule(cache_dir=cache_dir, val_fraction=0.1)
    dm.setup()
    assert dm.eval_split == "val"
    assert len(dm.splits["train"][1]) == 3600 and len(dm.splits["val"][1]) == 400
    train_rows = {tuple(r.tolist()) for r in dm.splits["train"][0]}
    assert not any(tuple(r.tolist()) in train_rows for r in dm.splits["val"][0])
    assert next(iter(dm.test_dataloader()))[0].shape == (1000, 40)


def test_label_noise_changes_that_fraction_of_training_labels_only(cache_dir):
    clean = MNIST1DDataModule(cache_dir=cache_dir)
    noisy = MNIST1DDataModule(cache_dir=cache_dir, label_noise=0.15)
    clean.setup(), noisy.setup()
    changed = (clean.splits["train"][1] != noisy.splits["train"][1]).float().mean().item()
    assert changed == pytest.approx(0.15, abs=1e-3)
    assert torch.equal(clean.splits["test"][1], noisy.splits["test"][1])


@pytest.mark.parametrize(
    ("field", "value"),
    [("batch_size", 0), ("batch_size", 4001), ("val_fraction", 1.0), ("label_noise", -0.1)],
)
def test_bad_loader_arguments_name_the_field(field, value, cache_dir):
    with pytest.raises(ValueError, match=f"data.{field}"):
        MNIST1DDataModule(cache_dir=cache_dir, **{field: value})


def test_plain_dataset_for_users_outside_lightning(cache_dir):
    train, test = MNIST1D("train", cache_dir=cache_dir), MNIST1D("test", cache_dir=cache_dir)
    assert (len(train), len(test)) == (4000, 1000)
    x, y = train[0]
    assert x.shape == (40,) and x.dtype == torch.float32 and 0 <= int(y) < 10
    loader = torch.utils.data.DataLoader(train, batch_size=100)
    xb, yb = next(iter(loader))
    assert xb.shape == (100, 40) and yb.shape == (100,)
    with pytest.raises(ValueError, match="split"):
        MNIST1D("validation", cache_dir=cache_dir)
