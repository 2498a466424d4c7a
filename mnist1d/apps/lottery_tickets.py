"""Lottery tickets in MNIST-1D's MLP, and what their masks learned about space.

`python -m mnist1d.apps.lottery_tickets` (config `conf/apps/lottery_tickets.yaml`), in the setup of the
reference notebook (lottery-tickets, after Frankle & Carbin): the paper's MLP with 500 hidden units trains
for 1500 Adam steps; then the fraction s of every layer's weights and biases with the smallest magnitudes is
masked, the net is rewound to its initial weights and trained again, for 100 rounds with s rising linearly
from 0 to 1. That is the winning ("lottery") ticket; the random ticket masks the same fraction of every layer
at random. The two tickets of round 91 (92 % sparse) and the dense net then train from the same initial
weights on a freshly drawn MNIST-1D: as it is, with its input positions shuffled, reversed or with halves
swapped, and from another initialisation. Published: the lottery ticket beats the dense net and the random
ticket from about half sparsity on and on fresh data, loses that edge once the inputs are shuffled, keeps
part of it when they are reversed, and its first layer keeps runs of adjacent inputs more often than a
random mask does.

Every training run is a train.py run (`mnist1d.training.run.run_job`, with `model=sparse_mlp` and the mask
and initial values as .npz files) in its own directory under this app's output, with its results.json and
CSV log; the magnitudes to prune by are saved at `pruning.prune_step` by a callback of the run. A run that
completed is not trained again, so `resume=<run directory>` goes on where a stopped run ended.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from mnist1d.apps.common import Report, check_app, finished_numbers, positive
from mnist1d.atomic import atomic_open, write_json
from mnist1d.config.compose import APPS_CONF, config_path
from mnist1d.dataset_config import NUM_CLASSES
from mnist1d.errors import reported_as_message
from mnist1d.models.sparse_mlp import effective_parameters, read_arrays, save_arrays
from mnist1d.records import RunRecord, read_run
from mnist1d.reports import lottery_tickets as lottery_report
from mnist1d.rules import Rule, Together, is_int, is_number, refuse
from mnist1d.training.eval_norm import net_config
from mnist1d.training.job import run_job

log = logging.getLogger(__name__)
NAME = "lottery_tickets"
TICKETS = ("lottery", "random")
NETS = ("dense", *TICKETS)
CONDITIONS = ("same", "shuffled", "flipped", "chunks", "reinit")
# This app's own keys; the rest of its config is each run's train.py config.
APP_KEYS = ("pruning", "probes", "report", "resume", "run_tags", "threads", "wandb")
PRUNED_WEIGHTS = "pruned_weights.pt"  # a round's weights at the pruning step
ADJACENT_RUNS = (2, 3, 4)


# What the config must be, checked before any work (see mnist1d/rules.py).
RULES = (
    *(
        positive(f"pruning.{field}", int)
        for field in ("trials", "rounds", "steps", "batch_size", "prune_step")
    ),
    positive("probes.steps", int),
    positive("probes.batch_size", int),
    Rule("pruning.final_sparsity", "in [0, 1]", lambda v: is_number(v) and 0 <= v <= 1),
    Rule("probes.data_seed", "an integer >= 0", lambda v: is_int(v) and v >= 0),
    Rule("probes.shuffle_seed", "an integer >= 0", lambda v: is_int(v) and v >= 0),
    Rule("probes.conditions", f"a list of {list(CONDITIONS)}", lambda v: set(v) <= set(CONDITIONS)),
    Together(
        ("pruning.prune_step", "pruning.steps", "eval_every"),
        "is invalid: the step the weights are pruned by must be a multiple of eval_every, at most the steps",
        lambda step, steps, every: step <= steps and step % every == 0,
    ),
    Together(
        ("probes.ticket_round", "pruning.rounds"),
        "is invalid: the probed tickets' round must be one of the rounds, 0 .. rounds - 1",
        lambda ticket_round, rounds: is_int(ticket_round) and 0 <= ticket_round < rounds,
    ),
)


def schedule(cfg: DictConfig) -> np.ndarray:
    """The sparsity of every round: linearly from 0 (the dense net) to `final_sparsity`."""
    return np.linspace(0.0, cfg.pruning.final_sparsity, cfg.pruning.rounds)


def layer_masks(scores: dict[str, Tensor], sparsity: float) -> dict[str, Tensor]:
    """Masks that drop, in every layer (its weight and bias together), the `int(sparsity * n)` entries with
    the lowest scores, as the reference does; `scores` and the masks are keyed by parameter name."""
    masks = {}
    for _, names in itertools.groupby(scores, key=lambda name: name.rsplit(".", 1)[0]):
        names = list(names)
        flat = torch.cat([scores[name].flatten() for name in names])
        keep = torch.ones(len(flat), dtype=torch.bool)
        keep[torch.argsort(flat, stable=True)[: int(sparsity * len(flat))]] = False
        sizes = [scores[name].numel() for name in names]
        for name, part in zip(names, keep.split(sizes), strict=True):
            masks[name] = part.reshape(scores[name].shape)
    return masks


def ticket_scores(ticket: str, weights: dict[str, Tensor], generator: torch.Generator) -> dict[str, Tensor]:
    """What a ticket keeps the largest of: the trained weights' magnitudes (lottery; pruned ones are zero, so
    the masks are nested) or fresh random numbers (random)."""
    if ticket == "lottery":
        return {name: w.abs() for name, w in weights.items()}
    return {name: torch.rand(w.shape, generator=generator) for name, w in weights.items()}


def initial_values(cfg: DictConfig, seed: int) -> dict[str, Tensor]:
    """The initial weights and biases of the runs' net (PyTorch's initialisation drawn from `seed`)."""
    torch.manual_seed(seed)
    net = instantiate(
        net_config(cfg.model),
        seq_length=cfg.data.final_seq_length,
        num_classes=NUM_CLASSES,
        init=None,
        mask=None,
    )
    return effective_parameters(net.state_dict())


def run_config(cfg: DictConfig, out_dir: Path, name: str, settings: dict[str, Any]) -> DictConfig:
    """The train.py config of one run: this app's config without its own keys, with `settings` (dotted
    keys) set."""
    run = OmegaConf.masked_copy(cfg, [key for key in cfg if key not in APP_KEYS])
    for key, value in {"paths.output_dir": str(out_dir), "run_name": name, **settings}.items():
        OmegaConf.update(run, key, value, merge=False)
    return run


def train_run(cfg: DictConfig, out_dir: Path, name: str, settings: dict[str, Any]) -> RunRecord:
    """Train one run as train.py does (a run that already completed with the same config is skipped, so a
    resumed app goes on where it stopped); its results.json."""
    run_job(run_config(cfg, out_dir, name, {"skip_completed": True, **settings}))
    return read_run(out_dir)


def accuracy_record(record: RunRecord) -> dict[str, Any]:
    """A run's evaluation history (test accuracy and loss at every evaluation) and its final and best."""
    history = [h for h in record.history if "test/acc" in h]
    return {
        "steps": [h["step"] for h in history],
        "acc": [h["test/acc"] for h in history],
        "loss": [h["test/loss"] for h in history],
        "final_acc": record.final_acc,
        "best_acc": record.best_acc,
    }


class SaveWeightsAt(pl.Callback):
    """Saves the net's state dict at one training step: the weights a pruning round ranks by magnitude.

    Training steps come in chunks (`chunk_steps`); the step must end one, which any multiple of
    `eval_every` does."""

    def __init__(self, step: int, path: str) -> None:
        self.step, self.path = step, Path(path)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *_: Any) -> None:
        if trainer.global_step == self.step:
            with atomic_open(self.path) as file:
                torch.save(pl_module.net.state_dict(), file)


def pruned_weights(path: Path) -> dict[str, Tensor]:
    """The weights a round's net computed with at the pruning step (masked entries zero)."""
    return effective_parameters(torch.load(path, map_location="cpu", weights_only=True))


def find_ticket(
    cfg: DictConfig,
    ticket: str,
    trial: int,
    init: Path,
    out_dir: Path,
    progress: Iterator[int],
    report: Report,
) -> list[dict[str, Any]]:
    """All pruning rounds of one ticket in one trial: every round trains the masked net from `init`.

    A round's mask is saved before it trains, and its weights at the pruning step are kept until the next
    round's mask is saved: a resumed app (completed runs are skipped) picks up where it stopped."""
    seed, pruning = cfg.seed + trial, cfg.pruning
    ticket_dir = out_dir / "pruning" / f"trial{trial}" / ticket
    weights: dict[str, Tensor] | None = read_arrays(init, "init")
    rounds = []
    for index, sparsity in enumerate(schedule(cfg)):
        run_dir = ticket_dir / f"round{index:03d}"
        mask_path, weights_path = run_dir / "mask.npz", run_dir / PRUNED_WEIGHTS
        if not mask_path.exists():
            if weights is None:
                raise RuntimeError(f"{run_dir}: neither its mask nor the previous round's weights were saved")
            generator = torch.Generator().manual_seed(1000 * seed + index)  # the random ticket's draw
            save_arrays(mask_path, layer_masks(ticket_scores(ticket, weights, generator), float(sparsity)))
            if index:
                (ticket_dir / f"round{index - 1:03d}" / PRUNED_WEIGHTS).unlink(missing_ok=True)
        masks = read_arrays(mask_path, "mask")
        save_weights = {
            "_target_": f"{__name__}.SaveWeightsAt",
            "step": pruning.prune_step,
            "path": str(weights_path),
        }
        settings = {
            "seed": seed,
            "model.init": str(init),
            "model.mask": str(mask_path),
            "trainer.max_steps": pruning.steps,
            "data.batch_size": pruning.batch_size,
            "callbacks": {"prune": save_weights},
        }
        results = train_run(cfg, run_dir, f"{ticket}-trial{trial}-round{index:03d}", settings)
        weights = pruned_weights(weights_path) if weights_path.exists() else None  # None: skipped, completed
        kept = {name: float(mask.float().mean()) for name, mask in masks.items()}
        rounds.append({"round": index, "sparsity": float(sparsity), "kept": kept, **accuracy_record(results)})
        log.info(
            "%s ticket, trial %d, sparsity %.2f: test accuracy %.3f",
            ticket,
            trial,
            sparsity,
            results.final_acc,
        )
        report.log(
            {f"{ticket}/sparsity": float(sparsity), f"{ticket}/final_acc": results.final_acc},
            next(progress),
        )
    return rounds


def positions(condition: str, length: int, shuffle_seed: int) -> list[int] | None:
    """The input order of a probe: shuffled (one fixed permutation), flipped (reversed), chunks (halves
    swapped), or None (same, reinit)."""
    order = np.arange(length)
    orders = {
        "shuffled": np.random.RandomState(shuffle_seed).permutation(length),
        "flipped": order[::-1],
        "chunks": np.roll(order, length // 2),
    }
    return orders[condition].tolist() if condition in orders else None


def probe(
    cfg: DictConfig, trial: int, inits: dict[str, Path], masks: dict[str, Path | None], out_dir: Path
) -> dict[str, dict[str, Any]]:
    """Train the dense net and both tickets under every probe condition; condition -> net -> record."""
    probes, seed = cfg.probes, cfg.seed + trial
    records: dict[str, dict[str, Any]] = {}
    for condition in probes.conditions:
        order = positions(condition, cfg.data.final_seq_length, probes.shuffle_seed)
        records[condition] = {}
        for net, mask in masks.items():
            run_dir = out_dir / "probes" / f"trial{trial}" / condition / net
            settings = {
                "seed": seed,
                "model.init": str(inits["reinit" if condition == "reinit" else "trial"]),
                "model.mask": None if mask is None else str(mask),
                "data.seed": probes.data_seed,
                "data.positions": order,
                "data.batch_size": probes.batch_size,
                "trainer.max_steps": probes.steps,
            }
            results = train_run(cfg, run_dir, f"{net}-{condition}-trial{trial}", settings)
            records[condition][net] = accuracy_record(results)
            log.info("probe %s, trial %d, %s: test accuracy %.3f", condition, trial, net, results.final_acc)
    return records


def adjacency(first_layer_mask: Tensor) -> dict[str, Any]:
    """How often a hidden unit keeps runs of k adjacent inputs: per unit, the windows of k consecutive
    inputs whose weights are all kept, divided by the number of inputs (the reference's measure); mean and
    standard error over the units, beside what independent random masks of the same density give."""
    mask = first_layer_mask.double()
    units, inputs = mask.shape
    kept = float(mask.mean())
    numbers: dict[str, Any] = {"kept": kept}
    for k in ADJACENT_RUNS:
        per_unit = mask.unfold(1, k, 1).prod(-1).sum(1) / inputs
        numbers[f"p{k}"] = float(per_unit.mean())
        numbers[f"p{k}_se"] = float(per_unit.std(unbiased=False) / units**0.5)
        numbers[f"p{k}_independent"] = (inputs - k + 1) / inputs * kept**k
    return numbers


def validate(cfg: DictConfig) -> None:
    """Refuse a bad config before any work; the config's preflight runs this before Hydra creates the run
    directory (mnist1d/preflight.py)."""
    check_app(cfg, NAME)
    refuse(RULES, cfg)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Pruning, probes and adjacency for every trial; figures, tables and JSON into the run directory."""
    validate(cfg)
    if cfg.report:
        return remake_report(cfg.report)
    # Absolute, whichever way it was given: every run records its paths, and a completed run is skipped on a
    # resume only when its recorded config matches.
    out = resumable_dir(cfg.resume) if cfg.resume else Path(cfg.paths.output_dir)
    OmegaConf.update(cfg, "paths.output_dir", str(out.resolve()))
    report = Report(NAME, cfg)
    out_dir, pruning = report.out_dir, cfg.pruning
    ticket_round = cfg.probes.ticket_round
    numbers: dict[str, Any] = {
        "sparsity": schedule(cfg).tolist(),
        "ticket_round": ticket_round,
        "pruning": {ticket: [] for ticket in TICKETS},
        "adjacency": {ticket: [] for ticket in TICKETS},
        "probes": [],
    }
    progress = itertools.count()
    for trial in range(pruning.trials):
        trial_dir = out_dir / "pruning" / f"trial{trial}"
        inits = {
            "trial": trial_dir / "init.npz",
            "reinit": out_dir / "probes" / f"trial{trial}" / "reinit.npz",
        }
        save_arrays(inits["trial"], initial_values(cfg, cfg.seed + trial))
        save_arrays(inits["reinit"], initial_values(cfg, cfg.seed + pruning.trials + trial))  # no trial's
        masks: dict[str, Path | None] = {"dense": None}
        for ticket in TICKETS:
            rounds = find_ticket(cfg, ticket, trial, inits["trial"], out_dir, progress, report)
            numbers["pruning"][ticket].append(rounds)
            masks[ticket] = trial_dir / ticket / f"round{ticket_round:03d}" / "mask.npz"
            numbers["adjacency"][ticket].append(
                adjacency(read_arrays(masks[ticket], "mask")["linear1.weight"])
            )
        numbers["probes"].append(probe(cfg, trial, inits, masks, out_dir))
    write_json(out_dir / f"{NAME}.json", numbers)  # kept if a figure fails: `report=<this dir>` remakes them
    for name, fig in lottery_report.figures(numbers, out_dir).items():
        report.figure(fig, name)
    lottery_report.write_tables(numbers, out_dir)
    return report.close(numbers)


def resumable_dir(path: str) -> Path:
    """A stopped run directory of this app, or a ValueError naming `resume`."""
    if not (Path(path) / "pruning").is_dir():
        raise ValueError(f"resume={path!r} is invalid: must be a run directory of {NAME} (with pruning/)")
    return Path(path)


def remake_report(run_dir: str) -> dict[str, Any]:
    """Figures and tables of a finished run, from its lottery_tickets.json (nothing is trained)."""
    numbers = finished_numbers(NAME, run_dir)
    lottery_report.save_figures(numbers, Path(run_dir))
    lottery_report.write_tables(numbers, Path(run_dir))
    return numbers


@hydra.main(config_path=config_path(APPS_CONF), config_name=NAME, version_base="1.3")
def main(cfg: DictConfig) -> None:
    with reported_as_message(ValueError):  # the apps refuse bad settings with a ValueError
        numbers = run(cfg)
    print(lottery_report.summary_line(numbers))


if __name__ == "__main__":
    main()
