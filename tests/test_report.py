"""The report from rows alone (no training): shared budgets, the results table, failures and figures."""

from __future__ import annotations

import statistics
from pathlib import Path

from matplotlib.image import imread
from omegaconf import OmegaConf

from mnist1d.report import published_results, study_report
from mnist1d.sweep_figures import FIGURE_SIZE_PX
from mnist1d.sweep_summary import budget_row, collect_rows

CONFIG = {"eval_split": "test", "data": {"shuffle_seq": False}}


def row(model: str, steps: int, seed: int, accuracies: list[float], **extra) -> dict:
    """A completed run evaluated every 250 steps with these accuracies."""
    history = [{"step": 250 * (i + 1), "test/acc": acc} for i, acc in enumerate(accuracies)]
    return {
        "job": None, "job_dir": f"{model}-{steps}-{seed}", "model": model, "steps": steps, "seed": seed,
        "status": "ok", "error": None, "final_acc": accuracies[-1], "best_acc": max(accuracies),
        "final_test_acc": accuracies[-1], "parameters": {"cnn": 5210, "gru": 5134}[model], "wall_time_s": 1.0,
        "steps_per_s": 100.0, "shared_budget": False, "source_run": f"{model}-{steps}-{seed}",
        "overrides": {},
        "history": history, "config": CONFIG,
    } | extra  # fmt: skip


def test_budget_row_reads_the_history_at_that_step():
    longest = row("cnn", 1000, 0, [0.5, 0.8, 0.7, 0.9])
    shared = budget_row(longest, 750)
    assert shared["steps"] == 750 and shared["final_acc"] == 0.7 and shared["best_acc"] == 0.8
    assert shared["shared_budget"] and shared["source_run"] == longest["job_dir"] and shared["status"] == "ok"
    assert [r["step"] for r in shared["history"]] == [250, 500, 750]
    missing = budget_row(longest, 600)
    assert missing["final_acc"] is None and "no evaluation at step 600" in missing["error"]


def test_study_report_table_failures_and_figures(tmp_path: Path):
    rows = [row("cnn", 1000, seed, [0.6, 0.7, 0.8, acc]) for seed, acc in enumerate([0.90, 0.92, 0.95])]
    rows += [row("gru", 1000, 0, [0.5, 0.6, 0.7, 0.85])]
    rows += [row("gru", 1000, 1, [0.5], status="failed", error="FloatingPointError: loss is nan")]
    paths = study_report(tmp_path, rows, OmegaConf.create({"name": "study"}))
    report = (tmp_path / "results.md").read_text()
    cnn = [90, 92, 95]
    assert (
        f"| cnn | 5,210 | {statistics.fmean(cnn):.1f} ± {statistics.stdev(cnn):.1f} (n=3) | 88.3 |" in report
    )
    assert "| gru | 5,134 | 85.0 (n=1) | 86.6 |" in report
    assert "| gru-1000-1 | failed | FloatingPointError: loss is nan |" in report
    assert f"| human | — | — | {published_results()['human']['test_accuracy']:g} |" in report
    pngs = [path for path in paths if path.suffix == ".png"]
    assert [p.name for p in pngs] == [
        "accuracy_1000steps.png",
        "learning_curves.png",
        "accuracy_vs_parameters.png",
    ]
    for png in pngs:
        height, width, _ = imread(png).shape
        assert (width, height) == FIGURE_SIZE_PX


def test_published_numbers_ship_with_the_package():
    published = published_results()
    assert published["beebe_et_al_runs"]["steps_10000"]["tcn"] == 98.8
    assert published["original_paper_table"]["mnist1d"]["cnn"] == 94


def test_a_job_directory_without_results_is_reported_missing(tmp_path: Path):
    job_dir = tmp_path / "3_cnn-1000steps-seed2"
    (job_dir / ".hydra").mkdir(parents=True)
    (job_dir / ".hydra" / "overrides.yaml").write_text("- model=cnn\n- seed=2\n")
    (only,) = collect_rows(tmp_path, None)
    assert (only["job"], only["model"], only["steps"], only["seed"]) == (3, "cnn", 1000, 2)
    assert only["status"] == "missing" and only["overrides"] == {"model": "cnn", "seed": "2"}
