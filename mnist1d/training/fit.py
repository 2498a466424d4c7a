"""One training run: config -> DataModule + Classifier -> Trainer -> results.json. The only training path."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint

from mnist1d.errors import DiskFullError, disk_full, disk_full_names
from mnist1d.records import (
    RESULTS_FILE,
    STATUS_FAILED,
    STATUS_INTERRUPTED,
    STATUS_OK,
    TrainRecord,
    library_versions,
    write_run,
)
from mnist1d.training import engine
from mnist1d.training.callbacks import DivergenceGuard, EvaluateLastStep, InterruptCheckpoint, RunRecorder
from mnist1d.training.checkpoint_io import (
    CHECKPOINTS_DIR,
    AtomicCheckpointIO,
    disk_full_advice,
    wait_for_writes,
)
from mnist1d.training.classifier import Classifier
from mnist1d.training.datamodule import MNIST1DDataModule
from mnist1d.training.engine import StepPlan
from mnist1d.training.loggers import finish_wandb, log_confusion_matrix
from mnist1d.training.outputs import closing_lines, save_confusion_figure
from mnist1d.training.preemption import cluster_plugins
from mnist1d.training.quiet import silence_harmless_messages
from mnist1d.training.validation import validate

log = logging.getLogger(__name__)


def container(node: DictConfig | None) -> dict[str, Any] | None:
    """A config node as plain dicts: what the Classifier saves as hyperparameters in every checkpoint."""
    return None if node is None else OmegaConf.to_container(node, resolve=True)


CUBLAS_WORKSPACE = ("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # what Lightning sets for deterministic=true


def prepare_determinism(trainer_cfg: DictConfig) -> None:
    """`trainer.deterministic=true` on a GPU also needs cuBLAS's fixed workspace, which cuBLAS reads when CUDA
    first uses it: set it before any CUDA work of this process (Lightning sets it only when it builds the
    Trainer). Where CUDA already ran (an earlier job of a multirun in this process), say that the setting
    may come too late for cuBLAS."""
    if not trainer_cfg.get("deterministic"):
        return
    name, value = CUBLAS_WORKSPACE
    if name not in os.environ and torch.cuda.is_initialized():
        log.warning(
            "trainer.deterministic=true: CUDA already ran in this process, so cuBLAS may ignore %s=%s; "
            "run this job in its own process (e.g. launcher=joblib) for bit-identical reruns",
            name,
            value,
        )
    os.environ.setdefault(name, value)


@dataclass(frozen=True)
class BuiltRun:
    """What `build` makes for one run: the parts `Trainer.fit` takes, the plan, and the callbacks whose state
    the run's record reads afterwards."""

    datamodule: MNIST1DDataModule
    module: Classifier
    trainer: pl.Trainer
    plan: StepPlan
    recorder: RunRecorder
    interrupt: InterruptCheckpoint
    cuda_graphs: engine.CudaGraphs


def build(cfg: DictConfig, datamodule: MNIST1DDataModule) -> BuiltRun:
    """Instantiate the classifier around the chosen net, the Trainer and the step plan for `datamodule`.

    The Trainer is built before the loggers, so that a Lightning config error surfaces before a W&B run
    starts; `fast_dev_run` (Lightning's debug mode) logs nowhere, as in Lightning.
    """
    plan = engine.make_plan(cfg, datamodule.batches_per_epoch)
    datamodule.plan = plan
    trainer_cfg = cfg.trainer
    module = Classifier(
        net=container(cfg.model),
        optimizer=container(cfg.optimizer),
        scheduler=container(cfg.get("scheduler")),
        seq_length=datamodule.seq_length,
        num_classes=datamodule.num_classes,
        eval_split=datamodule.eval_split,
        log_every=plan.log_every,
        accumulate=plan.accumulate,
        gradient_clip_val=trainer_cfg.get("gradient_clip_val"),
        gradient_clip_algorithm=trainer_cfg.get("gradient_clip_algorithm"),
    )
    if cfg.compile:
        module.net.compile()  # in place: checkpoints keep the plain net's parameter names
    checkpointing = trainer_cfg.get("enable_checkpointing", True)
    callbacks = [instantiate(c) for c in cfg.callbacks.values()]
    callbacks = [c for c in callbacks if checkpointing or not isinstance(c, ModelCheckpoint)]
    recorder = RunRecorder(plan.total_steps)
    interrupt = InterruptCheckpoint(Path(cfg.paths.output_dir) / CHECKPOINTS_DIR)
    # a capture waits for the background checkpoint writes, which copy tensors from the device
    cuda_graphs = engine.CudaGraphs(
        cfg.get("cuda_graphs", False), cfg.compile, before_capture=wait_for_writes
    )
    callbacks += [recorder, EvaluateLastStep(plan.total_steps), interrupt, DivergenceGuard(), cuda_graphs]
    progress_bar = trainer_cfg.get("enable_progress_bar", False)
    if progress_bar:
        callbacks.append(engine.StepProgressBar(plan.total_steps))
    trainer = instantiate(
        trainer_cfg,
        callbacks=callbacks,
        logger=False,
        # Lightning adds a ModelCheckpoint of its own unless told that the callbacks config chose none
        enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks),
        enable_progress_bar=progress_bar,
        # every checkpoint (last, best, interrupt) is written atomically, by a background thread unless W&B
        # uploads checkpoint files as they are saved; on SLURM, Lightning neither saves nor requeues
        # (mnist1d/training/preemption.py)
        plugins=[
            *instantiate(trainer_cfg.get("plugins") or []),
            AtomicCheckpointIO(background=not OmegaConf.select(cfg, "logger.wandb.log_model", default=False)),
            *cluster_plugins(),
        ],
        **engine.trainer_arguments(trainer_cfg, plan),
    )
    engine.check(trainer)
    if not plan.fast_dev_run:
        trainer.loggers = [logger for logger in (instantiate(c) for c in cfg.logger.values()) if logger]
    return BuiltRun(datamodule, module, trainer, plan, recorder, interrupt, cuda_graphs)


def measurements(run: BuiltRun) -> dict[str, Any]:
    """The record's accuracies and timings of a (possibly unfinished) run, from its RunRecorder."""
    trainer, recorder, plan = run.trainer, run.recorder, run.plan
    key = f"{run.module.eval_split}/acc"
    accuracies = [evaluation[key] for evaluation in recorder.history if key in evaluation]
    final_test = trainer.callback_metrics.get("final/test_acc")
    return {
        "steps": trainer.global_step,
        "epochs": trainer.global_step * plan.accumulate / plan.batches_per_epoch,
        "final_acc": accuracies[-1] if accuracies else None,
        "best_acc": max(accuracies, default=None),
        "final_test_acc": None if final_test is None else float(final_test),
        "history": recorder.history,
        "fit_time_s": recorder.fit_seconds,
        "fit_started_at": recorder.fit_started_at,
        "steps_per_s": recorder.steps_this_process / recorder.fit_seconds if recorder.fit_seconds else None,
        "cuda_graphs": run.cuda_graphs.captured,
        **run.module.final_report,
    }


def fit(cfg: DictConfig) -> float | None:
    """Train, evaluate and write results.json; returns the final evaluation accuracy (what sweepers optimise).

    Accuracies are fractions in [0, 1]; `final_acc`/`best_acc`/`history` come from the evaluation split
    (`eval_split`), `final_test_acc` from the test split after training.
    """
    started = time.perf_counter()
    silence_harmless_messages()
    datamodule = validate(cfg)
    run_dir = Path(cfg.paths.output_dir)
    (run_dir / RESULTS_FILE).unlink(
        missing_ok=True
    )  # the config is accepted: a rerun must not leave a stale status
    resolved = OmegaConf.to_container(cfg, resolve=True)
    if cfg.get("num_threads"):
        torch.set_num_threads(cfg.num_threads)
    prepare_determinism(cfg.trainer)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    run = build(cfg, datamodule)
    trainer, module = run.trainer, run.module
    record = TrainRecord(
        model=cfg.model_name,
        seed=cfg.seed,
        max_steps=run.plan.total_steps,
        fast_dev_run=run.plan.fast_dev_run,
        eval_split=datamodule.eval_split,
        parameters=sum(p.numel() for p in module.net.parameters()),
        accelerator=str(trainer.strategy.root_device),
        status=STATUS_FAILED,
        config=resolved,
    )
    try:
        for logger in trainer.loggers:
            logger.log_hyperparams(resolved)
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.ckpt_path, weights_only=True)
        trainer.test(module, datamodule=datamodule, verbose=False)
        title = f"{cfg.model_name}, step {trainer.global_step}: test confusion matrix"
        png = save_confusion_figure(module.final_report["confusion_matrix"], run_dir, title)
        log_confusion_matrix(trainer.loggers, module.final_report["confusion_matrix"], png)
        record.status = STATUS_OK
    except Exception as error:
        full = disk_full(error, run_dir, disk_full_advice(run_dir / CHECKPOINTS_DIR))
        if full is None:
            record.error = f"{type(error).__name__}: {error}"
            raise
        # Out of space: the run itself is fine and goes on from its last checkpoint once there is space.
        record.status, record.error = STATUS_INTERRUPTED, f"{type(full).__name__}: {full}"
        if full is error:
            raise
        raise full from error
    except (KeyboardInterrupt, SystemExit) as interruption:  # Lightning's SIGTERMException is a SystemExit
        record.status, record.error = STATUS_INTERRUPTED, run.interrupt.describe(trainer)
        raise SystemExit(run.interrupt.exit_code) from interruption
    finally:
        for name, value in measurements(run).items():
            setattr(record, name, value)
        record.wall_time_s, record.versions = time.perf_counter() - started, library_versions()
        try:
            write_results(run_dir, record)
        finally:
            finish_wandb(trainer.loggers)
            for line in closing_lines(record, run_dir):
                log.info(line)
    return record.final_acc


def write_results(run_dir: Path, record: TrainRecord) -> None:
    """Write results.json. On a full disk the file is not written (a run that completed then stops with
    `DiskFullError`, resumable from its last checkpoint); a run that already failed or stopped keeps its own
    error, and this one is logged."""
    path = run_dir / RESULTS_FILE
    try:
        with disk_full_names(path, disk_full_advice(run_dir / CHECKPOINTS_DIR)):
            write_run(run_dir, record)
    except DiskFullError as error:
        if record.status != STATUS_OK:
            log.error("%s", error)
            return
        record.status, record.error = STATUS_INTERRUPTED, f"{type(error).__name__}: {error}"
        raise
