"""The DataModule: shapes, dtypes, splits, shuffling, held-out validation, label noise, reordered input
positions, bad input."""

from __future__ import annotations

import pytest
import torch

from mnist1d.training.datamodule import MNIST1DDataModule
from mnist1d.training.engine.batches import TensorBatches


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


def test_resampled_label_noise_redraws_that_fraction_from_all_classes(cache_dir):
    """The double-descent reference's scheme: each label redrawn with probability p from all ten classes, so
    about 0.9 p of them change."""
    clean = MNIST1DDataModule(cache_dir=cache_dir)
    noisy = MNIST1DDataModule(cache_dir=cache_dir, label_noise=0.15, label_noise_mode="resample")
    clean.setup(), noisy.setup()
    changed = (clean.splits["train"][1] != noisy.splits["train"][1]).float().mean().item()
    assert changed == pytest.approx(0.135, abs=0.015)
    assert torch.equal(clean.splits["test"][1], noisy.splits["test"][1])


def test_training_split_is_a_second_evaluation_loader_when_asked(cache_dir):
    plain = MNIST1DDataModule(cache_dir=cache_dir)
    both = MNIST1DDataModule(cache_dir=cache_dir, label_noise=0.15, eval_train_split=True)
    plain.setup(), both.setup()
    assert isinstance(plain.val_dataloader(), TensorBatches)  # one loader: Lightning passes no index
    evaluation, training = both.val_dataloader()
    [(x_eval, _)] = list(evaluation)
    [(x_train, y_train)] = list(training)  # the whole split, in storage order, with its (noisy) labels
    assert x_eval.shape == (1000, 40) and x_train.shape == (4000, 40)
    assert torch.equal(x_train, both.splits["train"][0]) and torch.equal(y_train, both.splits["train"][1])


def test_positions_reorder_the_inputs_of_every_split(datamodule, cache_dir):
    reversed_order = list(range(39, -1, -1))
    flipped = MNIST1DDataModule(cache_dir=cache_dir, positions=reversed_order)
    flipped.setup()
    for split in ("train", "test"):
        (x, y), (x_flipped, y_flipped) = datamodule.splits[split], flipped.splits[split]
        assert torch.equal(x_flipped, x.flip(-1)) and torch.equal(y_flipped, y)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("positions", list(range(39))),
        ("positions", [0] * 40),
        ("positions", [float(i) for i in range(40)]),
        ("batch_size", 0),
        ("batch_size", 4001),
        ("val_fraction", 1.0),
        ("label_noise", -0.1),
        ("label_noise_mode", "flip"),
    ],
)
def test_bad_loader_arguments_name_the_field(field, value, cache_dir):
    with pytest.raises(ValueError, match=f"data.{field}"):
        MNIST1DDataModule(cache_dir=cache_dir, **{field: value})
