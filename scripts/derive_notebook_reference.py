"""Derive the published lottery-ticket and self-supervised numbers from the reference notebooks' outputs.

    python scripts/derive_notebook_reference.py lottery_tickets <lottery-tickets.ipynb>
    python scripts/derive_notebook_reference.py self_supervised <self-supervised-learning.ipynb>

The notebooks are those of greydanus/mnist1d (`notebooks/`), executed by their authors; their printed
outputs hold every number of the two experiments (one line per pruning round, per 1000 training steps, per
10 epochs, per probed layer). This reads them as JSON text (nothing in them is run) and prints the data
part of the matching section of mnist1d/reports/published_results.json; the section's `source`, `protocol`
and the values read off figures are written by hand.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

NUMBER = r"([-+0-9.e]+)"


def cell_outputs(notebook: Path) -> list[str]:
    """The printed text of every code cell, in order (empty for a cell that printed nothing)."""
    cells = json.loads(notebook.read_text())["cells"]
    return [
        "".join("".join(out.get("text", "")) for out in cell.get("outputs", []))
        for cell in cells
        if cell["cell_type"] == "code"
    ]


def pruning_rounds(text: str) -> dict[str, Any]:
    """The pruning cell: per method (random, then magnitude, per trial), the last and best test accuracy of
    every round ("retrain #k, sparsity s, final_train_loss l, max_acc m, last_acc a, mean_acc x")."""
    rounds: dict[str, Any] = {
        "lottery": {"final_acc": [], "best_acc": []},
        "random": {"final_acc": [], "best_acc": []},
    }
    ticket = None
    for line in text.splitlines():
        if "Random pruning" in line or "Magnitude pruning" in line:
            ticket = "random" if "Random" in line else "lottery"
            rounds[ticket]["final_acc"].append([])
            rounds[ticket]["best_acc"].append([])
        match = re.search(rf"max_acc {NUMBER}, last_acc {NUMBER}", line)
        if match and ticket:
            rounds[ticket]["best_acc"][-1].append(float(match[1]))
            rounds[ticket]["final_acc"][-1].append(float(match[2]))
    return rounds


def probe_runs(text: str) -> dict[str, list[list[float]]]:
    """A probe cell: per trial, dense, lottery and random runs one after the other, each printing its test
    accuracy every 1000 steps ("step N, ..., test_acc a")."""
    accs = [float(a) for a in re.findall(rf"test_acc {NUMBER}", text)]
    steps = len(re.findall(r"^step ", text.split("Trial 1")[0], flags=re.MULTILINE)) // 3
    runs = [accs[i : i + steps] for i in range(0, len(accs), steps)]
    nets = ("dense", "lottery", "random")
    return {net: [run for i, run in enumerate(runs) if i % 3 == n] for n, net in enumerate(nets)}


def lottery_tickets(notebook: Path) -> dict[str, Any]:
    outputs = cell_outputs(notebook)
    probe_cells = {"same": "results = {", "shuffled": "results_shuff = {", "flipped": "results_flip = {",
                   "chunks": "results_chunks = {", "reinit": "results_seed = {"}  # fmt: skip
    sources = [
        "".join(cell["source"])
        for cell in json.loads(notebook.read_text())["cells"]
        if cell["cell_type"] == "code"
    ]
    pruning = next(out for out in outputs if "Magnitude pruning" in out)
    probes = {
        condition: probe_runs(next(out for src, out in zip(sources, outputs, strict=True) if marker in src))
        for condition, marker in probe_cells.items()
    }
    return {
        "pruning": pruning_rounds(pruning),
        "probes": {"steps": [1000 * i for i in range(1, 7)], **probes},
    }


def self_supervised(notebook: Path) -> dict[str, Any]:
    """Per head (default, none, deep, in the notebook's order): the loss, kNN accuracy of the output and
    linear accuracy of the trunk every 10 epochs, then the linear accuracy of every layer."""
    outputs = [out for out in cell_outputs(notebook) if out]
    epochs = [out for out in outputs if out.lstrip().startswith("Initialized CNN")]
    layers = [out for out in outputs if out.startswith("Layer 0")]
    heads = {}
    for head, curve, probe in zip(("default", "none", "deep"), epochs, layers, strict=True):
        rows = re.findall(
            rf"Epoch +(\d+), loss per batch {NUMBER}, val kNN acc Z: +{NUMBER}, val lin acc H: +{NUMBER}",
            curve,
        )
        heads[head] = {
            "epochs": [int(r[0]) for r in rows],
            "loss": [float(r[1]) for r in rows],
            "knn_output": [float(r[2]) for r in rows],
            "linear_trunk": [float(r[3]) for r in rows],
            "linear_by_layer": [float(a) for a in re.findall(rf"linear accuracy {NUMBER}", probe)],
            "parameters": int(re.search(r"with (\d+) parameters", curve)[1]),
        }
    return heads


if __name__ == "__main__":
    kind, path = sys.argv[1], Path(sys.argv[2])
    derive = {"lottery_tickets": lottery_tickets, "self_supervised": self_supervised}[kind]
    print(json.dumps(derive(path)))
