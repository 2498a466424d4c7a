"""Framework tax, side by side: `python -m mnist1d.apps.bench [--models mlp cnn] [--steps 500] [--csv]`.

For every architecture, in one process and interleaved (plain, framework, plain, ...) so that load from other
processes hits both alike, it times on the device the run's Trainer picks (`trainer.accelerator`, default
`auto`: a GPU when there is one)
  (a) a plain PyTorch loop on that device: the same net, optimizer, batches, threads and periodic evaluation,
      no Lightning;
  (b) the real training path, `mnist1d.training.fit.fit` on the configuration `python train.py` runs by
      default (W&B offline and the CSV log, checkpoints at every evaluation; `--csv`: the CSV log only, no
      W&B), from `on_train_start` to `on_train_end` (logging, evaluation and checkpoints included, start-up
      excluded);
  (c) on CUDA, (b) with `cuda_graphs=false`: the eager path, while (b) replays CUDA graphs;
and prints steps/s of each, their ratio to (a) and the framework's overhead per step. The device is
synchronised before every clock read, and named in the output and the JSON. It also times the DataModule's
batches against a `DataLoader(TensorDataset)` and, with `--process`, the whole `python train.py` process
against `python -c "import pytorch_lightning"`. With `--grid <sweep dir>` it sets a finished sweep's wall time
beside its floor: the plain-loop time of all the steps its jobs trained, at the rates just measured, divided
by `--parallel`. `--stacked` measures stacked training instead (`mnist1d/apps/stacked_bench.py`). `--out`
writes everything as JSON.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader, TensorDataset

from mnist1d.apps.stacked_bench import bench_stacked
from mnist1d.config.compose import CONF_DIR, compose_train, config_options
from mnist1d.records import STATUS_OK, read_run
from mnist1d.sweeps.summary import SUMMARY_FILE, TIMING_FILE
from mnist1d.training.callbacks import synchronize
from mnist1d.training.datamodule import MNIST1DDataModule
from mnist1d.training.engine.batches import TrainingChunks
from mnist1d.training.eval_norm import net_config
from mnist1d.training.fit import fit
from mnist1d.training.quiet import silence_harmless_messages
from mnist1d.training.stacked.stackable import device_of

ROOT = CONF_DIR.parent
TINY_STEPS = 4
WARMUP_STEPS = 20


def study_models() -> list[str]:
    """The models of the study grid (conf/sweeps/sweep/study.yaml): what the benchmark times by default."""
    return list(OmegaConf.load(CONF_DIR / "sweeps" / "sweep" / "study.yaml").grid.model)


def run_device(cfg: DictConfig) -> torch.device:
    """The device a run of `cfg` trains on: what its `trainer.accelerator` picks (auto: a GPU if any)."""
    return device_of(cfg.trainer)


def device_name(device: torch.device) -> str:
    """The device in words: the GPU's name, or its type."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else device.type.upper()


def endless_batches(
    datamodule: MNIST1DDataModule, seed: int, device: torch.device
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The training batches the DataModule serves, in its order, indexed as a plain loop would do it."""
    x, y = (t.to(device) for t in datamodule.splits["train"])
    stream = TrainingChunks(x, y, datamodule.batch_size, seed=seed)
    for epoch in itertools.count():
        order = stream.order(epoch)
        for start in range(0, len(y), datamodule.batch_size):
            take = order[start : start + datamodule.batch_size]
            yield x[take], y[take]


def plain_loop(cfg: DictConfig, steps: int, device: torch.device) -> float:
    """Seconds of a plain PyTorch loop doing the framework's work on `device`: steps, evaluation every
    eval_every (the accuracies stay on the device, as a loop that reads them at the end would keep them)."""
    if cfg.get("num_threads"):
        torch.set_num_threads(cfg.num_threads)
    pl.seed_everything(cfg.seed, verbose=False)
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    net = instantiate(
        net_config(cfg.model), seq_length=datamodule.seq_length, num_classes=datamodule.num_classes
    )
    net = net.to(device)
    optimizer = instantiate(cfg.optimizer)(net.parameters())
    evaluation = tuple(t.to(device) for t in datamodule.splits[datamodule.eval_split])
    batches = endless_batches(datamodule, cfg.seed, device)
    return timed_loop(net, optimizer, batches, F.cross_entropy, evaluation, cfg.eval_every, steps, device)


def timed_loop(
    net: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    evaluation: tuple[torch.Tensor, torch.Tensor],
    eval_every: int,
    steps: int,
    device: torch.device,
) -> float:
    """Seconds of `steps` optimizer steps on `batches`, scoring `evaluation` every `eval_every` steps and at
    the last one."""
    x_eval, y_eval = evaluation
    accuracies = []
    synchronize(device)
    started = time.perf_counter()
    for done, (x, y) in enumerate(batches, start=1):
        value = loss(net(x), y)
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        if done % eval_every == 0 or done == steps:
            net.eval()
            with torch.no_grad():
                accuracies.append((net(x_eval).argmax(-1) == y_eval).float().mean(-1))
            net.train()
        if done == steps:
            break
    synchronize(device)
    return time.perf_counter() - started


def framework_run(cfg: DictConfig) -> float:
    """Seconds of `fit(cfg)` from on_train_start to on_train_end (as results.json reports them)."""
    fit(cfg)
    record = read_run(Path(cfg.paths.output_dir))
    if record is None or record.status != STATUS_OK:
        raise RuntimeError(f"benchmark run failed: {record and record.error}")
    return record.fit_time_s


def bench_model(
    model: str, steps: int, repeats: int, scratch: Path, extra: list[str], device: torch.device
) -> dict[str, Any]:
    """Interleaved plain/framework timings of one model; the median of each and their spread.

    An untimed warm-up first (kernel caches, allocator), then rounds whose order alternates, so that no path
    systematically runs warmer. On CUDA the framework runs twice per round: as configured (CUDA graphs with
    the default `cuda_graphs=auto`) and eagerly (`cuda_graphs=false`).
    """
    paths = {"plain": None, "framework": []}
    if device.type == "cuda":
        paths["eager"] = ["cuda_graphs=false"]
    seconds: dict[str, list[float]] = {name: [] for name in paths}
    for repeat in range(repeats):
        for name in list(paths) if repeat % 2 == 0 else list(paths)[::-1]:
            overrides = [f"model={model}", f"trainer.max_steps={steps}", *extra, *(paths[name] or [])]
            cfg = compose_train([*overrides, f"paths.output_dir={scratch / model}-{repeat}-{name}"])
            if repeat == 0 and name == "plain":
                plain_loop(cfg, min(steps, WARMUP_STEPS), device)
            seconds[name].append(plain_loop(cfg, steps, device) if name == "plain" else framework_run(cfg))
    row: dict[str, Any] = {"model": model, "steps": steps, "repeats": repeats}
    row["plain_steps_per_s"] = statistics.median(steps / s for s in seconds["plain"])
    for name in [name for name in paths if name != "plain"]:
        prefix = "" if name == "framework" else f"{name}_"  # the keys of the configured path keep their names
        pairs = list(zip(seconds["plain"], seconds[name], strict=True))
        ratios = [plain_s / path_s for plain_s, path_s in pairs]  # of steps/s: path over plain
        row[f"{name}_steps_per_s"] = statistics.median(steps / s for s in seconds[name])
        row[f"{prefix}ratio"] = statistics.median(ratios)
        row[f"{prefix}ratio_min"], row[f"{prefix}ratio_max"] = min(ratios), max(ratios)
        row[f"{prefix}overhead_ms_per_step"] = statistics.median(
            1000 * (path_s - plain_s) / steps for plain_s, path_s in pairs
        )
    return row


def bench_batches(scratch: Path, epochs: int, extra: list[str], device: torch.device) -> dict[str, float]:
    """Training batches per second on `device`: the DataModule's TrainingChunks (one step per item) vs a
    DataLoader over a TensorDataset."""
    cfg = compose_train([f"paths.output_dir={scratch / 'batches'}", *extra])
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    x, y = (t.to(device) for t in datamodule.splits["train"])
    loaders = {
        "tensor_batches": TrainingChunks(x, y, datamodule.batch_size),
        "dataloader": DataLoader(TensorDataset(x, y), batch_size=datamodule.batch_size, shuffle=True),
    }
    rates = {}
    for name, loader in loaders.items():
        synchronize(device)
        started = time.perf_counter()
        count = sum(1 for _ in range(epochs) for _batch in loader)
        synchronize(device)
        rates[f"{name}_batches_per_s"] = count / (time.perf_counter() - started)
    rates["speedup"] = rates["tensor_batches_batches_per_s"] / rates["dataloader_batches_per_s"]
    return rates


def timed_process(command: list[str]) -> tuple[float, float]:
    """(launch time, seconds to exit) of a subprocess run from the repository root."""
    launched = time.time()
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return launched, time.perf_counter() - started


def bench_process(scratch: Path, overrides: list[str]) -> dict[str, float]:
    """`python train.py` (start-up to exit, and start-up to the first step) vs `import pytorch_lightning`."""
    _, import_s = timed_process([sys.executable, "-c", "import pytorch_lightning"])
    run_dir = scratch / "process"
    launched, total_s = timed_process([sys.executable, "train.py", f"hydra.run.dir={run_dir}", *overrides])
    record = read_run(run_dir)
    startup_s = record.fit_started_at - launched
    return {
        "import_pytorch_lightning_s": import_s,
        "train_py_total_s": total_s,
        "train_py_startup_s": startup_s,
        "startup_beyond_import_s": startup_s - import_s,
        "train_py_fit_s": record.fit_time_s,
    }


def grid_floor(sweep_dir: Path, rows: list[dict[str, Any]], parallel: int) -> dict[str, Any]:
    """A sweep's floor (its trained steps at plain-loop speed, `parallel` at a time) beside its wall time.

    `floor_all_budgets_s` also counts the budgets a shared-budget sweep read from longer runs, i.e. the
    floor of the same grid run without `share_budgets`.
    """
    rates = {row["model"]: row["plain_steps_per_s"] for row in rows}
    with (sweep_dir / SUMMARY_FILE).open() as file:
        runs = list(csv.DictReader(file))
    unmeasured = sorted({run["model"] for run in runs} - rates.keys())
    if unmeasured:
        raise ValueError(f"--grid {sweep_dir}: benchmark its models too (--models is missing {unmeasured})")

    def floor(selected: list[dict[str, str]]) -> float:
        return sum(int(run["steps"]) / rates[run["model"]] for run in selected) / parallel

    trained = [run for run in runs if run["shared_budget"] != "True"]
    timing_file = sweep_dir / TIMING_FILE
    wall = json.loads(timing_file.read_text())["jobs_wall_time_s"] if timing_file.exists() else None
    return {
        "sweep_dir": str(sweep_dir),
        "jobs": len(trained),
        "parallel": parallel,
        "floor_s": floor(trained),
        "floor_all_budgets_s": floor(runs),
        "jobs_wall_time_s": wall,
        "wall_over_floor": wall / floor(trained) if wall else None,
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    """Steps/s of each path, and the framework's ratio to the plain loop with its spread over rounds."""
    eager = any("eager_steps_per_s" in row for row in rows)
    header = f"{'model':<9} {'plain st/s':>10} {'framework st/s':>14} {'ratio':>6} {'(min-max)':>11}"
    header += f" {'overhead ms/step':>16}"
    if eager:
        header += f" {'eager st/s':>10} {'ratio':>6} {'(min-max)':>11}"
    print(header)
    for row in rows:
        line = (
            f"{row['model']:<9} {row['plain_steps_per_s']:>10.1f} {row['framework_steps_per_s']:>14.1f}"
            f" {row['ratio']:>6.3f} {row['ratio_min']:>5.3f}-{row['ratio_max']:<5.3f}"
            f" {row['overhead_ms_per_step']:>16.3f}"
        )
        if eager:
            line += (
                f" {row['eager_steps_per_s']:>10.1f} {row['eager_ratio']:>6.3f}"
                f" {row['eager_ratio_min']:>5.3f}-{row['eager_ratio_max']:<5.3f}"
            )
        print(line)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=study_models(), choices=config_options("model"))
    parser.add_argument("--steps", type=int, default=500, help="training steps per timed run (default 500)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved plain/framework pairs per model")
    parser.add_argument("--tiny", action="store_true", help=f"{TINY_STEPS} steps, 1 repeat: a smoke test")
    parser.add_argument("--process", action="store_true", help="also time the whole `python train.py` run")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--threads", type=int, help="torch threads of both loops (default: the config's)")
    parser.add_argument(
        "--csv", action="store_true", help="the framework logs to CSV only (logger=csv), without W&B"
    )
    parser.add_argument("--stacked", action="store_true", help="stacked vs separate runs of --seeds seeds")
    parser.add_argument("--seeds", type=int, default=10, help="with --stacked: seeds per model (default 10)")
    parser.add_argument("--loop-steps", type=int, default=200, help="with --stacked: steps per loop")
    parser.add_argument("--grid", type=Path, help="a finished sweep directory: its wall time vs its floor")
    parser.add_argument("--parallel", type=int, default=2, help="parallel jobs of --grid's sweep (default 2)")
    parser.add_argument(
        "--cache-dir", type=Path, help="dataset cache (default: the config's paths.cache_dir)"
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        help="Hydra overrides for every run (default: none, as `python train.py`)",
        default=[],
    )
    args = parser.parse_args(argv)
    for name in ("steps", "repeats", "threads", "parallel", "seeds", "loop_steps"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}={getattr(args, name)} is invalid: must be >= 1")
    if args.tiny:
        args.steps, args.repeats, args.loop_steps = TINY_STEPS, 1, TINY_STEPS
    if args.grid and not (args.grid / SUMMARY_FILE).is_file():
        parser.error(f"--grid {args.grid}: no {SUMMARY_FILE} there (give a finished sweep directory)")
    return args


def default_logging(overrides: list[str], csv_only: bool) -> list[str]:
    """The logger overrides of the benchmark's runs: `train.py`'s default (W&B, offline whatever the
    credentials, and the CSV log), CSV only with `--csv`, or whatever `overrides` choose."""
    if any(override.startswith("logger=") for override in overrides):
        return []
    return ["logger=csv"] if csv_only else ["logger.wandb.mode=offline"]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    silence_harmless_messages()
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    logging.getLogger("lightning").setLevel(logging.WARNING)
    common = [f"paths.cache_dir={args.cache_dir.resolve()}"] if args.cache_dir else []
    if args.threads:
        common.append(f"num_threads={args.threads}")
    extra = [*default_logging(args.overrides, args.csv), *common, *args.overrides]
    if args.tiny:
        extra += ["eval_every=2"]
    device = run_device(compose_train(extra))
    report: dict[str, Any] = {"device": str(device), "device_name": device_name(device), "overrides": extra}
    report["models"] = []
    print(f"device: {device} ({report['device_name']}); overrides: {' '.join(extra)}")
    with tempfile.TemporaryDirectory(prefix="mnist1d-bench-") as tmp:
        scratch = Path(tmp)
        if args.stacked:
            report |= bench_stacked(
                args.models, args.seeds, args.steps, args.loop_steps, args.repeats, extra, device, scratch
            )
            return write_report(report, args.out)
        for model in args.models:
            report["models"].append(bench_model(model, args.steps, args.repeats, scratch, extra, device))
            print_table(report["models"][-1:])
        report["batches"] = bench_batches(scratch, 1 if args.tiny else 20, extra, device)
        if args.process:
            report["process"] = bench_process(
                scratch, common + (["trainer.max_steps=4"] if args.tiny else [])
            )
    report["torch_threads"] = torch.get_num_threads()  # as the runs set it (num_threads)
    print()
    print(f"device: {device} ({report['device_name']}), {report['torch_threads']} torch threads")
    print_table(report["models"])
    print(
        "batches/s: TrainingChunks {tensor_batches_batches_per_s:.0f}, DataLoader(TensorDataset)"
        " {dataloader_batches_per_s:.0f}, speed-up {speedup:.1f}x".format(**report["batches"])
    )
    if "process" in report:
        print(
            "python train.py: start-up {train_py_startup_s:.2f} s (import pytorch_lightning alone"
            " {import_pytorch_lightning_s:.2f} s, beyond it {startup_beyond_import_s:.2f} s),"
            " total {train_py_total_s:.2f} s".format(**report["process"])
        )
    if args.grid:
        report["grid"] = grid_floor(args.grid, report["models"], args.parallel)
        grid = report["grid"]
        print(
            f"grid {grid['sweep_dir']}: {grid['jobs']} jobs, {grid['parallel']} at a time: floor"
            f" {grid['floor_s']:.0f} s (all budgets trained: {grid['floor_all_budgets_s']:.0f} s),"
            f" jobs' wall time {grid['jobs_wall_time_s']} s"
        )
    return write_report(report, args.out)


def write_report(report: dict[str, Any], out: Path | None) -> dict[str, Any]:
    if out:
        out.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
