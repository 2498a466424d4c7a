"""`python -m mnist1d.apps.dataset_figures`: the construction stages are the generator's; a small run writes
every figure."""

from __future__ import annotations

import json

import matplotlib.image
import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the science extra is not installed (pip install -e '.[science]')")

from mnist1d.apps import dataset_figures as figures
from mnist1d.data import generate, get_templates
from mnist1d.dataset_config import DatasetConfig
from tests.helpers import compose_app

SMALL = [
    "data.num_samples=1000",
    "tsne.points=150",
    "tsne.max_iter=250",
    "tsne.perplexity=10",
    "samples_per_class=2",
    "wandb=null",
]


def reference_pad_lengths(config: DatasetConfig, n: int) -> list[int]:
    """The pad lengths of the first `n` samples as the reference's per-sample loop draws them: per sample
    rand (pad), rand (scale), choice (shift), two randn (noises), rand (shear), from RandomState(seed)."""
    rs = np.random.RandomState(config.seed)
    low, high = config.padding
    seq_len = config.template_len + high
    pads = []
    for _ in range(n):
        pads.append(low + int(rs.rand() * (high - low + 1)))
        rs.rand(), rs.choice(config.max_translation), rs.randn(seq_len), rs.randn(seq_len), rs.rand()
    return pads


def test_construction_stages_end_in_the_generated_samples():
    config = DatasetConfig(num_samples=10)  # one sample per class, drawn in class order
    stages = figures.construction_stages(config, list(range(10)))
    assert list(stages) == ["padded", *(s for s, _, _ in figures.STAGES), "downsampled"]
    # padded: the template (plus the reference's eps) followed by as many zeros as the reference draws
    assert [len(p) - 12 for p in stages["padded"]] == reference_pad_lengths(config, 10)
    for digit, padded in enumerate(stages["padded"]):
        np.testing.assert_allclose(padded[:12], get_templates()["x"][digit] + 1e-8, rtol=0, atol=1e-15)
        assert not padded[12:].any()
    raw = np.stack(stages["downsampled"])
    dataset = generate(config)
    x = np.concatenate([dataset["x"], dataset["x_test"]])
    y = np.concatenate([dataset["y"], dataset["y_test"]])
    np.testing.assert_allclose(((raw - raw.mean()) / raw.std())[y], x, atol=1e-12)
    # each stage changes the signal: no stage is silently skipped
    for before, after in zip(list(stages)[1:-2], list(stages)[2:-1], strict=True):
        assert not np.allclose(np.stack(stages[before]), np.stack(stages[after])), (before, after)


def test_small_run_writes_figures_and_pixel_baselines(tmp_path, cache_dir):
    out = tmp_path / "figures"
    numbers = figures.run(compose_app("dataset_figures", SMALL, out, cache_dir))
    for name in ("templates", "construction", "samples", "tsne"):
        image = matplotlib.image.imread(out / f"{name}.png")
        assert image.ndim == 3 and min(image.shape[:2]) > 200 and image.std() > 0.01
        assert (out / f"{name}.pdf").read_bytes().startswith(b"%PDF")
    saved = json.loads((out / "dataset_figures.json").read_text())
    assert saved["pixel_space_test_acc"] == numbers["pixel_space_test_acc"]
    acc = saved["pixel_space_test_acc"]
    assert 0.1 < acc["logistic"] < acc["knn"] < 1  # kNN beats a linear model in pixel space
    # Fig. 5: MNIST-1D beside image digits, labelled as what they are (no MNIST here: scikit-learn's digits)
    assert list(saved["tsne"]) == ["scikit-learn 8x8 digits (not MNIST)", "MNIST-1D"]
    images, mnist1d = saved["tsne"].values()
    assert images["points"] == mnist1d["points"] == 150
    assert mnist1d["knn_test_acc"] == acc["knn"]
    assert images["knn_test_acc"] > mnist1d["knn_test_acc"] + 0.2  # image digits cluster, MNIST-1D not
    assert saved["cpu_time_s"] > 0 and saved["config"]["knn_k"] == 10


def test_local_mnist_file_is_used_for_the_image_panel(tmp_path, cache_dir):
    rng = np.random.default_rng(0)
    y, y_test = rng.integers(0, 10, 300), rng.integers(0, 10, 100)
    x, x_test = (
        labels[:, None, None] * 20.0 + rng.normal(0, 1, (len(labels), 28, 28)) for labels in (y, y_test)
    )
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=y, x_test=x_test, y_test=y_test)
    overrides = [*SMALL, f"tsne.image_dataset={tmp_path / 'mnist.npz'}"]
    saved = figures.run(compose_app("dataset_figures", overrides, tmp_path / "out", cache_dir))
    assert next(iter(saved["tsne"])) == "MNIST (mnist.npz, 28x28 pixels)"
    assert saved["tsne"]["MNIST (mnist.npz, 28x28 pixels)"]["knn_test_acc"] == 1.0


@pytest.mark.parametrize(
    ("override", "field"), [("construction_digits=[3,12]", "construction_digits"), ("knn_k=0", "knn_k")]
)
def test_bad_config_is_rejected_before_work(tmp_path, cache_dir, override, field):
    cfg = compose_app("dataset_figures", [*SMALL, override], tmp_path / "bad", cache_dir)
    with pytest.raises(ValueError, match=field):
        figures.run(cfg)
    assert not (tmp_path / "bad").exists()
