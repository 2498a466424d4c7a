"""results.json: what a sweep report needs from one run (written atomically by `atomic.write_json`)."""

from __future__ import annotations

import json
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

from mnist1d.atomic import save_figure
from mnist1d.errors import disk_full_names
from mnist1d.training.checkpoint_io import CHECKPOINTS_DIR, disk_full_advice

RESULTS_FILE = "results.json"
STATUS_OK, STATUS_FAILED, STATUS_INTERRUPTED = "ok", "failed", "interrupted"
LIBRARIES = ("torch", "pytorch-lightning", "torchmetrics", "hydra-core", "numpy", "wandb", "mnist1d-lab")


def library_versions() -> dict[str, str]:
    """Installed versions; torch's with its build tag (`+cu121`, `+cpu`), which its metadata may omit."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    versions["torch"] = torch.__version__
    return versions


def read_results(run_dir: Path) -> dict[str, Any] | None:
    """The run's results, or None when the run has not written (valid) results."""
    try:
        return json.loads((run_dir / RESULTS_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def save_confusion_figure(matrix: list[list[int]], out_dir: Path, title: str) -> Path:
    """`confusion_matrix.png`: the test confusion matrix as counts, true class by row (torchmetrics' plot)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from torchmetrics.classification import MulticlassConfusionMatrix

    fig, ax = plt.subplots(figsize=(5.2, 4.6), layout="constrained")
    plot = MulticlassConfusionMatrix(num_classes=len(matrix)).plot
    plot(torch.tensor(matrix), ax=ax, labels=[str(c) for c in range(len(matrix))], cmap="Blues")
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    with disk_full_names(out_dir / "confusion_matrix.png", disk_full_advice(out_dir / CHECKPOINTS_DIR)):
        (png,) = save_figure(fig, out_dir, "confusion_matrix", formats=("png",))
    return png


def summary_lines(results: dict[str, Any], run_dir: Path) -> list[str]:
    """What a run prints when it ends: accuracies, speed, where its files are."""
    split = results.get("eval_split", "test")

    def percent(value: float | None) -> str:
        return "—" if value is None else f"{100 * value:.1f} %"

    final, best, test = (percent(results.get(key)) for key in ("final_acc", "best_acc", "final_test_acc"))
    evaluated = f"{split} accuracy {final} at the end (best {best}), " if "final_acc" in results else ""
    lines = [f"{results['status']}: {evaluated}final test accuracy {test}"]
    if results.get("steps_per_s"):
        speed = f"{results['fit_time_s']:.1f} s ({results['steps_per_s']:.0f} steps/s)"
        lines.append(f"{results['steps']} steps in {speed}, {results['wall_time_s']:.1f} s in all")
    lines.append(f"run directory: {run_dir}")
    wandb_dir = run_dir / "wandb"
    if any(wandb_dir.glob("offline-run-*")):
        lines.append(f"W&B (offline): upload with `wandb sync {wandb_dir}/offline-run-*`")
    return lines
