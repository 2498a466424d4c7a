"""The study report of a sweep: results.md (model x steps, mean ± std over seeds, beside the published
numbers) and the figures. `study_report` is the `report_fn` of conf/sweeps/sweep/study.yaml; sweep.py imports
this module only when it writes a report (it brings in matplotlib)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from mnist1d.atomic import write_text
from mnist1d.reports import study_figures
from mnist1d.reports.common import finished, published_results, summary
from mnist1d.reports.study_figures import Curve, Stat
from mnist1d.training.results import STATUS_OK

RESULTS_MD = "results.md"


def accuracy_stats(rows: list[dict[str, Any]]) -> dict[tuple[str, int], Stat]:
    """(model, steps) -> summary of the final accuracy over seeds, in percent."""
    groups: dict[tuple[str, int], list[float]] = defaultdict(list)
    for row in finished(rows):
        groups[(row["model"], row["steps"])].append(100 * row["final_acc"])
    return {key: summary(values) for key, values in groups.items()}


def models_by_size(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Model -> parameter count of the finished runs, smallest model first (the order of every table and
    figure)."""
    parameters = {row["model"]: row["parameters"] for row in finished(rows)}
    return dict(sorted(parameters.items(), key=lambda item: (item[1], item[0])))


def learning_curves(rows: list[dict[str, Any]]) -> dict[str, Curve]:
    """Per model, the curve over seeds of its longest separately trained runs, at steps all seeds share."""
    curves = {}
    runs = [row for row in finished(rows) if not row["shared_budget"]]
    for model in {row["model"] for row in runs}:
        longest = max(row["steps"] for row in runs if row["model"] == model)
        per_seed = []
        for row in runs:
            if row["model"] == model and row["steps"] == longest:
                key = f"{row['config'].get('eval_split', 'test')}/acc"
                per_seed.append({record["step"]: 100 * record[key] for record in row["history"]})
        steps = sorted(set.intersection(*(set(seed) for seed in per_seed)))
        values = [[seed[step] for seed in per_seed] for step in steps]
        curves[model] = Curve(steps, [statistics.fmean(v) for v in values], [min(v) for v in values],
                              [max(v) for v in values])  # fmt: skip
    return curves


def reference(rows: list[dict[str, Any]]) -> tuple[str, float, dict[int, dict[str, float]], dict[str, float]]:
    """Published numbers matching the runs' data: (variant, human, Beebe et al. per steps, G&K table)."""
    published = published_results()
    shuffled = any(row["config"].get("data", {}).get("shuffle_seq") for row in finished(rows))
    variant = "mnist1d_shuffled" if shuffled else "mnist1d"
    table = dict(published["original_paper_table"][variant])
    human = table.pop("human") if shuffled else published["human"]["test_accuracy"]
    beebe = {} if shuffled else {
        int(key.removeprefix("steps_")): value
        for key, value in published["beebe_et_al_runs"].items() if key.startswith("steps_")
    }  # fmt: skip
    return variant, human, beebe, table


def cell(stat: Stat | None) -> str:
    if stat is None:
        return "—"
    if stat["n"] == 1:
        return f"{stat['mean']:.1f} (n=1)"
    return f"{stat['mean']:.1f} ± {stat['std']:.1f} (n={stat['n']})"


def results_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: one row per model, per step budget ours beside Beebe et al.'s, then the G&K paper."""
    stats = accuracy_stats(rows)
    variant, human, beebe, paper = reference(rows)
    budgets = sorted({steps for _, steps in stats})
    parameters = models_by_size(rows)
    header = ["model", "parameters"]
    for steps in budgets:
        header += [f"{steps} steps", f"Beebe et al. {steps}"]
    header.append("G&K paper (6000 steps)")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model, count in parameters.items():
        cells = [model, f"{count:,}"]
        for steps in budgets:
            cells += [cell(stats.get((model, steps))), str(beebe.get(steps, {}).get(model, "—"))]
        cells.append(str(paper.get(model, "—")))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("| human | — | " + " | ".join(["—", f"{human:g}"] * len(budgets)) + f" | {human:g} |")
    return "\n".join(lines) + f"\n\nData: `{variant}`. Accuracy in percent at the final step of each run.\n"


def failures_table(rows: list[dict[str, Any]]) -> str:
    failed = [row for row in rows if row["status"] != STATUS_OK]
    if not failed:
        return "All runs completed.\n"
    lines = ["| run | status | error |", "|---|---|---|"]
    for row in failed:
        run = row["job_dir"] or f"job {row['job']} ({row['model']}, {row['steps']} steps, seed {row['seed']})"
        error = str(row["error"]).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {run} | {row['status']} | {error} |")
    return "\n".join(lines) + "\n"


def write_results_md(
    sweep_dir: Path, rows: list[dict[str, Any]], cfg: DictConfig, figures: list[Path]
) -> Path:
    ok = len(finished(rows))
    shared = [row for row in finished(rows) if row["shared_budget"]]
    text = f"# Sweep `{cfg.get('name', 'multirun')}`: {sweep_dir.name}\n\n"
    text += f"{ok} of {len(rows)} runs completed. Mean ± std over seeds (n = seeds), test accuracy (%).\n\n"
    text += results_table(rows)
    if shared:
        text += (
            f"\n{len(shared)} rows are shared budgets: read from the evaluation history of the longest run"
            " of the same model and seed (`shared_budget`, `source_run` in summary.csv).\n"
        )
    text += "\nPublished: Beebe et al. (one seed, read from one 10000-step run); Greydanus & Kobak table.\n"
    text += "\n## Failed or missing runs\n\n" + failures_table(rows)
    text += "\n## Figures\n\n" + "".join(f"![{path.stem}]({path.name})\n" for path in figures)
    path = sweep_dir / RESULTS_MD
    write_text(path, text)
    return path


def write_figures(sweep_dir: Path, rows: list[dict[str, Any]]) -> list[Path]:
    stats = accuracy_stats(rows)
    if not stats:
        return []
    _, human, beebe, _ = reference(rows)
    budgets = sorted({steps for _, steps in stats})
    parameters = models_by_size(rows)
    figures = []
    for steps in budgets:
        per_model = {model: stats[model, steps] for model in parameters if (model, steps) in stats}
        path = sweep_dir / f"accuracy_{steps}steps.png"
        figures.append(study_figures.accuracy_bars(path, steps, per_model, human, beebe.get(steps, {})))
    curves = learning_curves(rows)
    curves = {model: curves[model] for model in parameters if model in curves}
    figures.append(study_figures.learning_curves(sweep_dir / "learning_curves.png", curves, human))
    last = budgets[-1]
    points = {
        model: (count, stats[model, last]) for model, count in parameters.items() if (model, last) in stats
    }
    path = sweep_dir / "accuracy_vs_parameters.png"
    figures.append(study_figures.accuracy_vs_parameters(path, points, budgets[-1]))
    return figures


def study_report(sweep_dir: Path, rows: list[dict[str, Any]], cfg: DictConfig) -> list[Path]:
    """results.md and the figures of a model x steps x seeds sweep; returns the paths written."""
    figures = write_figures(sweep_dir, rows)
    return [write_results_md(sweep_dir, rows, cfg, figures), *figures]
