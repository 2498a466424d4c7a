"""What a run or an evaluation shows besides its results.json: the confusion matrix figure and the lines it
prints when it ends."""

from __future__ import annotations

from pathlib import Path

from mnist1d.atomic import save_figure
from mnist1d.errors import disk_full_names
from mnist1d.records import RunRecord, TrainRecord
from mnist1d.training.checkpoint_io import CHECKPOINTS_DIR, disk_full_advice


def save_confusion_figure(matrix: list[list[int]], out_dir: Path, title: str) -> Path:
    """`confusion_matrix.png`: the test confusion matrix as counts, true class by row (torchmetrics' plot)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch
    from torchmetrics.classification import MulticlassConfusionMatrix

    fig, ax = plt.subplots(figsize=(5.2, 4.6), layout="constrained")
    plot = MulticlassConfusionMatrix(num_classes=len(matrix)).plot
    plot(torch.tensor(matrix), ax=ax, labels=[str(c) for c in range(len(matrix))], cmap="Blues")
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    with disk_full_names(out_dir / "confusion_matrix.png", disk_full_advice(out_dir / CHECKPOINTS_DIR)):
        (png,) = save_figure(fig, out_dir, "confusion_matrix", formats=("png",))
    return png


def closing_lines(record: RunRecord, run_dir: Path) -> list[str]:
    """What a run prints when it ends: accuracies, speed, where its files are."""

    def percent(value: float | None) -> str:
        return "—" if value is None else f"{100 * value:.1f} %"

    final, best, test = (
        percent(value) for value in (record.final_acc, record.best_acc, record.final_test_acc)
    )
    trained = isinstance(record, TrainRecord)
    evaluated = f"{record.eval_split} accuracy {final} at the end (best {best}), " if trained else ""
    lines = [f"{record.status}: {evaluated}final test accuracy {test}"]
    if trained and record.steps_per_s:
        speed = f"{record.fit_time_s:.1f} s ({record.steps_per_s:.0f} steps/s)"
        lines.append(f"{record.steps} steps in {speed}, {record.wall_time_s:.1f} s in all")
    lines.append(f"run directory: {run_dir}")
    wandb_dir = run_dir / "wandb"
    if any(wandb_dir.glob("offline-run-*")):
        lines.append(f"W&B (offline): upload with `wandb sync {wandb_dir}/offline-run-*`")
    return lines
