"""Score a trained model: `python eval.py ckpt_path=...` (conf/train/eval.yaml), as the template's eval.py.

The checkpoint carries everything needed to rebuild the model (`Classifier.load_from_checkpoint`) and the
data it was trained on; the test split comes from the data config given here, so a model can be scored on
other generated data (another seed, the shuffled variant) as easily as on its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mnist1d.dataset_config import DatasetConfig
from mnist1d.errors import ConfigError, disk_full_names
from mnist1d.records import STATUS_OK, EvalRecord, library_versions, write_run
from mnist1d.rules import Rule, one_of, problems
from mnist1d.training.classifier import Classifier
from mnist1d.training.datamodule import MNIST1DDataModule
from mnist1d.training.engine import StepPlan, eval_part
from mnist1d.training.eval_norm import EVAL_NORMS
from mnist1d.training.outputs import closing_lines, save_confusion_figure
from mnist1d.training.quiet import silence_harmless_messages
from mnist1d.training.validation import RUN_RULES, config_problems, readable_checkpoint, unnamed

log = logging.getLogger(__name__)


# What eval.py's own keys must be (see mnist1d/rules.py), checked before anything is loaded.
RULES = (
    Rule("ckpt_path", "a readable checkpoint file (e.g. .../best.ckpt)", readable_checkpoint, required=True),
    Rule("model.eval_norm", f"null or {one_of(EVAL_NORMS)}", lambda v: v is None or v in EVAL_NORMS),
    Rule(
        "trusted_nets",
        "a list of net classes by dotted path (e.g. [my_package.nets.BigNet])",
        lambda v: isinstance(v, Sequence) and not isinstance(v, str) and all(isinstance(x, str) for x in v),
    ),
)


def validate(cfg: DictConfig) -> None:
    """Raise `ConfigError` listing every problem of an eval config, before anything is loaded or written (the
    preflight runs this before Hydra creates the run directory, whose name is read from the checkpoint's
    path: so the checkpoint is checked first)."""
    found = problems(RULES, cfg)
    if not found:
        found = problems(RUN_RULES, cfg)
        found += unnamed(config_problems(cfg, "eval"), found)
    if found:
        raise ConfigError(found)


def model_name(net_config: dict[str, Any]) -> str:
    """The config name of a net (`mnist1d.models.cnn.CNN` -> `cnn`): model files are named like configs."""
    return net_config["_target_"].rsplit(".", 2)[-2]


def same_data(trained_on: dict[str, Any], config: DatasetConfig) -> bool | None:
    """Whether the generator arguments a checkpoint was trained with are `config`'s (None: not recorded)."""
    try:
        return DatasetConfig(**{name: trained_on[name] for name in config.generator_args()}) == config
    except KeyError:
        return None


def evaluate(cfg: DictConfig) -> float:
    """Score `cfg.ckpt_path` on the test split of `cfg.data`; writes results.json; returns the accuracy."""
    started = time.perf_counter()
    silence_harmless_messages()
    validate(cfg)
    if cfg.get("num_threads"):
        torch.set_num_threads(cfg.num_threads)
    pl.seed_everything(cfg.seed, verbose=False)
    eval_norm = OmegaConf.select(cfg, "model.eval_norm")
    scoring = {} if eval_norm is None else {"eval_norm": eval_norm}  # else the run's own
    module = Classifier.load_from_checkpoint(
        cfg.ckpt_path,
        map_location="cpu",
        weights_only=True,
        trusted_nets=cfg.get("trusted_nets") or (),
        **scoring,
    )  # the config you pass may vouch for nets outside the package; the checkpoint cannot
    checkpoint = torch.load(cfg.ckpt_path, map_location="cpu", weights_only=True)
    datamodule: MNIST1DDataModule = instantiate(cfg.data)
    if datamodule.seq_length != module.hparams.seq_length:
        raise ConfigError([
            f"data.final_seq_length={datamodule.seq_length} is invalid for this checkpoint: the model was "
            f"trained on sequences of length {module.hparams.seq_length}"
        ])  # fmt: skip
    test_part = eval_part(cfg.trainer, "limit_test_batches")
    datamodule.plan = replace(StepPlan.one_step_per_call(datamodule.batches_per_epoch), test_part=test_part)
    loggers = [logger for logger in (instantiate(c) for c in cfg.logger.values()) if logger]
    trainer = pl.Trainer(
        accelerator=cfg.trainer.accelerator,
        devices=1,
        precision=cfg.trainer.precision,
        logger=loggers,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=cfg.paths.output_dir,
    )
    trainer.test(module, datamodule=datamodule, verbose=False)
    out_dir = Path(cfg.paths.output_dir)
    trained_on = checkpoint.get("datamodule_hyper_parameters", {})
    report = module.final_report
    record = EvalRecord(
        model=model_name(module.hparams.net),
        checkpoint=str(Path(cfg.ckpt_path).resolve()),
        steps=checkpoint["global_step"],
        status=STATUS_OK,
        parameters=sum(p.numel() for p in module.net.parameters()),
        accelerator=str(trainer.strategy.root_device),
        final_test_acc=float(trainer.callback_metrics["final/test_acc"]),
        final_test_loss=float(trainer.callback_metrics["final/test_loss"]),
        eval_norm=module.hparams.eval_norm,
        per_class_acc=report["per_class_acc"],
        confusion_matrix=report["confusion_matrix"],
        same_data_as_training=same_data(trained_on, datamodule.config),
        trained_on=trained_on,
        wall_time_s=time.perf_counter() - started,
        versions=library_versions(),
        config=OmegaConf.to_container(cfg, resolve=True),
    )
    title = f"{record.model}, step {record.steps}: test confusion matrix"
    with disk_full_names(out_dir, "free some space, then run the evaluation again"):
        save_confusion_figure(record.confusion_matrix, out_dir, title)
        write_run(out_dir, record)
    for line in closing_lines(record, out_dir):
        log.info(line)
    return record.final_test_acc
