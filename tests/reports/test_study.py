"""The study report from rows alone (no training): the final and best tables beside the published numbers,
each judged against our 95 % prediction interval, the rankings, per-digit errors, failures and figures."""

from __future__ import annotations

import statistics
from pathlib import Path

from matplotlib.image import imread
from omegaconf import OmegaConf

from mnist1d.records import TrainRecord, write_run
from mnist1d.reports.study import published_results, study_report
from mnist1d.reports.study_figures import FIGURE_SIZE_PX
from tests.helpers import result_row


def test_study_report_table_failures_and_figures(tmp_path: Path):
    rows = [
        result_row("cnn", 1000, seed, [0.6, 0.7, 0.95, acc]) for seed, acc in enumerate([0.90, 0.92, 0.94])
    ]
    rows += [result_row("gru", 1000, 0, [0.5, 0.6, 0.7, 0.85])]
    rows += [result_row("gru", 1000, 1, [0.5], status="failed", error="FloatingPointError: loss is nan")]
    paths = study_report(tmp_path, rows, OmegaConf.create({"name": "study"}))
    report = (tmp_path / "results.md").read_text()
    final, best = report.split("## Best accuracy during training")
    cnn = [90, 92, 94]
    mean, std = statistics.fmean(cnn), statistics.stdev(cnn)
    half = 4.3027 * std * (1 + 1 / 3) ** 0.5  # t(2, 0.975): the interval for one new run
    interval = f"[{mean - half:.1f}, {mean + half:.1f}]"
    assert f"| cnn | 5,210 | {mean:.1f} ± {std:.1f} (n=3) | {interval} | 88.3 |" in final
    assert "| gru | 5,134 | 85.0 (n=1) | — | 86.6 |" in final  # one run: no interval
    assert "| cnn | 5,210 | 95.0 ± 0.0 (n=3) |" in best  # the best evaluation of each seed
    assert "| gru-1000-1 | failed | FloatingPointError: loss is nan |" in report
    assert f"| human | — | — | — | {published_results()['human']['test_accuracy']:g} |" in final
    assert "Protocol: **ours** (`data.order` —, `model.eval_norm` —, `eval_every` —)." in report
    # every published number beside ours read the same way, judged against the prediction interval
    assert f"| cnn | 1000 | Beebe et al. (final) | 88.3 | 92.0 ± 2.0 (n=3) | {interval} | inside |" in report
    assert "| gru | 1000 | Beebe et al. (final) | 86.6 | 85.0 ± 0.0 (n=1) | — | — |" in report
    assert "1 of 1 published numbers lie inside our 95 % prediction interval for one run" in report
    their_order = "resnet 98.4 > tcn 96.6 > dcnn 95.6 > cnn 88.3 > gru 86.6 > mlp 61.4 > logistic 32.7"
    assert f"| 1000 | cnn 92.0 > gru 85.0 | {their_order} |" in report  # the rankings
    pngs = [path for path in paths if path.suffix == ".png"]
    assert [p.name for p in pngs] == [
        "accuracy_1000steps.png",
        "learning_curves.png",
        "accuracy_vs_parameters.png",
    ]
    for png in pngs:
        height, width, _ = imread(png).shape
        assert (width, height) == FIGURE_SIZE_PX


def test_study_report_compares_6000_steps_with_gk_and_draws_per_digit_errors(tmp_path: Path):
    rows = []
    for seed, (at_6000, at_10000) in enumerate([(0.93, 0.94), (0.91, 0.95), (0.92, 0.93)]):
        history = [0.5] * 23 + [at_6000] + [0.9] * 15 + [at_10000]  # evaluations every 250 steps
        run = result_row("cnn", 10000, seed, history, job_dir=f"{seed}_cnn-10000steps-seed{seed}")
        shared = result_row("cnn", 6000, seed, history[:24], shared_budget=True, job_dir=None)
        rows += [run, shared | {"source_run": run["job_dir"]}]
        (tmp_path / run["job_dir"]).mkdir()
        per_class = [0.99, 0.9, 0.85, 1.0, 0.9, 0.97, 1.0, 0.88, 0.96, 0.93]
        record = TrainRecord(model="cnn", status="ok", seed=seed, per_class_acc=per_class)
        write_run(tmp_path / run["job_dir"], record)
    paths = study_report(tmp_path, rows, OmegaConf.create({"name": "study"}))
    report = (tmp_path / "results.md").read_text()
    best = report.split("## Best accuracy during training")[1]
    assert "| model | parameters | 6000 steps | 95 % PI | G&K 6000 | 10000 steps |" in best
    assert "| cnn | 5,210 | 92.0 ± 1.0 (n=3) | [87.0, 97.0] | 94 | 94.0 ± 1.0 (n=3) |" in best
    assert (
        "| cnn | 6000 | Greydanus & Kobak (best) | 94 | 92.0 ± 1.0 (n=3) | [87.0, 97.0] | inside |" in report
    )
    assert "## Per-digit test error (%)" in report and "| 2 | 11.9 | 16.3 | 15.0 |" in report
    assert "CNN (reference, read off its figure)" in report
    names = [p.name for p in paths if p.suffix == ".png"]
    assert "per_digit_errors.png" in names and "learning_curves_6000steps.png" in names
    assert "learning_curves_10000steps.png" not in names  # the longest budget's are learning_curves.png
    height, width, _ = imread(tmp_path / "per_digit_errors.png").shape
    assert (width, height) == FIGURE_SIZE_PX
