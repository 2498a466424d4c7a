"""One training run: config -> DataModule + Classifier -> Trainer -> results.json. The only training path."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint

from mnist1d.atomic import write_json
from mnist1d.training import lightning_internals
from mnist1d.training.callbacks import DivergenceGuard, InterruptCheckpoint, RunSummary
from mnist1d.training.classifier import Classifier
from mnist1d.training.loggers import finish_wandb
from mnist1d.training.results import (
    RESULTS_FILE,
    STATUS_FAILED,
    STATUS_INTERRUPTED,
    STATUS_OK,
    library_versions,
)
from mnist1d.training.validation import validate


def chunk_steps(cfg: DictConfig) -> int:
    """Optimizer steps per `training_step` call: the largest divisor of `cfg.chunk_steps` that also divides
    the evaluation, logging and max_steps intervals, so that every one of them ends a chunk."""
    intervals = (cfg.eval_every, cfg.trainer.log_every_n_steps, cfg.trainer.max_steps)
    return math.gcd(cfg.chunk_steps, *intervals)


def build(cfg: DictConfig) -> tuple[pl.LightningDataModule, Classifier, pl.Trainer]:
    """Instantiate the DataModule, the classifier around the chosen net, and the Trainer."""
    chunk = chunk_steps(cfg)
    datamodule = instantiate(cfg.data, chunk_steps=chunk)
    net = instantiate(cfg.model, seq_length=datamodule.seq_length, num_classes=datamodule.num_classes)
    if cfg.compile:
        net.compile()  # in place: checkpoints keep the plain net's parameter names
    scheduler = instantiate(cfg.scheduler) if cfg.get("scheduler") else None
    module = Classifier(
        net,
        instantiate(cfg.optimizer),
        scheduler,
        datamodule.num_classes,
        datamodule.eval_split,
        log_every=cfg.trainer.log_every_n_steps,
    )
    callbacks = [instantiate(c) for c in cfg.callbacks.values()]
    callbacks += [InterruptCheckpoint(Path(cfg.paths.output_dir) / "checkpoints"), DivergenceGuard()]
    loggers = [logger for logger in (instantiate(c) for c in cfg.logger.values()) if logger is not None]
    # Lightning counts these intervals in training_step calls (batches), each of which is a chunk of steps;
    # and it adds a ModelCheckpoint of its own unless told that the callbacks config chose none.
    trainer = instantiate(
        cfg.trainer,
        callbacks=callbacks,
        logger=loggers,
        val_check_interval=cfg.eval_every // chunk,
        log_every_n_steps=cfg.trainer.log_every_n_steps // chunk,
        enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks),
    )
    lightning_internals.check(trainer)
    return datamodule, module, trainer


def run_summary(trainer: pl.Trainer) -> RunSummary:
    return next(c for c in trainer.callbacks if isinstance(c, RunSummary))


def summarise(trainer: pl.Trainer, module: Classifier) -> dict[str, Any]:
    """Accuracies and timings of a (possibly unfinished) run, read from its RunSummary callback."""
    summary = run_summary(trainer)
    key = f"{module.eval_split}/acc"
    accuracies = [record[key] for record in summary.history if key in record]
    final_test = trainer.callback_metrics.get("final/test_acc")
    return {
        "steps": trainer.global_step,
        "final_acc": accuracies[-1] if accuracies else None,
        "best_acc": max(accuracies, default=None),
        "final_test_acc": None if final_test is None else float(final_test),
        "history": summary.history,
        "fit_time_s": summary.fit_seconds,
        "fit_started_at": summary.fit_started_at,
        "steps_per_s": summary.steps_this_process / summary.fit_seconds if summary.fit_seconds else None,
        **module.final_report,
    }


def train(cfg: DictConfig) -> float | None:
    """Train, evaluate and write results.json; returns the final evaluation accuracy (what sweepers optimise).

    Accuracies are fractions in [0, 1]; `final_acc`/`best_acc`/`history` come from the evaluation split
    (`eval_split`), `final_test_acc` from the test split after training.
    """
    started = time.perf_counter()
    validate(cfg)
    results_path = Path(cfg.paths.output_dir) / RESULTS_FILE
    results_path.unlink(missing_ok=True)  # the config is accepted: a rerun must not leave a stale status
    resolved = OmegaConf.to_container(cfg, resolve=True)
    if cfg.get("num_threads"):
        torch.set_num_threads(cfg.num_threads)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule, module, trainer = build(cfg)
    results: dict[str, Any] = {
        "model": cfg.model_name,
        "seed": cfg.seed,
        "max_steps": cfg.trainer.max_steps,
        "eval_split": datamodule.eval_split,
        "parameters": sum(p.numel() for p in module.net.parameters()),
        "accelerator": str(trainer.strategy.root_device),
        "status": STATUS_FAILED,
        "error": None,
    }
    try:
        for logger in trainer.loggers:
            logger.log_hyperparams(resolved)
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.ckpt_path, weights_only=True)
        if not run_summary(trainer).evaluated_last_step(trainer):
            trainer.validate(module, datamodule=datamodule, verbose=False)
        trainer.test(module, datamodule=datamodule, verbose=False)
        results["status"] = STATUS_OK
    except Exception as error:
        results["error"] = f"{type(error).__name__}: {error}"
        raise
    except (KeyboardInterrupt, SystemExit) as interruption:  # Lightning's SIGTERMException is a SystemExit
        stop = next(c for c in trainer.callbacks if isinstance(c, InterruptCheckpoint))
        results["status"], results["error"] = STATUS_INTERRUPTED, stop.describe(trainer)
        raise SystemExit(stop.exit_code) from interruption
    finally:
        results |= summarise(trainer, module)
        results |= {
            "wall_time_s": time.perf_counter() - started,
            "versions": library_versions(),
            "config": resolved,
        }
        write_json(results_path, results)
        finish_wandb(trainer.loggers)
    return results["final_acc"]
