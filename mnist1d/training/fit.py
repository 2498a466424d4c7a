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
    clear_run,
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
from mnist1d.training.classifier import Classifier, read_checkpoint
from mnist1d.training.datamodule import MNIST1DDataModule
from mnist1d.training.engine import StepPlan
from mnist1d.training.eval_norm import split_net_config
from mnist1d.training.loggers import finish_wandb, log_confusion_matrix, start_loggers
from mnist1d.training.outputs import closing_lines, save_confusion_figure
from mnist1d.training.preemption import cluster_plugins
from mnist1d.training.quiet import silence_harmless_messages
from mnist1d.training.validation import validate
from mnist1d.trusted import check_hyperparameters

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


def build(cfg: DictConfig, datamodule: MNIST1DDataModule, resume_step: int | None = None) -> BuiltRun:
    """Instantiate the classifier around the chosen net, the Trainer and the step plan for `datamodule`.

    The Trainer is built before the loggers, so that a Lightning config error surfaces before a W&B run
    starts; `fast_dev_run` (Lightning's debug mode) logs nowhere, as in Lightning. A run resumed from a
    checkpoint of step `resume_step` continues each logger's history (`start_loggers`).
    """
    plan = engine.make_plan(cfg, datamodule.batches_per_epoch)
    datamodule.plan = plan
    module = Classifier(**classifier_arguments(cfg, datamodule, plan))
    if cfg.compile:
        module.net.compile()  # in place: checkpoints keep the plain net's parameter names
    interrupt = InterruptCheckpoint(Path(cfg.paths.output_dir) / CHECKPOINTS_DIR)
    recorder, cuda_graphs, callbacks = run_callbacks(cfg, plan, interrupt, DivergenceGuard())
    trainer = make_trainer(cfg, plan, [*configured_callbacks(cfg), *callbacks])
    if not plan.fast_dev_run:
        trainer.loggers = start_loggers(cfg.logger, resume_step)
    return BuiltRun(datamodule, module, trainer, plan, recorder, interrupt, cuda_graphs)


def classifier_arguments(cfg: DictConfig, datamodule: MNIST1DDataModule, plan: StepPlan) -> dict[str, Any]:
    """What the Classifier of `cfg` is built from (and saves as its hyperparameters)."""
    net, eval_norm = split_net_config(container(cfg.model))
    return {
        "net": net,
        "optimizer": container(cfg.optimizer),
        "scheduler": container(cfg.get("scheduler")),
        "seq_length": datamodule.seq_length,
        "num_classes": datamodule.num_classes,
        "eval_split": datamodule.eval_split,
        "log_every": plan.log_every,
        "accumulate": plan.accumulate,
        "gradient_clip_val": cfg.trainer.get("gradient_clip_val"),
        "gradient_clip_algorithm": cfg.trainer.get("gradient_clip_algorithm"),
        "eval_norm": eval_norm,
    }


def configured_callbacks(cfg: DictConfig) -> list[pl.Callback]:
    """The callbacks config's callbacks; no checkpoint callbacks with `trainer.enable_checkpointing=false`."""
    checkpointing = cfg.trainer.get("enable_checkpointing", True)
    callbacks = [instantiate(c) for c in cfg.callbacks.values()]
    return [c for c in callbacks if checkpointing or not isinstance(c, ModelCheckpoint)]


def run_callbacks(
    cfg: DictConfig, plan: StepPlan, interrupt: InterruptCheckpoint, guard: DivergenceGuard
) -> tuple[RunRecorder, engine.CudaGraphs, list[pl.Callback]]:
    """The callbacks every run has, whatever the callbacks config says (the recorder and the CUDA-graphs
    callback, whose state the record reads afterwards, also on their own)."""
    recorder = RunRecorder(plan.total_steps)
    # a capture waits for the background checkpoint writes, which copy tensors from the device
    cuda_graphs = engine.CudaGraphs(
        cfg.get("cuda_graphs", False), cfg.compile, before_capture=wait_for_writes
    )
    callbacks = [recorder, EvaluateLastStep(plan.total_steps), interrupt, guard, cuda_graphs]
    if cfg.trainer.get("enable_progress_bar", False):
        callbacks.append(engine.StepProgressBar(plan.total_steps))
    return recorder, cuda_graphs, callbacks


def make_trainer(cfg: DictConfig, plan: StepPlan, callbacks: list[pl.Callback]) -> pl.Trainer:
    """The Lightning Trainer of `cfg.trainer` carrying out `plan`, with `callbacks` and no loggers yet."""
    trainer_cfg = cfg.trainer
    trainer = instantiate(
        trainer_cfg,
        callbacks=callbacks,
        logger=False,
        # Lightning adds a ModelCheckpoint of its own unless told that the callbacks config chose none
        enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks),
        enable_progress_bar=trainer_cfg.get("enable_progress_bar", False),
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
    engine.cheap_cuda_check(trainer)
    return trainer


def resume_point(cfg: DictConfig) -> int | None:
    """The step the run resumes from (`ckpt_path`), or None for a fresh start. The checkpoint is read as
    data first: one whose hyperparameters name other code than this config's net or the allowlist is
    refused (`mnist1d.trusted`), although a resume builds everything from the config."""
    if cfg.ckpt_path is None:
        return None
    saved = read_checkpoint(cfg.ckpt_path)
    check_hyperparameters(saved.get("hyper_parameters", {}), cfg.ckpt_path, trusted=[cfg.model._target_])
    return int(saved["global_step"])


def measurements(run: BuiltRun) -> dict[str, Any]:
    """The record's accuracies and timings of a (possibly unfinished) run, from its RunRecorder."""
    final_test = run.trainer.callback_metrics.get("final/test_acc")
    return {
        **progress(run.trainer.global_step, run.plan),
        **scores(
            run.recorder.history, run.module.eval_split, None if final_test is None else float(final_test)
        ),
        **timing(run.recorder, run.cuda_graphs),
        **run.module.final_report,
    }


def progress(steps: int, plan: StepPlan) -> dict[str, Any]:
    """How far a run got: optimizer steps, and passes over the training split."""
    return {"steps": steps, "epochs": steps * plan.accumulate / plan.batches_per_epoch}


def scores(history: list[dict[str, float]], eval_split: str, final_test_acc: float | None) -> dict[str, Any]:
    """A run's accuracies: the last and best of its evaluation `history`, and the final test's."""
    accuracies = [
        evaluation[f"{eval_split}/acc"] for evaluation in history if f"{eval_split}/acc" in evaluation
    ]
    return {
        "final_acc": accuracies[-1] if accuracies else None,
        "best_acc": max(accuracies, default=None),
        "final_test_acc": final_test_acc,
        "history": history,
    }


def timing(recorder: RunRecorder, cuda_graphs: engine.CudaGraphs) -> dict[str, Any]:
    """How long the training took and how fast it went, and whether CUDA graphs replayed its step."""
    return {
        "fit_time_s": recorder.fit_seconds,
        "fit_started_at": recorder.fit_started_at,
        "steps_per_s": recorder.steps_this_process / recorder.fit_seconds if recorder.fit_seconds else None,
        "cuda_graphs": cuda_graphs.captured,
    }


def new_record(
    cfg: DictConfig, plan: StepPlan, eval_split: str, parameters: int, device: str, resolved: dict[str, Any]
) -> TrainRecord:
    """The record of a run before it trains (it has failed until it completes)."""
    return TrainRecord(
        model=cfg.model_name,
        seed=cfg.seed,
        max_steps=plan.total_steps,
        fast_dev_run=plan.fast_dev_run,
        eval_split=eval_split,
        parameters=parameters,
        accelerator=device,
        status=STATUS_FAILED,
        config=resolved,
    )


def fit(cfg: DictConfig) -> float | None:
    """Train, evaluate and write results.json; returns the final evaluation accuracy (what sweepers optimise).

    Accuracies are fractions in [0, 1]; `final_acc`/`best_acc`/`history` come from the evaluation split
    (`eval_split`), `final_test_acc` from the test split after training.
    """
    started = time.perf_counter()
    silence_harmless_messages()
    datamodule = validate(cfg)
    run_dir = Path(cfg.paths.output_dir)
    resume_step = resume_point(cfg)  # a crafted checkpoint is refused here, before anything is touched
    clear_run(run_dir)  # the config is accepted: no stale status may stay
    resolved = OmegaConf.to_container(cfg, resolve=True)
    if cfg.get("num_threads"):
        torch.set_num_threads(cfg.num_threads)
    prepare_determinism(cfg.trainer)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    run = build(cfg, datamodule, resume_step)
    trainer, module = run.trainer, run.module
    parameters = sum(p.numel() for p in module.net.parameters())
    device = str(trainer.strategy.root_device)
    record = new_record(cfg, run.plan, datamodule.eval_split, parameters, device, resolved)
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
