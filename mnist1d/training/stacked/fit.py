"""One stack: the configs of its members -> StackedDataModule + StackedClassifier -> one Trainer -> each
member's results.json, checkpoints, logger rows and confusion matrix, in its own run directory."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from mnist1d.errors import disk_full
from mnist1d.records import (
    STATUS_FAILED,
    STATUS_INTERRUPTED,
    STATUS_OK,
    TrainRecord,
    clear_run,
    library_versions,
    read_run,
)
from mnist1d.training import engine
from mnist1d.training.callbacks import EvalCheckpoint, InterruptCheckpoint
from mnist1d.training.checkpoint_io import disk_full_advice
from mnist1d.training.fit import (
    classifier_arguments,
    configured_callbacks,
    make_trainer,
    new_record,
    prepare_determinism,
    progress,
    run_callbacks,
    scores,
    timing,
    write_results,
)
from mnist1d.training.job import (
    FINAL_STATUSES,
    checkpoint_step,
    completed_record,
    move_aside,
    remove_partial_writes,
)
from mnist1d.training.loggers import finish_wandb, log_confusion_matrix, start_loggers
from mnist1d.training.outputs import closing_lines, save_confusion_figure
from mnist1d.training.quiet import silence_harmless_messages
from mnist1d.training.stacked.data import StackedDataModule
from mnist1d.training.stacked.members import Member, MemberRuns
from mnist1d.training.stacked.module import StackedClassifier
from mnist1d.training.validation import validate

log = logging.getLogger(__name__)
STACKS_DIR = "stacks"  # <sweep dir>/stacks/<stack>/stack.ckpt: what a stack resumes from
STACK_CHECKPOINT = "stack"
Outcome = float | None | BaseException  # a member's final evaluation accuracy, or the error it failed with


def stack_dir(sweep_dir: Path, run_dirs: list[Path]) -> Path:
    """Where the stack of these members keeps its own checkpoint: named after its first member and size."""
    return sweep_dir / STACKS_DIR / f"{run_dirs[0].name}+{len(run_dirs) - 1}"


def train_stack(cfgs: list[DictConfig], sweep_dir: Path) -> list[Outcome]:
    """Train the runs of `cfgs` (resolved train.py configs that differ only in their seed) as one stack, as
    `mnist1d.training.job.run_job` runs a single job: completed members are not trained again (with
    `skip_completed`), an unfinished stack resumes from its checkpoint, and each member ends with its own
    results.json. Returns each member's outcome."""
    run_dirs = [Path(cfg.paths.output_dir) for cfg in cfgs]
    done = [completed_record(cfg, run_dir) for cfg, run_dir in zip(cfgs, run_dirs, strict=True)]
    if cfgs[0].skip_completed and all(done):
        log.info("Skipping the stack of %s: every member already completed", [d.name for d in run_dirs])
        return [record.final_acc for record in done]
    directory = stack_dir(sweep_dir, run_dirs)
    for folder in (*run_dirs, directory):
        remove_partial_writes(folder)
    resume = resume_checkpoint(directory, run_dirs) if cfgs[0].skip_completed else None
    if resume is not None:
        log.info("Resuming the stack from %s (step %d)", *resume)
    ckpt_path, step = resume or (None, None)
    return StackRun(cfgs, directory, step).train(ckpt_path)


def resume_checkpoint(directory: Path, run_dirs: list[Path]) -> tuple[Path, int] | None:
    """The stack's checkpoint (and its step) when some member stopped without a final status, as a single
    job resumes (`run.resume_checkpoint`); None when every member ended, or there is none to read."""
    path = directory / f"{STACK_CHECKPOINT}.ckpt"
    ended = [(record := read_run(d)) is not None and record.status in FINAL_STATUSES for d in run_dirs]
    if all(ended) or not path.exists():
        return None
    step = checkpoint_step(path)
    if step is None:
        log.warning("%s cannot be loaded: moved to %s; the stack starts again", path, move_aside(path).name)
        return None
    return path, step


class StackRun:
    """The stack of `cfgs` built for training (module docstring); `train` runs it."""

    def __init__(self, cfgs: list[DictConfig], directory: Path, resume_step: int | None = None) -> None:
        self.started = time.perf_counter()
        silence_harmless_messages()
        self.cfgs, self.cfg, self.directory = cfgs, cfgs[0], directory
        member_datamodules = [validate(cfg) for cfg in cfgs]
        self.run_dirs = [Path(cfg.paths.output_dir) for cfg in cfgs]
        for run_dir in self.run_dirs:
            clear_run(run_dir)  # the config is accepted: no stale status may stay
        self.resolved = [OmegaConf.to_container(cfg, resolve=True) for cfg in cfgs]
        if self.cfg.get("num_threads"):
            torch.set_num_threads(self.cfg.num_threads)
        prepare_determinism(self.cfg.trainer)
        seeds = [cfg.seed for cfg in cfgs]
        # the arguments the first member's DataModule was built with, whatever factory built it (`_target_`)
        data_args = dict(member_datamodules[0].hparams)
        data_args.pop("shuffle_seed")
        self.datamodule = StackedDataModule([cfg.data.shuffle_seed for cfg in cfgs], **data_args)
        self.plan = engine.make_plan(self.cfg, self.datamodule.batches_per_epoch)
        self.datamodule.plan = self.plan
        self.module = StackedClassifier(seeds, **classifier_arguments(self.cfg, self.datamodule, self.plan))
        pl.seed_everything(seeds[0], workers=True, verbose=False)  # the stack's own random numbers (dropout)
        self.members = [
            Member(cfg.seed, run_dir, dict(datamodule.hparams), [*configured_callbacks(cfg)])
            for cfg, run_dir, datamodule in zip(cfgs, self.run_dirs, member_datamodules, strict=True)
        ]
        saves = [self.stack_checkpoint()] if any(member.checkpoints for member in self.members) else []
        self.interrupt = InterruptCheckpoint(directory, STACK_CHECKPOINT)
        self.recorder, self.cuda_graphs, callbacks = run_callbacks(
            self.cfg, self.plan, self.interrupt, MemberRuns(self.members)
        )
        self.trainer = make_trainer(self.cfg, self.plan, [*saves, *callbacks])
        if not self.plan.fast_dev_run:
            for member, cfg in zip(self.members, cfgs, strict=True):
                # one W&B run per member, each continuing its history on a resume
                member.loggers = start_loggers(cfg.logger, resume_step, reinit="create_new")
        self.module.member_loggers = [member.loggers for member in self.members]

    def stack_checkpoint(self) -> EvalCheckpoint:
        """The stack's own checkpoint, saved at every evaluation (what it resumes from); saving it writes the
        members' checkpoints too (MemberRuns)."""
        return EvalCheckpoint(
            dirpath=self.directory, filename=STACK_CHECKPOINT, save_top_k=1, enable_version_counter=False
        )

    def train(self, ckpt_path: Path | None) -> list[Outcome]:
        """Fit, test and write every member's results.json; each member's outcome."""
        records = [self.new_record(k) for k in range(len(self.members))]
        try:
            for member, resolved in zip(self.members, self.resolved, strict=True):
                for logger in member.loggers:
                    logger.log_hyperparams(resolved)
            self.trainer.fit(self.module, datamodule=self.datamodule, ckpt_path=ckpt_path, weights_only=True)
            self.trainer.test(self.module, datamodule=self.datamodule, verbose=False)
            for k in self.module.living():
                self.finish(k)
                records[k].status = STATUS_OK
        except Exception as error:
            full = disk_full(error, self.directory, disk_full_advice(self.directory))
            for k in self.module.living():
                if full is None:
                    records[k].error = f"{type(error).__name__}: {error}"
                else:  # out of space: the stack goes on from its checkpoint once there is space
                    records[k].status, records[k].error = STATUS_INTERRUPTED, f"{type(full).__name__}: {full}"
            raise
        except (
            KeyboardInterrupt,
            SystemExit,
        ) as interruption:  # Lightning's SIGTERMException is a SystemExit
            for k in self.module.living():
                records[k].status, records[k].error = (
                    STATUS_INTERRUPTED,
                    self.interrupt.describe(self.trainer),
                )
            raise SystemExit(self.interrupt.exit_code) from interruption
        finally:
            self.write(records)
        return [
            member.failure or record.final_acc for member, record in zip(self.members, records, strict=True)
        ]

    def new_record(self, k: int) -> TrainRecord:
        parameters = sum(p[k].numel() for p in self.module.net.parameters())
        device = str(self.trainer.strategy.root_device)
        record = new_record(
            self.cfgs[k], self.plan, self.module.eval_split, parameters, device, self.resolved[k]
        )
        record.stacked_with = [d.name for d in self.run_dirs if d != self.run_dirs[k]]
        return record

    def finish(self, k: int) -> None:
        """Member k's confusion matrix figure, also to its W&B run."""
        matrix = self.module.members[k].final_report["confusion_matrix"]
        title = f"{self.cfgs[k].model_name}, step {self.trainer.global_step}: test confusion matrix"
        png = save_confusion_figure(matrix, self.run_dirs[k], title)
        log_confusion_matrix(self.members[k].loggers, matrix, png)

    def write(self, records: list[TrainRecord]) -> None:
        """Every member's results.json, however the stack ended (a member that failed says why)."""
        for k, (member, record) in enumerate(zip(self.members, records, strict=True)):
            if member.failure is not None:
                record.status, record.error = (
                    STATUS_FAILED,
                    f"{type(member.failure).__name__}: {member.failure}",
                )
            test = self.module.tests[k]
            steps = self.trainer.global_step if member.failed_at is None else member.failed_at
            fields = progress(steps, self.plan) | timing(self.recorder, self.cuda_graphs)
            fields |= self.module.members[k].final_report
            fields |= scores(member.history, self.module.eval_split, test and test["final/test_acc"])
            for name, value in fields.items():
                setattr(record, name, value)
            record.wall_time_s, record.versions = time.perf_counter() - self.started, library_versions()
            try:
                write_results(member.run_dir, record)
            finally:
                finish_wandb(member.loggers)
                for line in closing_lines(record, member.run_dir):
                    log.info(line)
