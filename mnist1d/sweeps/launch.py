"""What `python sweep.py` does: start, resume or report a sweep of train.py jobs.

  python sweep.py                                   # the study: 7 models x 1000/2000/10000 steps x 3 seeds
  python sweep.py model=cnn,gru seed=0 launcher=joblib hydra.launcher.n_jobs=2 data=mnist1d_shuffled
  python sweep.py sweep=<kind> share_budgets=true   # another grid (conf/sweeps/sweep/<kind>.yaml)
  python sweep.py resume=outputs/sweeps/<dir>       # skip completed jobs, rerun missing or failed ones
  python sweep.py report=<dir>                      # (re)write the report of any sweep or `train.py -m` dir

Keys of conf/sweeps/sweep.yaml (and of the sweep kind: grid, fixed, report_fn) configure the sweep; every
other `key=value` is a train.py override (see conf/sweeps/sweep.yaml). The jobs run as one Hydra multirun of
train.py into the sweep directory; then summary.csv and the sweep kind's report are written there. Exit
status 0 when every job completed, 1 when some failed or are missing (the report lists them).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from hydra.errors import CompactHydraException
from omegaconf import DictConfig, OmegaConf

from mnist1d.atomic import write_json
from mnist1d.errors import DiskFullError, reported_as_message
from mnist1d.locks import SWEEP_LOCK, DirectoryLock
from mnist1d.records import STATUS_OK
from mnist1d.rules import Rule, refuse
from mnist1d.sweeps.spec import (
    LAUNCHERS,
    SLURM_LAUNCHER,
    SPEC_FILE,
    SweepSpec,
    build_spec,
    check_overrides,
    compose_sweep,
    split_arguments,
    sweep_keys,
)
from mnist1d.sweeps.summary import TIMING_FILE, collect_rows, write_summary
from mnist1d.sweeps.wandb_report import WANDB_REPORT_MODES, log_report, report_mode
from mnist1d.trusted import report_function

log = logging.getLogger("sweep")
# What the keys of conf/sweeps/sweep.yaml must be, checked before any job starts (see mnist1d/rules.py).
SWEEP_RULES = (
    Rule("launcher", f"one of {LAUNCHERS}", lambda v: v in LAUNCHERS),
    Rule("wandb_report", f"one of {WANDB_REPORT_MODES}", lambda v: str(v).lower() in WANDB_REPORT_MODES),
)
# The jobs' command: train.py's, through the package with this interpreter, so it works from any directory and
# from an installed wheel (no train.py there) and never depends on where console scripts were put (PATH).
TRAIN_COMMAND = (sys.executable, "-m", "mnist1d.cli", "train")
SWEEPS_DIR = Path("outputs/sweeps")


def new_sweep_dir(requested: str | None, name: str) -> Path:
    """A directory no other sweep uses, even one started in the same microsecond."""
    base = Path(requested) if requested else SWEEPS_DIR / f"{datetime.now():%Y-%m-%d_%H-%M-%S-%f}_{name}"
    base.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(100):
        candidate = base.with_name(f"{base.name}-{attempt}") if attempt else base
        try:
            candidate.mkdir()
            return candidate.resolve()
        except FileExistsError:
            continue
    raise FileExistsError(f"dir={base}: it and 99 numbered variants already exist")


def existing_dir(key: str, value: str) -> Path:
    path = Path(value)
    if not path.is_dir():
        raise ValueError(f"{key}={value!r} is not a directory: give an existing sweep or multirun directory")
    return path.resolve()


def resume_spec(sweep_dir: Path, sweep_overrides: list[str], train_overrides: list[str]) -> SweepSpec:
    """The saved sweep, with another launcher or launcher options if the command line gives them. What it
    runs is checked first (`check_overrides`); an entry of sweep.json repeated on the command line is
    vouched for by you."""
    spec = SweepSpec.load(sweep_dir)
    if spec is None:
        raise ValueError(f"resume={sweep_dir}: no sweep.json there, so it was not started by sweep.py")
    launcher_options = [o for o in train_overrides if o.startswith("hydra.launcher.")]
    refused = [o for o in train_overrides if o not in launcher_options and o not in spec.entries()]
    if refused:
        raise ValueError(
            "resume takes no train overrides (the sweep's own are in sweep.json) other than launcher options "
            f"and entries of sweep.json repeated as written there: got {refused}"
        )
    launcher = [o.split("=", 1)[1] for o in sweep_overrides if o.startswith("launcher=")]
    spec.launcher = launcher[-1] if launcher else spec.launcher
    spec.fixed = [o for o in spec.fixed if not o.startswith("hydra.launcher.")] + launcher_options
    check_overrides(spec, sweep_dir / SPEC_FILE, repeated=train_overrides)
    return spec


def resumed_spec(sweep_dir: Path, sweep_overrides: list[str], train_overrides: list[str]) -> SweepSpec:
    """The spec of a sweep to resume, once none of its jobs runs any more: not in the multirun of a
    driver that was killed (it holds the sweep directory's run lock: refused, naming it), nor on SLURM
    (waited for)."""
    DirectoryLock(sweep_dir).release()
    spec = resume_spec(sweep_dir, sweep_overrides, train_overrides)
    if SweepSpec.load(sweep_dir).launcher == SLURM_LAUNCHER:  # no job runs twice at once
        wait_for_slurm_jobs(sweep_dir)
    return spec


def wait_for_slurm_jobs(sweep_dir: Path) -> None:
    from mnist1d.sweeps import slurm_jobs  # the slurm extra (submitit)

    slurm_jobs.wait_for_jobs(sweep_dir)


def run_jobs(spec: SweepSpec, sweep_dir: Path, resume: bool) -> None:
    """The Hydra multirun of train.py. Its exit status is not checked: failed jobs are in the report."""
    command = [*TRAIN_COMMAND, *spec.train_arguments(sweep_dir, resume)]
    log.info("Sweep %s: %d jobs into %s\n  %s", spec.name, len(spec.jobs()), sweep_dir, " ".join(command))
    started = time.perf_counter()
    subprocess.run(command, check=False)
    if spec.launcher == SLURM_LAUNCHER:  # the multirun stops waiting at a job that ended without its result
        wait_for_slurm_jobs(sweep_dir)
    seconds = time.perf_counter() - started
    log.info("Jobs finished in %.1f s (launcher %s)", seconds, spec.launcher)
    write_json(sweep_dir / TIMING_FILE, {"launcher": spec.launcher, "jobs_wall_time_s": seconds})


def write_report(sweep_dir: Path, spec: SweepSpec | None, cfg: DictConfig) -> int:
    """summary.csv and the sweep kind's report; 0 when every run completed, else 1."""
    rows = collect_rows(sweep_dir, spec)
    if not rows:
        raise ValueError(f"{sweep_dir} holds no runs (no job directories with .hydra/ or results.json)")
    report_cfg = OmegaConf.create(spec.config) if spec else cfg
    report = report_function(report_cfg.report_fn, sweep_dir / SPEC_FILE if spec else "the sweep config")
    paths = [write_summary(sweep_dir, rows), *report(sweep_dir, rows, report_cfg)]
    mode = report_mode(cfg.wandb_report, rows)
    if mode:
        log_report(sweep_dir, rows, paths, mode)
    failed = [row for row in rows if row["status"] != STATUS_OK]
    log.info(
        "Report: %s (%d runs, %d failed or missing)", ", ".join(p.name for p in paths), len(rows), len(failed)
    )
    return 1 if failed else 0


def sweep(argv: list[str]) -> int:
    """Run the sweep the arguments describe; 0 when every job completed, else 1."""
    sweep_overrides, train_overrides = split_arguments(argv, sweep_keys())
    cfg = compose_sweep(sweep_overrides)
    refuse(SWEEP_RULES, cfg)
    if cfg.report:
        sweep_dir = existing_dir("report", cfg.report)
        return write_report(sweep_dir, SweepSpec.load(sweep_dir), cfg)
    if cfg.resume:
        sweep_dir, spec = existing_dir("resume", cfg.resume), None
    else:
        spec = build_spec(cfg, train_overrides)
        sweep_dir = new_sweep_dir(cfg.dir, spec.name)
    with DirectoryLock(sweep_dir, SWEEP_LOCK):  # one driver per sweep directory: a second stops here
        if spec is None:
            spec = resumed_spec(sweep_dir, sweep_overrides, train_overrides)
        spec.save(sweep_dir)
        try:
            run_jobs(spec, sweep_dir, resume=bool(cfg.resume))
        finally:  # an interrupted sweep still gets the report of what it finished
            status = write_report(sweep_dir, spec, cfg)
    return status


def main(argv: list[str]) -> int:
    """The command: the sweep's exit status; a refused sweep prints its message and exits 1."""
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s] %(message)s")
    # ValueError: a refused sweep; CompactHydraException: a config Hydra cannot compose (an unknown sweep=)
    with reported_as_message(ValueError, DiskFullError, CompactHydraException):
        return sweep(argv)
