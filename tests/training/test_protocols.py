"""The papers' presets train and score as the papers' own loops do, step for step."""

from __future__ import annotations

import copy

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from mnist1d.training.fit import build, fit
from mnist1d.training.validation import validate
from tests.helpers import ON_CPU, read_results

STEPS, EVERY = 20, 10


def reference_loop(net: torch.nn.Module, datamodule) -> dict[int, tuple[float, float]]:
    """Both papers' training loop (Beebe et al.'s train_model, Greydanus & Kobak's), written from its
    formula: step s trains on x[100 s % N : + 100] with Adam 1e-2; every EVERY updates the whole test split
    is scored in one call by the net left in training mode."""
    x, y = datamodule.splits["train"]
    x_test, y_test = datamodule.splits["test"]
    optimizer = torch.optim.Adam(net.parameters(), 1e-2)
    scores = {}
    for step in range(STEPS):
        start = (step * 100) % len(x)
        F.cross_entropy(net(x[start : start + 100]), y[start : start + 100]).backward()
        optimizer.step()
        optimizer.zero_grad()
        if (step + 1) % EVERY == 0:
            with torch.no_grad():
                logits = net(x_test)
            accuracy = (logits.argmax(-1) == y_test).float().mean().item()
            scores[step + 1] = (accuracy, F.cross_entropy(logits, y_test).item())
    return scores


@pytest.mark.parametrize(("preset", "model"), [("beebe", "resnet"), ("greydanus_kobak", "cnn")])
def test_preset_equals_the_papers_loop(make_cfg, tmp_path, preset, model):
    """Same initial weights, same batches, same scoring: the same evaluations, to the last bit on a CPU."""
    overrides = [
        f"experiment={preset}",
        f"model={model}",
        f"trainer.max_steps={STEPS}",
        f"eval_every={EVERY}",
    ]
    cfg = make_cfg(*overrides, "callbacks=none", "num_threads=1", ON_CPU)
    datamodule = validate(cfg)  # what fit() does before it builds the net
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    initial = copy.deepcopy(build(cfg, datamodule).module.net)
    fit(cfg)
    ours = {r["step"]: (r["test/acc"], r["test/loss"]) for r in read_results(tmp_path / "run")["history"]}
    datamodule.setup()
    theirs = reference_loop(initial, datamodule)
    assert list(theirs) == [10, 20]
    for step, (accuracy, loss) in theirs.items():
        assert ours[step][0] == pytest.approx(accuracy, abs=1e-6)
        assert ours[step][1] == pytest.approx(loss, rel=1e-5)
