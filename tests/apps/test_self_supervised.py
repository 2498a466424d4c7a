"""`python -m mnist1d.apps.self_supervised`: the augmentations, the contrastive loss, the layer read-outs, a
small run end to end and its report; a bad config is refused."""

from __future__ import annotations

import json

import matplotlib.image
import numpy as np
import pytest
import torch

pytest.importorskip("sklearn", reason="the science extra is not installed (pip install -e '.[science]')")
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mnist1d.apps import self_supervised
from mnist1d.apps.self_supervised import augment, info_nce, layer_features, linear_accuracy
from mnist1d.models.contrastive_cnn import ContrastiveCNN
from tests.helpers import compose_app

SMALL = [
    "wandb=null",
    "data.num_samples=1000",
    "seeds=2",
    "epochs=3",
    "eval_every=1",
    "heads.default=[16,8]",
    "~heads.deep",
]


def test_views_are_detrended_circular_shifts_plus_a_random_line():
    generator = torch.Generator().manual_seed(0)
    t = torch.arange(40.0) - 19.5
    x = torch.randn(6, 40) + 2.0 + 0.3 * t  # offset and trend, which every view removes
    plain = augment(x, generator, max_shift=0, slope_std=0.0, offset_std=0.0)
    assert plain.mean(1).abs().max() < 1e-5 and (plain @ t).abs().max() < 1e-3
    shifted = augment(x, generator, max_shift=5, slope_std=0.0, offset_std=0.0)
    rolls = [
        [s for s in range(5) if torch.allclose(shifted[i], plain[i].roll(s), atol=1e-5)] for i in range(6)
    ]
    assert all(len(r) == 1 for r in rolls) and len({r[0] for r in rolls}) > 1  # each row its own shift < 5
    lines = augment(x, generator, max_shift=0, slope_std=0.04, offset_std=0.3) - plain
    fitted = torch.stack([torch.ones(40), t], 1)
    residual = lines.T - fitted @ torch.linalg.lstsq(fitted, lines.T).solution
    assert residual.abs().max() < 1e-4 and lines.std() > 0  # what is added is a line per sample


def test_contrastive_loss_is_lowest_when_each_view_is_paired_with_its_own():
    torch.manual_seed(0)
    z = torch.randn(8, 16)
    matched = info_nce(z, z + 0.01 * torch.randn(8, 16), temperature=0.5)
    shuffled = info_nce(z, z[torch.randperm(8)], temperature=0.5)
    assert matched < shuffled
    scores = (
        torch.nn.functional.normalize(z) @ torch.nn.functional.normalize(z[torch.roll(torch.arange(8), 1)]).T
    )
    sims = torch.exp(scores / 0.5)  # the reference's formula, written out
    reference = torch.mean(-torch.log(torch.diag(sims)) + torch.log(sims.sum(1)))
    torch.testing.assert_close(info_nce(z, z[torch.roll(torch.arange(8), 1)], 0.5), reference)


def test_layer_zero_read_out_is_logistic_regression_on_the_signals(tmp_path, cache_dir):
    cfg = compose_app("self_supervised", SMALL, tmp_path, cache_dir)
    data = self_supervised.dataset_tensors(cfg.data, cfg.paths.cache_dir)
    layers = layer_features(ContrastiveCNN(projector=[16, 8]), data)
    assert [layer[0].shape for layer in layers] == [
        (800, 40),
        (800, 475),
        (800, 250),
        (800, 125),
        (800, 16),
        (800, 8),
    ]
    pixel = make_pipeline(StandardScaler(), LogisticRegression(tol=0.01, max_iter=1000))
    pixel.fit(data["x"].numpy(), data["y"].numpy())
    assert linear_accuracy(layers[0], data, cfg) == pixel.score(
        data["x_test"].numpy(), data["y_test"].numpy()
    )


def test_small_run_learns_and_reports_every_layer(tmp_path, cache_dir):
    out = tmp_path / "ssl"
    numbers = self_supervised.run(compose_app("self_supervised", SMALL, out, cache_dir))
    saved = json.loads((out / "self_supervised.json").read_text())
    assert saved["heads"] == numbers["heads"] and list(numbers["heads"]) == ["default", "none"]
    for head, n_layers in (("default", 6), ("none", 4)):
        records = numbers["heads"][head]
        assert [r["seed"] for r in records] == [0, 1]
        assert all(
            len(r["linear_by_layer"]) == n_layers and r["curve"]["epochs"] == [1, 2, 3] for r in records
        )
        assert all(r["curve"]["loss"][-1] < r["curve"]["loss"][0] for r in records)  # it learns
        assert records[0]["linear_by_layer"] != records[1]["linear_by_layer"]  # seeds differ
    assert len(numbers["tsne"]["points"]) == len(numbers["tsne"]["labels"]) == 800
    assert matplotlib.image.imread(out / "self_supervised.png").std() > 0.01
    table = (out / "self_supervised.md").read_text()
    assert "| default | linear, layer 3 | 82.1 |" in table and "| none | kNN, output | 48.7 |" in table
    (out / "self_supervised.png").unlink()
    self_supervised.run(compose_app("self_supervised", [f"report={out}"], tmp_path / "remake", cache_dir))
    assert (out / "self_supervised.png").is_file() and not (tmp_path / "remake").exists()


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("temperature=0", "temperature"),
        ("augment.max_shift=-1", "augment.max_shift"),
        ("heads.default=[16,0]", "heads"),
        ("batch_size=900", "batch_size"),
        ("report=/nonexistent", "report"),
        ("+temprature=0.5", "temprature"),  # a key no component reads, refused as for every app
    ],
)
def test_bad_config_is_refused_before_any_work(override, field, tmp_path, cache_dir):
    with pytest.raises(ValueError, match=field):
        self_supervised.run(compose_app("self_supervised", [*SMALL, override], tmp_path / "bad", cache_dir))
    assert not (tmp_path / "bad").exists()


def test_published_numbers_are_the_notebooks_runs():
    from mnist1d.reports.common import published

    reference = published("self_supervised")
    assert reference["default"]["linear_by_layer"] == [32.8, 75.1, 80.9, 82.1, 76.1, 75.0]
    assert [len(reference[h]["linear_by_layer"]) for h in ("default", "none", "deep")] == [6, 4, 8]
    assert np.all(np.diff(reference["default"]["epochs"]) == 10)
