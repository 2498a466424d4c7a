"""Figures and tables of the lottery-ticket app (`python -m mnist1d.apps.lottery_tickets`), ours beside the
reference notebook's printed numbers (published_results.json, `lottery_tickets`: the mean of its 2 trials).

Every published number is compared with the 95 % prediction interval for the mean of as many new trials as
the notebook ran (2), from our trials: mean ± t · sd · √(1/2 + 1/n).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from mnist1d.atomic import save_figure, write_text
from mnist1d.models.sparse_mlp import read_arrays
from mnist1d.reports.common import interval_verdict, prediction_interval, published, seed_stats

STEM = "lottery_tickets"
TICKETS = ("lottery", "random")
NETS = ("dense", "random", "lottery")
COLOURS = {
    "dense": "black",
    "random": "tab:red",
    "lottery": "tab:blue",
    "shuffled": "tab:green",
    "reinit": "tab:cyan",
}
TITLES = {
    "same": "fresh MNIST-1D",
    "shuffled": "inputs shuffled",
    "flipped": "inputs reversed",
    "chunks": "input halves swapped",
    "reinit": "another initialisation",
}
SPARSITY_BAND = (0.5, 0.95)  # where the published lottery ticket beats the random one


def reference() -> dict[str, Any]:
    return published("lottery_tickets")


def published_trials() -> int:
    return len(reference()["pruning"]["lottery"]["final_acc"])


def pruning_values(numbers: dict[str, Any], ticket: str, key: str) -> np.ndarray:
    """(trials, rounds) of a per-round number: `final_acc`, `best_acc` (%) or `loss` (the final test loss)."""
    if key == "loss":
        return np.array([[r["loss"][-1] for r in trial] for trial in numbers["pruning"][ticket]])
    return 100 * np.array([[r[key] for r in trial] for trial in numbers["pruning"][ticket]])


def published_pruning(numbers: dict[str, Any], ticket: str, key: str) -> np.ndarray | None:
    """(2, rounds) of the notebook's, or None when our schedule is not its (100 rounds, 0 to 1)."""
    values = reference()["pruning"][ticket].get(key)
    if values is None or len(numbers["sparsity"]) != len(values[0]):
        return None
    return np.array(values) if np.allclose(numbers["sparsity"], np.linspace(0, 1, len(values[0]))) else None


def probe_values(numbers: dict[str, Any], condition: str, net: str) -> tuple[np.ndarray, np.ndarray]:
    """Steps and (trials, evaluations) test accuracy (%) of a probe."""
    records = [trial[condition][net] for trial in numbers["probes"]]
    return np.array(records[0]["steps"]), 100 * np.array([r["acc"] for r in records])


def stats(values: np.ndarray | list[float]) -> dict[str, Any]:
    """Mean, sd and the prediction interval for the mean of as many new trials as the notebook ran."""
    values = [float(v) for v in values]
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return {"mean": float(np.mean(values)), "sd": sd, "n": len(values),
            "interval": prediction_interval(seed_stats(values), runs=published_trials())}  # fmt: skip


def band(ax: Any, x: np.ndarray, values: np.ndarray, colour: str, label: str) -> None:
    """Mean over trials as a line, ± one sd as a band."""
    mean = values.mean(0)
    ax.plot(x, mean, color=colour, lw=1.6, label=label)
    if len(values) > 1:
        sd = values.std(0, ddof=1)
        ax.fill_between(x, mean - sd, mean + sd, color=colour, alpha=0.2, lw=0)


def pruning_figure(numbers: dict[str, Any]) -> Figure:
    """Final test loss, final and best test accuracy against sparsity, for both tickets."""
    fig = Figure(figsize=(15, 4.3), layout="constrained")
    x = np.array(numbers["sparsity"])
    trials = len(numbers["pruning"]["lottery"])
    panels = (("loss", "Final test loss"), ("final_acc", "Final test accuracy (%)"),
              ("best_acc", "Best test accuracy during training (%)"))  # fmt: skip
    for ax, (key, title) in zip(fig.subplots(1, 3), panels, strict=True):
        for ticket in ("random", "lottery"):
            values = pruning_values(numbers, ticket, key)
            band(ax, x, values, COLOURS[ticket], f"{ticket} (ours)")
            theirs = published_pruning(numbers, ticket, key)
            if theirs is not None:
                ax.plot(
                    x, theirs.mean(0), color=COLOURS[ticket], ls=":", lw=1.2, label=f"{ticket} (published)"
                )
        dense = pruning_values(numbers, "lottery", key)[:, 0].mean()
        ax.axhline(dense, color="black", ls="--", lw=1, label="dense (ours)")
        ax.set(xlabel="sparsity (fraction of every layer pruned)", title=title)
        if key == "loss":
            ax.set_yscale("log")
        else:
            ax.set_ylim(50, 80)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2, loc="lower left" if key == "loss" else "upper left")
    fig.suptitle(
        f"Iterative magnitude pruning with rewinding: mean ± sd over {trials} trials (ours); "
        f"published: mean of the notebook's {published_trials()} trials"
    )
    return fig


def published_probe(condition: str, net: str) -> tuple[np.ndarray, np.ndarray]:
    probes = reference()["probes"]
    return np.array(probes["steps"]), np.array(probes[condition][net])


def probes_figure(numbers: dict[str, Any]) -> Figure:
    """Test accuracy over training of the dense net and both tickets, one panel per probe."""
    conditions = list(numbers["probes"][0])
    fig = Figure(figsize=(4.2 * len(conditions), 4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(conditions), sharey=True))
    for ax, condition in zip(axes, conditions, strict=True):
        for net in NETS:
            steps, values = probe_values(numbers, condition, net)
            band(ax, steps, values, COLOURS[net], net)
            theirs_steps, theirs = published_probe(condition, net)
            ax.plot(theirs_steps, theirs.mean(0), "o", mfc="none", color=COLOURS[net], ms=6)
        ax.set(title=TITLES[condition], xlabel="training step", ylim=(50, 78))
        ax.grid(alpha=0.3)
    axes[0].plot([], [], "o", mfc="none", color="gray", label="published (mean of 2)")
    axes[0].set_ylabel("test accuracy (%)")
    axes[0].legend(fontsize=8, loc="lower right")
    trials = len(numbers["probes"])
    ticket = 100 * numbers["sparsity"][numbers["ticket_round"]]
    fig.suptitle(f"Tickets {ticket:.0f} % sparse on a freshly drawn MNIST-1D: mean ± sd over {trials} trials")
    return fig


def summary_figure(numbers: dict[str, Any]) -> Figure:
    """The reference's summary panel: the dense net, both tickets, the lottery ticket on shuffled inputs
    and from another initialisation."""
    fig = Figure(figsize=(6.5, 4.8), layout="constrained")
    ax = fig.subplots()
    paper = reference()["summary_paper_figure"]
    curves = (  # probe, net, colour, name in the paper figure's numbers
        ("same", "dense", "dense", "dense"),
        ("same", "random", "random", "random"),
        ("same", "lottery", "lottery", "lottery"),
        ("shuffled", "lottery", "shuffled", "lottery_shuffled"),
        ("reinit", "lottery", "reinit", "lottery_reinit"),
    )
    for condition, net, colour, name in curves:
        if condition not in numbers["probes"][0]:
            continue
        steps, values = probe_values(numbers, condition, net)
        label = net if condition == "same" else f"{net} ({TITLES[condition]})"
        band(ax, steps, values, COLOURS[colour], label)
        theirs_steps, theirs = published_probe(condition, net)
        ax.plot(theirs_steps, theirs.mean(0), "o", mfc="none", color=COLOURS[colour], ms=6)
        ax.plot(paper["step"], paper[name], "x", color=COLOURS[colour], ms=8, mew=2)
    ax.plot([], [], "o", mfc="none", color="gray", label="published notebook (mean of 2)")
    ax.plot([], [], "x", color="gray", mew=2, label="published paper figure")
    ticket = 100 * numbers["sparsity"][numbers["ticket_round"]]
    title = f"Lottery ticket analysis ({ticket:.0f} % sparse), {len(numbers['probes'])} trials"
    ax.set(xlabel="training step", ylabel="test accuracy (%)", ylim=(50, 78), title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    return fig


def adjacency_order(mask: np.ndarray) -> np.ndarray:
    """Hidden units ordered by how many adjacent kept input pairs they have (ties: more kept first), as the
    reference draws them."""
    kept = mask.astype(float)
    score = (kept[:, :-1] * kept[:, 1:]).sum(1) + 1e-3 * kept.sum(1)
    return np.argsort(-score, kind="stable")


def adjacency_figure(numbers: dict[str, Any], run_dir: Path) -> Figure:
    """p(k adjacent kept weights) in the first layer for both tickets, and trial 0's first-layer masks."""
    fig = Figure(figsize=(13, 7.5), layout="constrained")
    grid = fig.add_gridspec(3, 3, height_ratios=[1.3, 1, 1])
    notebook, paper = reference()["adjacency_notebook_figure"], reference()["adjacency_paper_figure"]
    for column, k in enumerate((2, 3, 4)):
        ax = fig.add_subplot(grid[0, column])
        for x, ticket in enumerate(("random", "lottery")):
            values = [trial[f"p{k}"] for trial in numbers["adjacency"][ticket]]
            sd = np.std(values, ddof=1) if len(values) > 1 else None
            ax.bar(x, np.mean(values), yerr=sd, color=COLOURS[ticket], alpha=0.55, capsize=6)
            ax.plot(x - 0.2, notebook[ticket][f"p{k}"], "o", mfc="none", color="black", ms=7)
            ax.plot(x + 0.2, paper[ticket][f"p{k}"], "x", color="black", ms=7, mew=2)
        independent = np.mean([trial[f"p{k}_independent"] for trial in numbers["adjacency"]["random"]])
        ax.axhline(independent, color="gray", ls="--", lw=1)
        ax.set_xticks([0, 1], ["random", "lottery"])
        ax.set_title(f"p({k} adjacent kept weights)")
        ax.grid(alpha=0.3, axis="y")
    ax.plot([], [], "o", mfc="none", color="black", label="published notebook")
    ax.plot([], [], "x", color="black", mew=2, label="published paper figure")
    ax.plot([], [], ls="--", color="gray", label="independent random mask")
    ax.legend(fontsize=8, loc="upper left")
    round_dir = f"round{numbers['ticket_round']:03d}"
    for row, ticket in enumerate(("random", "lottery"), start=1):
        ax = fig.add_subplot(grid[row, :])
        path = run_dir / "pruning" / "trial0" / ticket / round_dir / "mask.npz"
        mask = read_arrays(path, "mask")["linear1.weight"].numpy()
        kept = 100 * mask.mean()
        ax.imshow(
            ~mask[adjacency_order(mask)].T,
            cmap="gray",
            vmin=0,
            vmax=1,
            aspect="auto",
            interpolation="nearest",
        )
        ax.set(title=f"{ticket} ticket, trial 0: first-layer weights kept (black), {kept:.1f} % kept",
               xlabel="hidden unit (sorted by adjacent kept pairs)", ylabel="input position")  # fmt: skip
    trials = len(numbers["adjacency"]["lottery"])
    fig.suptitle(f"Adjacency of the first layer's kept weights: bars mean ± sd over {trials} trials (ours)")
    return fig


def figures(numbers: dict[str, Any], run_dir: Path) -> dict[str, Figure]:
    return {
        STEM: pruning_figure(numbers),
        "lottery_asymptotes": probes_figure(numbers),
        "lottery_summary": summary_figure(numbers),
        "lottery_adjacency": adjacency_figure(numbers, run_dir),
    }


def save_figures(numbers: dict[str, Any], run_dir: Path) -> list[Path]:
    return [
        path for name, fig in figures(numbers, run_dir).items() for path in save_figure(fig, run_dir, name)
    ]


def interval_cells(ours: dict[str, Any], theirs: list[float]) -> list[str]:
    """Table cells: theirs per trial and mean, ours mean ± sd (n), the interval and the verdict."""
    mean = float(np.mean(theirs))
    interval = ours["interval"]
    return [
        ", ".join(f"{v:.1f}" for v in theirs),
        f"{mean:.1f}",
        f"{ours['mean']:.1f} ± {ours['sd']:.1f} ({ours['n']})",
        "—" if interval is None else f"[{interval[0]:.1f}, {interval[1]:.1f}]",
        interval_verdict(mean, interval),
    ]


def table_rounds(numbers: dict[str, Any]) -> list[int]:
    last = len(numbers["sparsity"]) - 1
    return sorted({0, round(0.5 * last), round(0.8 * last), numbers["ticket_round"], round(0.97 * last)})


def band_gain(sparsity: np.ndarray, lottery: np.ndarray, random: np.ndarray) -> np.ndarray:
    """Per trial: lottery minus random final accuracy, averaged over the rounds in `SPARSITY_BAND`."""
    inside = (sparsity >= SPARSITY_BAND[0]) & (sparsity <= SPARSITY_BAND[1])
    return (lottery[:, inside] - random[:, inside]).mean(1)


def pruning_rows(numbers: dict[str, Any]) -> list[str]:
    header = (
        "| sparsity | ticket | published (trials) | published mean | ours (n) | 95 % interval | verdict |"
    )
    lines = [header, "|---|---|---|---|---|---|---|"]
    sparsity = np.array(numbers["sparsity"])
    for key in ("final_acc", "best_acc"):
        for index in table_rounds(numbers):
            for ticket in ("lottery", "random"):
                theirs = published_pruning(numbers, ticket, key)
                if theirs is None:
                    continue
                ours = stats(pruning_values(numbers, ticket, key)[:, index])
                label = f"{sparsity[index]:.2f}" + (" (best)" if key == "best_acc" else "")
                lines.append(
                    "| " + " | ".join([label, ticket, *interval_cells(ours, theirs[:, index])]) + " |"
                )
    lottery, random = (pruning_values(numbers, t, "final_acc") for t in ("lottery", "random"))
    theirs = [published_pruning(numbers, t, "final_acc") for t in ("lottery", "random")]
    if theirs[0] is not None:
        low, high = SPARSITY_BAND
        ours = stats(band_gain(sparsity, lottery, random))
        gain = band_gain(sparsity, *theirs)
        lines.append(f"| {low}-{high} | lottery - random | " + " | ".join(interval_cells(ours, gain)) + " |")
        ours, peak = stats(lottery.max(1)), theirs[0].max(1)
        lines.append("| highest over rounds | lottery | " + " | ".join(interval_cells(ours, peak)) + " |")
    return lines


def probe_rows(numbers: dict[str, Any]) -> list[str]:
    header = "| inputs | net | published (trials) | published mean | ours (n) | 95 % interval | verdict |"
    lines = [header, "|---|---|---|---|---|---|---|"]
    for condition in numbers["probes"][0]:
        finals = {net: probe_values(numbers, condition, net)[1][:, -1] for net in NETS}
        theirs = {net: published_probe(condition, net)[1][:, -1] for net in NETS}
        for net in NETS:
            cells = interval_cells(stats(finals[net]), theirs[net])
            lines.append("| " + " | ".join([TITLES[condition], net, *cells]) + " |")
        for net in TICKETS:
            cells = interval_cells(stats(finals[net] - finals["dense"]), theirs[net] - theirs["dense"])
            lines.append("| " + " | ".join([TITLES[condition], f"{net} - dense", *cells]) + " |")
    return lines


def adjacency_rows(numbers: dict[str, Any]) -> list[str]:
    notebook = reference()["adjacency_notebook_figure"]
    header = (
        "| measure | ticket | published (notebook's figure) | ours (n) | 95 % interval (one run) | verdict "
        "| independent random mask |"
    )
    lines = [header, "|---|---|---|---|---|---|---|"]
    for k in (2, 3):
        for ticket in TICKETS:
            values = [trial[f"p{k}"] for trial in numbers["adjacency"][ticket]]
            interval = prediction_interval(seed_stats(values))
            expected = np.mean([trial[f"p{k}_independent"] for trial in numbers["adjacency"][ticket]])
            theirs = notebook[ticket][f"p{k}"]
            sd = np.std(values, ddof=1) if len(values) > 1 else 0.0
            cells = [f"p{k}", ticket, f"{theirs:.5f}", f"{np.mean(values):.5f} ± {sd:.5f} ({len(values)})",
                     "—" if interval is None else f"[{interval[0]:.5f}, {interval[1]:.5f}]",
                     interval_verdict(theirs, interval), f"{expected:.5f}"]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_tables(numbers: dict[str, Any], run_dir: Path) -> Path:
    """lottery_tickets.md: every published number beside ours, with its interval and verdict."""
    trials, runs = len(numbers["pruning"]["lottery"]), published_trials()
    text = "\n".join([
        "# Lottery tickets",
        "",
        f"Test accuracy (%), ours over {trials} trials. Published: the reference notebook's {runs} trials "
        f"(printed per round and every 1000 steps). Interval: 95 % prediction interval for the mean of "
        f"{runs} new trials, mean ± t · sd · √(1/{runs} + 1/n) of ours; verdict: the published mean inside "
        "or outside it.",
        "",
        "## Pruning rounds (final: the last evaluation of the round; best: the best evaluation)",
        "",
        *pruning_rows(numbers),
        "",
        "## The tickets on a freshly drawn MNIST-1D (final test accuracy, last step)",
        "",
        *probe_rows(numbers),
        "",
        "## Adjacency of the first layer's kept weights (published: one trial, read off its figure)",
        "",
        *adjacency_rows(numbers),
        "",
    ])  # fmt: skip
    path = run_dir / f"{STEM}.md"
    write_text(path, text)
    return path


def summary_line(numbers: dict[str, Any]) -> str:
    """One line for the terminal: the ticket round's final accuracies and the fresh-data probe."""
    index = numbers["ticket_round"]
    lottery, random = (pruning_values(numbers, t, "final_acc")[:, index].mean() for t in TICKETS)
    return (
        f"sparsity {numbers['sparsity'][index]:.2f}: lottery ticket {lottery:.1f} %, "
        f"random ticket {random:.1f} % (mean of {len(numbers['pruning']['lottery'])} trials); "
        f"details in {STEM}.md"
    )
