"""Stacked training, side by side: `python -m mnist1d.apps.bench --stacked [--models ...] [--seeds 10]
[--steps 2000] [--loop-steps 200]`.

For every model it measures, interleaved (a, b, b, a, ...) so that load from other processes hits both alike:
  loops, in this process on the device the run's Trainer picks, with the benchmark's torch threads:
  (a) `seeds` plain PyTorch loops, one after another, each training the net its seed initialises on its
      seed's batches (the plain loop of `mnist1d.apps.bench`), for `loop_steps` steps;
  (b) one plain loop training the same nets as one `StackedNet` (same initial weights, same batches per
      member, Adam on the stacked weights, the same evaluations): what stacking buys on this device before
      any framework cost, beside the net's training FLOPs per sample (what the stacked launcher decides by);
  launchers, as a user runs them:
  (a) `python train.py -m model=<model> seed=0,...,<seeds - 1> trainer.max_steps=<steps>` with Hydra's basic
      launcher (the default: the jobs one after another, in one process);
  (b) the same with `hydra/launcher=stacked`, whose decision (stacked, or one by one and why) is printed;
and prints both times (the processes' wall times, start-up included) and their ratio.
"""

from __future__ import annotations

import itertools
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mnist1d.config.compose import CONF_DIR
from mnist1d.training.engine.batches import TrainingChunks
from mnist1d.training.eval_norm import net_config
from mnist1d.training.stacked.net import StackedNet, member_losses, refusal, training_flops_per_sample

ROOT = CONF_DIR.parent


def with_seed(cfg: DictConfig, seed: int) -> DictConfig:
    """`cfg` as `seed=<seed>` would compose it (the data order follows the seed)."""
    copy = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    copy.seed, copy.data.shuffle_seed = seed, seed
    return copy


def stacked_loop(cfg: DictConfig, seeds: list[int], steps: int, device: torch.device) -> float:
    """Seconds of one plain loop training the nets of `seeds` as one StackedNet on `device`: the work of
    the separate plain loops of those seeds (steps on each seed's batches, evaluation every eval_every)."""
    from mnist1d.apps.bench import timed_loop

    if cfg.get("num_threads"):
        torch.set_num_threads(cfg.num_threads)
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    nets = []
    for seed in seeds:
        pl.seed_everything(seed, verbose=False)
        nets.append(
            instantiate(
                net_config(cfg.model), seq_length=datamodule.seq_length, num_classes=datamodule.num_classes
            )
        )
    net = StackedNet(nets).to(device)
    optimizer = instantiate(cfg.optimizer)(net.parameters())
    x, y = (t.to(device) for t in datamodule.splits["train"])
    x_eval, y_eval = (t.to(device) for t in datamodule.splits[datamodule.eval_split])
    evaluation = (x_eval.expand(len(seeds), *x_eval.shape), y_eval)
    batches = stacked_batches(x, y, datamodule.batch_size, seeds)

    def loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return member_losses(logits, labels).sum()

    return timed_loop(net, optimizer, batches, loss, evaluation, cfg.eval_every, steps, device)


def stacked_batches(
    x: torch.Tensor, y: torch.Tensor, batch_size: int, seeds: list[int]
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Each seed's training minibatches in its own order, stacked: `(members, batch, ...)` per step."""
    streams = [TrainingChunks(x, y, batch_size, seed=seed) for seed in seeds]
    for step in itertools.count():
        take = torch.stack([stream.take(step) for stream in streams])
        yield x[take], y[take]


def bench_loops(
    cfg: DictConfig, model: str, seeds: list[int], steps: int, repeats: int, device: torch.device
) -> dict[str, Any]:
    """Interleaved timings of the separate loops and the stacked loop of one model; the medians, the ratio
    (separate over stacked: > 1 means stacking is faster) and its spread over rounds."""
    from mnist1d.apps.bench import WARMUP_STEPS, plain_loop

    datamodule = instantiate(cfg.data)
    net = instantiate(
        net_config(cfg.model), seq_length=datamodule.seq_length, num_classes=datamodule.num_classes
    )
    row: dict[str, Any] = {"model": model, "members": len(seeds), "steps": steps, "repeats": repeats}
    row["flops_per_sample"] = training_flops_per_sample(net, datamodule.seq_length)
    row["refusal"] = refusal(net, datamodule.seq_length)
    if row["refusal"] is not None:
        return row

    def separate() -> float:
        return sum(plain_loop(with_seed(cfg, seed), steps, device) for seed in seeds)

    plain_loop(cfg, WARMUP_STEPS, device)
    stacked_loop(cfg, seeds, WARMUP_STEPS, device)
    seconds: dict[str, list[float]] = {"separate": [], "stacked": []}
    for repeat in range(repeats):
        order = ("separate", "stacked") if repeat % 2 == 0 else ("stacked", "separate")
        for name in order:
            seconds[name].append(
                separate() if name == "separate" else stacked_loop(cfg, seeds, steps, device)
            )
    ratios = [a / b for a, b in zip(seconds["separate"], seconds["stacked"], strict=True)]
    row |= {f"{name}_s": statistics.median(values) for name, values in seconds.items()}
    row |= {"ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios)}
    return row


def print_loops(rows: list[dict[str, Any]]) -> None:
    header = f"{'model':<14} {'FLOPs/sample':>12} {'separate s':>10} {'stacked s':>9}"
    print(f"{header} {'ratio':>6} {'(min-max)':>11}")
    for row in rows:
        start = f"{row['model']:<14} {row['flops_per_sample']:>12,d}"
        if row["refusal"] is not None:
            print(f"{start}  cannot be stacked: {row['refusal']}")
            continue
        print(
            f"{start} {row['separate_s']:>10.2f} {row['stacked_s']:>9.2f} {row['ratio']:>6.2f}"
            f" {row['ratio_min']:>5.2f}-{row['ratio_max']:<5.2f}"
        )


STACKED = "train as one stack"
ONE_BY_ONE = "run one by one, not stacked: "


def multirun_seconds(command: list[str], sweep_dir: Path) -> tuple[float, str]:
    """Wall time of one `train.py -m` process (start-up included) and what it printed."""
    started = time.perf_counter()
    command = [*command, f"hydra.sweep.dir={sweep_dir}"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"benchmark multirun failed: {' '.join(command)}\n{done.stderr[-2000:]}")
    return seconds, done.stdout + done.stderr


def decision(output: str) -> str:
    """What the stacked launcher did, from its log: `stacked`, or `one by one: <why>`."""
    if STACKED in output:
        return "stacked"
    why = next((line.split(ONE_BY_ONE, 1)[1] for line in output.splitlines() if ONE_BY_ONE in line), "?")
    return f"one by one: {why}"


def bench_launchers(
    model: str, seeds: int, steps: int, repeats: int, overrides: list[str], scratch: Path
) -> dict[str, Any]:
    """Interleaved wall times of `python train.py -m model=<model> seed=0,...,<seeds - 1>` with Hydra's basic
    launcher (the default) and with `hydra/launcher=stacked`; their ratio (basic over stacked: > 1 means the
    stacked launcher is faster) and what the stacked launcher did."""
    command = [sys.executable, "-m", "mnist1d.cli", "train", "-m", f"model={model}"]
    seed_values = ",".join(str(seed) for seed in range(seeds))
    command += [f"seed={seed_values}", f"trainer.max_steps={steps}", *overrides]
    seconds: dict[str, list[float]] = {"basic": [], "stacked": []}
    row: dict[str, Any] = {"model": model, "members": seeds, "steps": steps, "repeats": repeats}
    for repeat in range(repeats):
        for launcher in ("basic", "stacked") if repeat % 2 == 0 else ("stacked", "basic"):
            sweep_dir = scratch / f"{model}-{launcher}-{repeat}"
            spent, output = multirun_seconds([*command, f"hydra/launcher={launcher}"], sweep_dir)
            seconds[launcher].append(spent)
            if launcher == "stacked":
                row["decision"] = decision(output)
    ratios = [a / b for a, b in zip(seconds["basic"], seconds["stacked"], strict=True)]
    row |= {f"{name}_s": statistics.median(values) for name, values in seconds.items()}
    row |= {"ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios)}
    return row


def print_launchers(rows: list[dict[str, Any]]) -> None:
    print(f"{'model':<14} {'basic s':>8} {'stacked s':>9} {'ratio':>6} {'(min-max)':>11}  stacked launcher")
    for row in rows:
        print(
            f"{row['model']:<14} {row['basic_s']:>8.1f} {row['stacked_s']:>9.1f} {row['ratio']:>6.2f}"
            f" {row['ratio_min']:>5.2f}-{row['ratio_max']:<5.2f}  {row['decision']}"
        )


def bench_stacked(
    models: list[str],
    seeds: int,
    steps: int,
    loop_steps: int,
    repeats: int,
    overrides: list[str],
    device: torch.device,
    scratch: Path,
) -> dict[str, Any]:
    """The stacked benchmark of every model (module docstring): the loops, then the launchers."""
    from mnist1d.config.compose import compose_train

    report: dict[str, Any] = {"loops": [], "launchers": []}
    for model in models:
        cfg = compose_train([f"model={model}", *overrides])
        report["loops"].append(bench_loops(cfg, model, list(range(seeds)), loop_steps, repeats, device))
        print_loops(report["loops"][-1:])
    for model in models:
        report["launchers"].append(bench_launchers(model, seeds, steps, repeats, overrides, scratch))
        print_launchers(report["launchers"][-1:])
    print(f"\n{seeds} seeds, one process, {loop_steps} steps per loop:")
    print_loops(report["loops"])
    print(f"\n{seeds} seeds x {steps} steps, `python train.py -m`, basic vs stacked launcher:")
    print_launchers(report["launchers"])
    return report
