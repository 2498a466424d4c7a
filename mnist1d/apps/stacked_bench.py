"""Stacked training, side by side: `python -m mnist1d.apps.bench --stacked [--models ...] [--seeds 10]`.

For every model, in one process and interleaved (separate, stacked, stacked, separate, ...), it times on the
device the run's Trainer picks, with the benchmark's torch threads:
  (a) `seeds` plain PyTorch loops, one after another, each training the net its seed initialises on its
      seed's batches (the plain loop of `mnist1d.apps.bench`);
  (b) one plain loop training the same nets as one `StackedNet` (same initial weights, same batches per
      member, Adam on the stacked weights, the same evaluations);
and prints the net's training FLOPs per sample, both times and their ratio: what stacking buys on this device
before any framework cost.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mnist1d.training.batches import TrainingChunks
from mnist1d.training.callbacks import synchronize
from mnist1d.training.stacked.net import StackedNet, member_losses, refusal, training_flops_per_sample


def with_seed(cfg: DictConfig, seed: int) -> DictConfig:
    """`cfg` as `seed=<seed>` would compose it (the data order follows the seed)."""
    copy = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    copy.seed, copy.data.shuffle_seed = seed, seed
    return copy


def stacked_loop(cfg: DictConfig, seeds: list[int], steps: int, device: torch.device) -> float:
    """Seconds of one plain loop training the nets of `seeds` as one StackedNet on `device`: the work of
    the separate plain loops of those seeds (steps on each seed's batches, evaluation every eval_every)."""
    if cfg.get("num_threads"):
        torch.set_num_threads(cfg.num_threads)
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    nets = []
    for seed in seeds:
        pl.seed_everything(seed, verbose=False)
        nets.append(
            instantiate(cfg.model, seq_length=datamodule.seq_length, num_classes=datamodule.num_classes)
        )
    net = StackedNet(nets).to(device)
    optimizer = instantiate(cfg.optimizer)(net.parameters())
    x, y = (t.to(device) for t in datamodule.splits["train"])
    x_eval, y_eval = (t.to(device) for t in datamodule.splits[datamodule.eval_split])
    x_eval = x_eval.expand(len(seeds), *x_eval.shape)
    streams = [TrainingChunks(x, y, datamodule.batch_size, seed=seed) for seed in seeds]
    size, per_epoch = datamodule.batch_size, streams[0].batches_per_epoch
    accuracies = []
    synchronize(device)
    started = time.perf_counter()
    for done in range(1, steps + 1):
        epoch, batch = divmod(done - 1, per_epoch)
        take = torch.stack([stream.order(epoch)[batch * size : (batch + 1) * size] for stream in streams])
        loss = member_losses(net(x[take]), y[take]).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if done % cfg.eval_every == 0 or done == steps:
            net.eval()
            with torch.no_grad():
                accuracies.append((net(x_eval).argmax(-1) == y_eval).float().mean(-1))
            net.train()
    synchronize(device)
    return time.perf_counter() - started


def bench_loops(
    cfg: DictConfig, model: str, seeds: list[int], steps: int, repeats: int, device: torch.device
) -> dict[str, Any]:
    """Interleaved timings of the separate loops and the stacked loop of one model; the medians, the ratio
    (separate over stacked: > 1 means stacking is faster) and its spread over rounds."""
    from mnist1d.apps.bench import WARMUP_STEPS, plain_loop

    datamodule = instantiate(cfg.data)
    net = instantiate(cfg.model, seq_length=datamodule.seq_length, num_classes=datamodule.num_classes)
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
