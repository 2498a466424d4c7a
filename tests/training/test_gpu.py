"""On a CUDA GPU (skipped elsewhere; `pytest -m gpu` runs only these): `accelerator=auto` picks it, the
CUDA-graph step matches the eager one, `trainer.deterministic=true` reruns are bit-identical, the divergence
guard's interval, resume of a graph-made checkpoint, and the benchmark on the device."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import torch

from mnist1d.apps.bench import main as bench
from mnist1d.training.callbacks import NonFiniteLossError
from mnist1d.training.fit import fit
from tests.helpers import ROOT, read_results, signal_at

pytestmark = pytest.mark.gpu

SHORT = ["trainer.max_steps=60", "eval_every=20", "chunk_steps=10"]
MODELS = ["logistic", "mlp", "cnn", "gru", "resnet", "dcnn", "tcn"]


def final_weights(run_dir) -> dict[str, torch.Tensor]:
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    return checkpoint["state_dict"]


def test_auto_picks_the_gpu_and_captures_the_step(make_cfg, tmp_path):
    fit(make_cfg("model=mlp", *SHORT))
    results = read_results(tmp_path / "run")
    assert results["status"] == "ok" and results["accelerator"] == "cuda:0" and results["cuda_graphs"] is True


@pytest.mark.parametrize("model", MODELS)
def test_cuda_graphs_match_the_eager_path(model, make_cfg, tmp_path):
    """Same data, initialisation and dropout draws: the two paths differ only by rounding (the capturable
    optimizer computes its bias corrections on the device). Deterministic kernels on both paths."""
    common = [f"model={model}", *SHORT, "trainer.deterministic=true"]
    fit(make_cfg(*common, "cuda_graphs=false", run="eager"))
    fit(make_cfg(*common, "cuda_graphs=true", run="graphs"))
    eager, graphs = read_results(tmp_path / "eager"), read_results(tmp_path / "graphs")
    assert eager["cuda_graphs"] is False and graphs["cuda_graphs"] is True
    for ours, theirs in zip(graphs["history"], eager["history"], strict=True):
        assert ours["test/acc"] == pytest.approx(theirs["test/acc"], abs=0.01)
    expected = final_weights(tmp_path / "eager")
    for name, value in final_weights(tmp_path / "graphs").items():
        torch.testing.assert_close(value, expected[name], rtol=1e-3, atol=1e-4, msg=name)


@pytest.mark.parametrize("graphs", [False, True], ids=["eager", "cuda-graphs"])
def test_deterministic_reruns_are_bit_identical(graphs, tmp_path, cache_dir):
    """`python train.py ... trainer.deterministic=true` twice, each in its own process as a user reruns it
    (cuBLAS reads its workspace setting when CUDA starts)."""
    command = [sys.executable, "train.py", "model=cnn", "trainer.max_steps=300", "eval_every=100"]
    command += ["trainer.deterministic=true", f"cuda_graphs={str(graphs).lower()}", "logger=csv"]
    command += [f"paths.cache_dir={cache_dir}"]
    for run in ("a", "b"):
        subprocess.run([*command, f"hydra.run.dir={tmp_path / run}"], cwd=ROOT, check=True, timeout=300)
    a, b = read_results(tmp_path / "a"), read_results(tmp_path / "b")
    assert a["history"] == b["history"] and a["confusion_matrix"] == b["confusion_matrix"]
    assert a["cuda_graphs"] is graphs


def test_divergence_is_read_every_logging_interval_and_names_the_first_bad_step(make_cfg, tmp_path):
    """On an accelerator the guard reads the losses every `log_every_n_steps` steps (50), not every chunk."""
    diverging = ["model=mlp", "optimizer=sgd", "optimizer.lr=1e20", "trainer.max_steps=100", "chunk_steps=25"]
    with pytest.raises(NonFiniteLossError, match="at step 2: "):
        fit(make_cfg(*diverging))
    results = read_results(tmp_path / "run")
    assert results["status"] == "failed" and results["steps"] == 50


def test_a_checkpoint_of_the_graph_path_is_an_eager_one_and_resumes(make_cfg, tmp_path):
    common = ["model=tcn", "model.channels=[8,8]", "trainer.max_steps=40", "eval_every=10", "chunk_steps=5"]
    with pytest.raises(SystemExit):
        fit(make_cfg(*common, *signal_at(15, signal.SIGTERM)))
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    optimizer = torch.load(last, map_location="cpu", weights_only=True)["optimizer_states"][0]
    assert [group["capturable"] for group in optimizer["param_groups"]] == [False]
    assert all(state["step"].device.type == "cpu" for state in optimizer["state"].values())
    fit(make_cfg(*common, f"ckpt_path={last}"))
    resumed = read_results(tmp_path / "run")
    assert resumed["status"] == "ok" and resumed["steps"] == 40 and resumed["cuda_graphs"] is True


def test_benchmark_times_both_loops_on_the_gpu(cache_dir):
    report = bench(["--tiny", "--csv", "--models", "mlp", "--cache-dir", str(cache_dir)])
    assert report["device"] == "cuda:0" and report["device_name"] == torch.cuda.get_device_name(0)
    (row,) = report["models"]
    assert row["framework_steps_per_s"] > 0 and row["eager_steps_per_s"] > 0 and row["eager_ratio"] > 0
