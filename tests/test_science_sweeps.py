"""Experiments 1, 4 and 5 as sweeps: their models, data sizing, sweep configs, and small runs -> reports."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
import torch
from conftest import ROOT
from torch.nn import functional as F

from mnist1d.compose import compose_train
from mnist1d.models.mlp_plain import PlainMLP
from mnist1d.models.pool_cnn import POOLINGS, PoolCNN
from mnist1d.science.double_descent import best_error, double_descent_report, peak_after_first_minimum
from mnist1d.science.shuffle import shuffle_report
from mnist1d.science.sized_data import fixed_test_datamodule
from mnist1d.sweep_spec import build_spec, compose_sweep
from mnist1d.sweep_summary import collect_rows
from mnist1d.training import train

SWEEPS = ["shuffle", "double_descent", "pooling"]
QUICK = ["trainer.max_steps=20", "eval_every=10"]


def n_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("pooling", POOLINGS)
def test_pool_cnn_shapes_and_parameter_counts(pooling: str) -> None:
    model = PoolCNN(pooling=pooling)
    conv = 20 * 3 + 20 + 20 * 20 * 3 + 20
    assert n_parameters(model) == conv + (20 * 40 if pooling == "none" else 20 * 10) * 10 + 10
    for length in (40, 41, 72):
        x = torch.randn(3, length)
        logits = PoolCNN(seq_length=length, pooling=pooling)(x)
        assert logits.shape == (3, 10)


def test_pool_cnn_l2_pooling_is_root_mean_square() -> None:
    h = torch.rand(2, 3, 8)
    pooled = PoolCNN(pooling="l2")._downsample(h)
    torch.testing.assert_close(pooled, F.avg_pool1d(h**2, 2).sqrt())


def test_pool_cnn_rejects_unknown_pooling() -> None:
    with pytest.raises(ValueError, match=r"model.pooling='median' is invalid: must be one of none, stride"):
        PoolCNN(pooling="median")


@pytest.mark.parametrize(("width", "depth"), [(2, 2), (100, 2), (300, 2), (16, 3)])
def test_plain_mlp_parameter_count_and_he_init(width: int, depth: int) -> None:
    model = PlainMLP(hidden_size=width, depth=depth)
    expected = 40 * width + width + (depth - 1) * (width * width + width) + 10 * width + 10
    assert n_parameters(model) == expected
    assert model(torch.randn(5, 1, 40)).shape == (5, 10)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == depth + 1 and all((m.bias == 0).all() for m in linears)
    first = linears[0].weight  # Kaiming uniform: bound sqrt(6 / fan_in)
    assert first.abs().max() <= (6 / 40) ** 0.5 and first.abs().max() > 0.5 * (6 / 40) ** 0.5


def test_plain_mlp_rejects_bad_depth() -> None:
    with pytest.raises(ValueError, match=r"model.depth=0 is invalid: must be an integer >= 1"):
        PlainMLP(depth=0)


@pytest.mark.parametrize("train_size", [1000, 2000, 7000])
def test_fixed_test_datamodule_has_exact_split_sizes(train_size: int, cache_dir: Path) -> None:
    datamodule = fixed_test_datamodule(train_size=train_size, test_size=1000, cache_dir=cache_dir)
    datamodule.setup()
    assert len(datamodule.splits["train"][1]) == train_size
    assert len(datamodule.splits["test"][1]) == 1000


def test_fixed_test_datamodule_refuses_conflicting_sizes() -> None:
    with pytest.raises(ValueError, match=r"data.num_samples=5000 is invalid here: .* must be null"):
        fixed_test_datamodule(train_size=1000, num_samples=5000)
    with pytest.raises(
        ValueError, match=r"data.train_size=1005 is invalid: must be a positive multiple of 10"
    ):
        fixed_test_datamodule(train_size=1005)


@pytest.mark.parametrize("name", [f"{sweep}{size}" for sweep in SWEEPS for size in ("", "_small")])
def test_sweep_kinds_compose_into_valid_jobs(name: str) -> None:
    spec = build_spec(compose_sweep([f"sweep={name}"]), [])
    assert spec.report_fn.startswith("mnist1d.science.")
    first_job = compose_train([*spec.fixed, *(f"{key}={value}" for key, value in spec.jobs()[0].items())])
    assert first_job.model._target_.startswith("mnist1d.models.")
    if name.startswith("double_descent"):
        assert first_job.data.label_noise == 0.15 and first_job.optimizer._target_ == "torch.optim.SGD"
    if name.startswith("pooling"):
        assert first_job.model._target_.endswith("PoolCNN") and first_job.data.test_size == 1000


def load_sweep_py() -> ModuleType:
    """sweep.py, the sweep command, imported in-process (it is a script at the repository root)."""
    spec = importlib.util.spec_from_file_location("sweep", ROOT / "sweep.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_grid(make_cfg, grid: list[list[str]]) -> None:
    """Train each override set into its own job directory, as a multirun of train.py would."""
    for job, overrides in enumerate(grid):
        train(make_cfg(*overrides, run=f"{job}_job"))


def assert_report_files(paths: list[Path], stem: str) -> dict:
    assert sorted(p.name for p in paths) == sorted(f"{stem}{suffix}" for suffix in (".json", ".png", ".pdf"))
    folder = paths[0].parent
    assert (folder / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (folder / f"{stem}.pdf").read_bytes()[:5] == b"%PDF-"
    return json.loads((folder / f"{stem}.json").read_text())


def test_shuffle_sweep_small(make_cfg, tmp_path: Path) -> None:
    seeds = {"logistic": (0, 1)}
    grid = [
        [f"model={model}", f"data={data}", f"seed={seed}", "callbacks=none", *QUICK]
        for model in seeds
        for data in ("mnist1d", "mnist1d_shuffled")
        for seed in seeds[model]
    ]
    run_grid(make_cfg, grid)
    rows = collect_rows(tmp_path, None)
    numbers = assert_report_files(shuffle_report(tmp_path, rows), "shuffle")
    for model in seeds:
        for variant in ("mnist1d", "mnist1d_shuffled"):
            stats = numbers["accuracy"][model][variant]
            runs = [
                100 * r["final_acc"]
                for r in rows
                if r["model"] == model and r["config"]["data"]["shuffle_seq"] == (variant != "mnist1d")
            ]
            assert stats["n"] == len(seeds[model]) and stats["values"] == runs
            assert stats["mean"] == pytest.approx(sum(runs) / len(runs))
        drop = (
            numbers["accuracy"][model]["mnist1d"]["mean"]
            - numbers["accuracy"][model]["mnist1d_shuffled"]["mean"]
        )
        assert numbers["drop_when_shuffled"][model] == pytest.approx(drop)


def test_double_descent_sweep_small(make_cfg, tmp_path: Path) -> None:
    run_grid(make_cfg, [["experiment=double_descent", f"model.hidden_size={w}", *QUICK] for w in (4, 64)])
    rows = collect_rows(tmp_path, None)
    numbers = assert_report_files(double_descent_report(tmp_path, rows), "double_descent")
    assert list(numbers["test_error"]) == ["4", "64"]
    for row in rows:
        entry = numbers["test_error"][str(row["config"]["model"]["hidden_size"])]
        assert entry["final"]["values"] == [pytest.approx(100 * (1 - row["final_acc"]))]
        assert entry["best"]["mean"] <= entry["final"]["mean"]
        assert entry["parameters"] == row["parameters"]
    assert numbers["label_noise"] == 0.15
    final = [numbers["test_error"][w]["final"]["mean"] for w in ("4", "64")]
    assert numbers["peak_width"] == (64 if final[1] > final[0] else None)


@pytest.mark.parametrize(
    ("errors", "peak"),
    [([64, 50, 50.4, 54.7, 55.1, 51, 48.9], 4), ([60, 50, 45], None), ([50, 55, 52], 1), ([50], None)],
)
def test_double_descent_peak_is_highest_error_after_first_minimum(
    errors: list[float], peak: int | None
) -> None:
    assert peak_after_first_minimum(errors) == peak


def test_best_error_is_lowest_error_over_history() -> None:
    row = {
        "history": [{"step": 1, "test/acc": 0.4}, {"step": 2, "test/acc": 0.6}, {"step": 3, "test/acc": 0.5}]
    }
    assert best_error(row) == pytest.approx(40.0)


def test_pooling_sweep_small(make_cfg, tmp_path: Path) -> None:
    grid = [
        ["experiment=pooling", f"model.pooling={pooling}", f"data.train_size={size}", *QUICK]
        for pooling in ("none", "max")
        for size in (500, 2000)
    ]
    run_grid(make_cfg, grid)
    sweep = load_sweep_py()  # its report mode, on a plain multirun directory
    assert sweep.main(["sweep=pooling_small", f"report={tmp_path}", "wandb_report=false"]) == 0
    rows = collect_rows(tmp_path, None)
    numbers = assert_report_files([tmp_path / f"pooling{s}" for s in (".json", ".png", ".pdf")], "pooling")
    assert {p: list(by_size) for p, by_size in numbers["accuracy"].items()} == {
        "none": ["500", "2000"],
        "max": ["500", "2000"],
    }
    for size in ("500", "2000"):
        gain = numbers["accuracy"]["max"][size]["mean"] - numbers["accuracy"]["none"][size]["mean"]
        assert numbers["best_pooling_gain_over_none"][size] == pytest.approx(gain)
    assert all(
        row["parameters"] == (9310 if row["config"]["model"]["pooling"] == "none" else 3310) for row in rows
    )
