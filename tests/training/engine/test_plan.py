"""Lightning Trainer options keep their documented meaning under chunked steps, or are refused up front."""

from __future__ import annotations

import io

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from hydra.utils import instantiate

from mnist1d.errors import ConfigError
from mnist1d.training.engine import progress
from mnist1d.training.engine.batches import TrainingChunks
from mnist1d.training.fit import fit
from tests.helpers import build_run, read_results

QUICK = ["model=logistic", "logger=csv", "eval_every=20"]


def test_max_epochs_counts_passes_over_the_training_data(make_cfg, tmp_path):
    """4000 samples in batches of 100: an epoch is 40 optimizer steps, 20 with two minibatches per step."""
    fit(make_cfg(*QUICK, "trainer.max_steps=-1", "trainer.max_epochs=2", run="epochs"))
    results = read_results(tmp_path / "epochs")
    assert results["steps"] == results["max_steps"] == 80 and results["epochs"] == 2.0
    assert [record["step"] for record in results["history"]] == [20, 40, 60, 80]
    cfg = make_cfg(
        *QUICK, "trainer.max_steps=-1", "trainer.max_epochs=2", "+trainer.accumulate_grad_batches=2"
    )
    assert build_run(cfg).plan.total_steps == 40
    assert build_run(make_cfg(*QUICK, "trainer.max_steps=30", "trainer.max_epochs=2")).plan.total_steps == 30


def test_run_names_say_how_long_the_run_trains(make_cfg):
    assert make_cfg("trainer.max_steps=-1", "trainer.max_epochs=3").run_name == "cnn-3epochs-seed0"
    assert make_cfg("trainer.max_epochs=3").run_name == "cnn-6000steps-3epochs-seed0"
    assert make_cfg("+trainer.fast_dev_run=true").run_name == "cnn-fast_dev_run-seed0"


@pytest.mark.parametrize(("value", "steps"), [("true", 1), ("5", 5)])
def test_fast_dev_run_takes_that_many_steps_and_writes_no_checkpoint_or_log(value, steps, make_cfg, tmp_path):
    fit(make_cfg(*QUICK, f"+trainer.fast_dev_run={value}"))
    results = read_results(tmp_path / "run")
    assert results["status"] == "ok" and results["fast_dev_run"] is True
    assert results["steps"] == results["max_steps"] == steps
    assert [record["step"] for record in results["history"]] == [steps]  # evaluated once, at the end
    assert results["final_test_acc"] is not None
    assert not (tmp_path / "run" / "checkpoints").exists() and not (tmp_path / "run" / "csv").exists()


def test_limit_val_batches_scores_that_part_of_the_evaluation_split(make_cfg, tmp_path):
    fit(make_cfg(*QUICK, "trainer.max_steps=40", "+trainer.limit_val_batches=0.5", run="half"))
    fit(make_cfg(*QUICK, "trainer.max_steps=40", "+trainer.limit_val_batches=0", run="none"))
    half, none = read_results(tmp_path / "half"), read_results(tmp_path / "none")
    for record in half["history"]:
        assert round(record["test/acc"] * 500, 3) == round(record["test/acc"] * 500)  # 500 of 1000 samples
    assert sum(map(sum, half["confusion_matrix"])) == 1000  # the final test still scores the whole split
    assert none["history"] == [] and none["final_acc"] is None and none["final_test_acc"] is not None


class TensorBatchList:
    """A loader over given minibatches (a plain list would be read as a list of loaders)."""

    def __init__(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)


class AutomaticClassifier(pl.LightningModule):
    """The same net and loss with Lightning's automatic optimization: the reference for the chunked step."""

    def __init__(self, net: torch.nn.Module, lr: float) -> None:
        super().__init__()
        self.net, self.lr = net, lr

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(self.net(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)


@pytest.mark.parametrize("algorithm", ["norm", "value"])
def test_accumulation_and_clipping_equal_lightnings_automatic_optimization(algorithm, make_cfg):
    steps, accumulate, clip = 12, 2, 0.05
    options = ["model=mlp", "optimizer=sgd", "optimizer.lr=0.1", "logger=csv", "callbacks=none"]
    options += [f"trainer.max_steps={steps}", "eval_every=6", "trainer.log_every_n_steps=6", "chunk_steps=3"]
    options += [f"+trainer.accumulate_grad_batches={accumulate}", f"+trainer.gradient_clip_val={clip}"]
    cfg = make_cfg(*options, f"+trainer.gradient_clip_algorithm={algorithm}")
    pl.seed_everything(0, verbose=False)
    run = build_run(cfg)
    datamodule, module, trainer, plan = run.datamodule, run.module, run.trainer, run.plan
    assert plan.chunk == 3 and plan.accumulate == accumulate
    trainer.fit(module, datamodule=datamodule)
    assert trainer.global_step == steps

    pl.seed_everything(0, verbose=False)
    reference = AutomaticClassifier(instantiate(module.hparams.net, seq_length=40, num_classes=10), lr=0.1)
    x, y = datamodule.splits["train"]
    stream = TrainingChunks(x, y, datamodule.batch_size, seed=cfg.seed)
    minibatches = [stream.steps(t, 1)[0] for t in range(steps * accumulate)]  # the same minibatches, in order
    automatic = pl.Trainer(
        max_steps=steps, accumulate_grad_batches=accumulate, gradient_clip_val=clip, logger=False,
        gradient_clip_algorithm=algorithm, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, limit_val_batches=0, accelerator="cpu",
    )  # fmt: skip
    automatic.fit(reference, train_dataloaders=TensorBatchList(minibatches))
    assert automatic.global_step == steps
    for (name, ours), theirs in zip(
        module.net.state_dict().items(), reference.net.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(ours, theirs, msg=name)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.devices=2", "trainer.devices=2 is invalid: must be 1 (one run trains on one device"),
        ("+trainer.num_nodes=2", "trainer.num_nodes=2 is invalid: must be 1"),
        ("+trainer.strategy=ddp", "trainer.strategy='ddp' is invalid: must be auto"),
        (
            "+trainer.limit_train_batches=5",
            "trainer.limit_train_batches is not supported here: it would count",
        ),
        (
            "+trainer.val_check_interval=100",
            "trainer.val_check_interval is not supported here: evaluation runs",
        ),
        ("+trainer.min_epochs=2", "trainer.min_epochs is not supported here"),
        ("trainer.max_steps=-1", "trainer.max_steps=-1 with trainer.max_epochs=-1 would train forever"),
        (
            "+trainer.accumulate_grad_batches=0",
            "trainer.accumulate_grad_batches=0 is invalid: must be an integer",
        ),
        (
            "+trainer.gradient_clip_algorithm=l1",
            "trainer.gradient_clip_algorithm='l1' is invalid: must be one of",
        ),
        ("+trainer.limit_val_batches=1.5", "trainer.limit_val_batches=1.5 is invalid: must be a fraction"),
    ],
)
def test_options_that_cannot_keep_their_meaning_are_refused_before_any_work(
    override, message, make_cfg, tmp_path
):
    with pytest.raises(ConfigError) as refused:
        fit(make_cfg(*QUICK, override))
    assert message in str(refused.value)
    assert not (tmp_path / "run").exists()


def test_checkpoints_hold_the_final_step_and_the_final_evaluation_counts_for_best(make_cfg, tmp_path):
    fit(make_cfg(*QUICK, "trainer.max_steps=50", "eval_every=40", run="uneven"))
    checkpoints = tmp_path / "uneven" / "checkpoints"
    assert torch.load(checkpoints / "last.ckpt", weights_only=True)["global_step"] == 50
    history = read_results(tmp_path / "uneven")["history"]
    assert [record["step"] for record in history] == [40, 50]
    best_step = max(history, key=lambda record: record["test/acc"])["step"]
    assert torch.load(checkpoints / "best.ckpt", weights_only=True)["global_step"] == best_step
    fit(make_cfg(*QUICK, "trainer.max_steps=10", "eval_every=40", run="short"))  # no periodic evaluation
    assert (
        torch.load(tmp_path / "short" / "checkpoints" / "best.ckpt", weights_only=True)["global_step"] == 10
    )


def test_progress_bar_counts_optimizer_steps(make_cfg, monkeypatch):
    out = io.StringIO()
    real_tqdm = progress.tqdm
    monkeypatch.setattr(
        progress, "tqdm", lambda **kwargs: real_tqdm(**kwargs | {"file": out, "disable": False})
    )
    run = build_run(make_cfg(*QUICK, "trainer.max_steps=100", "trainer.enable_progress_bar=true"))
    datamodule, module, trainer = run.datamodule, run.module, run.trainer
    assert isinstance(trainer.progress_bar_callback, progress.StepProgressBar)
    trainer.fit(module, datamodule=datamodule)
    text = out.getvalue()
    assert "100/100" in text and "step/s" in text and "train loss" in text and "test acc" in text


def test_removing_every_configured_callback_still_reports_the_run(make_cfg, tmp_path):
    fit(make_cfg(*QUICK, "trainer.max_steps=20", "~callbacks.best_checkpoint", "~callbacks.last_checkpoint"))
    results = read_results(tmp_path / "run")
    assert results["status"] == "ok" and [record["step"] for record in results["history"]] == [20]
