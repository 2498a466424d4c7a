"""CUDA graphs on a machine without a GPU: which runs may be captured, what each fallback logs, the
optimizer's and the checkpoint's capturable state, and the graph path's own step (static buffers, copied
losses, eager fallback for other shapes) run eagerly, bit for bit the eager path's results. The capture
itself is tested on a GPU, in tests/training/test_gpu.py."""

from __future__ import annotations

import csv
import logging
import re

import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from mnist1d.training.engine.cuda_graphs import (
    GraphedStep,
    as_eager_checkpoint,
    make_capturable,
    refusal,
    wanted,
)
from mnist1d.training.fit import fit
from tests.helpers import read_results

CUDA = torch.device("cuda")  # a device object only: nothing runs on it here


def adam() -> torch.optim.Adam:
    return torch.optim.Adam(nn.Linear(3, 2).parameters())


def capture_refusal(**changes: object) -> str | None:
    """`refusal` for a capturable run (CUDA, Adam, no scheduler, fp32, one minibatch per step, eager net)
    with `changes`."""
    run = {"device": CUDA, "optimizer": adam(), "has_scheduler": False, "precision": "32-true"}
    run |= {"accumulate": 1, "compiled": False}
    return refusal(**(run | changes))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({}, None),
        ({"optimizer": torch.optim.SGD(nn.Linear(3, 2).parameters(), lr=0.1, momentum=0.9)}, None),
        ({"optimizer": torch.optim.AdamW(nn.Linear(3, 2).parameters())}, None),
        ({"device": torch.device("cpu")}, "the run trains on cpu"),
        ({"has_scheduler": True}, "a learning-rate scheduler changes the learning rate"),
        ({"optimizer": torch.optim.LBFGS(nn.Linear(3, 2).parameters())}, "LBFGS cannot step inside a graph"),
        ({"precision": "bf16-mixed"}, "trainer.precision=bf16-mixed runs under autocast"),
        ({"accumulate": 2}, "accumulate_grad_batches > 1"),
        ({"compiled": True}, "compile=true"),
    ],
)
def test_which_runs_can_be_captured(changes, reason):
    found = capture_refusal(**changes)
    assert found is None if reason is None else reason in found


def test_each_fallback_logs_at_most_one_line_and_none_off_cuda_unless_asked(caplog):
    caplog.set_level(logging.INFO, logger="mnist1d.training.engine.cuda_graphs")
    off_cuda, on_cuda = capture_refusal(device=torch.device("cpu")), capture_refusal(has_scheduler=True)
    assert wanted("auto", None) and wanted(True, None) and not wanted(False, None)
    assert not wanted("auto", off_cuda) and not wanted(False, on_cuda) and caplog.records == []
    assert not wanted("auto", on_cuda)
    assert not wanted(True, off_cuda)
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", f"CUDA graphs off, training eagerly: {on_cuda}"),
        ("WARNING", f"cuda_graphs=true, but training eagerly: {off_cuda}"),
    ]


def test_capturable_optimizer_and_eager_checkpoint_leave_the_live_state_alone():
    net = nn.Linear(3, 2)
    optimizer = torch.optim.Adam(net.parameters())
    net(torch.ones(4, 3)).sum().backward()
    optimizer.step()  # the state exists, as after a restored checkpoint
    make_capturable(optimizer)
    assert all(group["capturable"] for group in optimizer.param_groups)
    steps = [optimizer.state[p]["step"] for p in net.parameters()]
    saved = optimizer.state_dict()
    as_eager_checkpoint([saved])
    assert [group["capturable"] for group in saved["param_groups"]] == [False]
    assert all(state["step"].device.type == "cpu" for state in saved["state"].values())
    assert all(group["capturable"] for group in optimizer.param_groups)  # the live optimizer: unchanged
    assert all(optimizer.state[p]["step"] is step for p, step in zip(net.parameters(), steps, strict=True))


def test_a_failed_capture_keeps_the_step_eager_with_one_warning(caplog):
    """On this CPU-only torch a CUDA graph cannot even be constructed: what any op that fails to capture
    does. The step still runs, and runs eagerly from then on."""
    calls = []
    runner = GraphedStep(lambda x, y: calls.append(1) or (x.sum(), x), warmup=0)
    runner(torch.ones(2, 3), torch.zeros(2, dtype=torch.long))
    runner._capture()
    assert not runner.capture and runner.graph is None
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    # whatever torch raises where no graph can be made (RuntimeError, AcceleratorError, ...), and its message
    assert re.fullmatch(r"CUDA graph capture failed, training eagerly: \w+: .+", warning, re.DOTALL)
    runner(torch.ones(2, 3), torch.zeros(2, dtype=torch.long))
    assert len(calls) == 2


def test_static_buffers_take_each_batch_and_refuse_other_shapes():
    seen = []
    runner = GraphedStep(lambda x, y: seen.append((x.clone(), y.clone())) or (x.sum(), x))
    x, y = torch.arange(6.0).reshape(2, 3), torch.tensor([1, 0])
    runner(x, y)
    runner(x + 1, y)
    assert torch.equal(seen[1][0], x + 1) and seen[1][0].data_ptr() != x.data_ptr()
    assert runner.inputs[0].data_ptr() == runner.inputs[0].data_ptr()  # the same buffers every step
    assert runner.accepts(x, y) and not runner.accepts(x[:1], y[:1])
    assert not runner.accepts(x.double(), y)


RUNNERS: list[GraphedStep] = []


class EagerGraphPath(pl.Callback):
    """Trains through the graph path's `GraphedStep` on the CPU, where it runs every step eagerly through
    its static buffers (added as `+callbacks.graph_path._target_=...`); the runner goes to `RUNNERS`."""

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        optimizer = trainer.optimizers[0]
        pl_module.step_runner = GraphedStep(lambda x, y: pl_module._optimizer_step(optimizer, [(x, y)]))
        RUNNERS.append(pl_module.step_runner)


def logged_train_losses(run_dir) -> list[tuple[str, str]]:
    with (run_dir / "csv" / "metrics.csv").open() as file:
        return [(row["step"], row["train/loss"]) for row in csv.DictReader(file) if row["train/loss"]]


def test_the_graph_paths_step_equals_the_eager_path_bit_for_bit(make_cfg, tmp_path):
    """Dropout, logged losses and accuracies, and a batch size whose last batch of an epoch is smaller
    (4000 = 31 x 128 + 32: that step falls back to the eager step)."""
    common = ["model=tcn", "model.channels=[8,8]", "data.batch_size=128", "trainer.max_steps=40"]
    common += ["eval_every=20", "trainer.log_every_n_steps=4", "chunk_steps=10", "trainer.accelerator=cpu"]
    graph_path = [f"+callbacks.graph_path._target_={__name__}.EagerGraphPath"]
    fit(make_cfg(*common, run="eager"))
    RUNNERS.clear()
    fit(make_cfg(*common, *graph_path, run="graph"))
    (runner,) = RUNNERS
    assert runner.steps == 39  # all but step 32, the epoch's last batch of 32
    eager, graphed = read_results(tmp_path / "eager"), read_results(tmp_path / "graph")
    assert graphed["history"] == eager["history"]
    assert graphed["confusion_matrix"] == eager["confusion_matrix"]
    assert graphed["final_test_acc"] == eager["final_test_acc"]
    assert logged_train_losses(tmp_path / "graph") == logged_train_losses(tmp_path / "eager")
    assert len(logged_train_losses(tmp_path / "eager")) == 10
    eager_state, graph_state = (
        torch.load(tmp_path / name / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
        for name in ("eager", "graph")
    )
    assert all(torch.equal(eager_state[key], value) for key, value in graph_state.items())


def test_cuda_graphs_is_a_validated_config_key(make_cfg):
    from mnist1d.errors import ConfigError
    from mnist1d.training.validation import validate

    validate(make_cfg("cuda_graphs=true"))
    with pytest.raises(ConfigError, match="cuda_graphs='yes' is invalid: must be auto, true or false"):
        validate(make_cfg("cuda_graphs=yes"))
