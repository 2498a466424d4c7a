"""The study report of a sweep: results.md (model x steps, mean ± std over seeds, beside the published
numbers) and the figures. `study_report` is the `report_fn` of conf/sweep/study.yaml; sweep.py imports
this module only when it writes a report (it brings in matplotlib)."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from importlib.resources import files
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from mnist1d import sweep_figures
from mnist1d.results import STATUS_OK
from mnist1d.sweep_figures import Curve, Stat, ordered
from mnist1d.sweep_summary import write_text_atomic

RESULTS_MD = "results.md"


def published_results() -> dict[str, Any]:
    """The published numbers (percent), shipped with the package: mnist1d/published_results.json."""
    return json.loads(files("mnist1d").joinpath("published_results.json").read_text())


def percent_stat(values: list[float]) -> Stat:
    percent = [100 * value for value in values]
    std = statistics.stdev(percent) if len(percent) > 1 else 0.0
    return Stat(statistics.fmean(percent), std, len(percent))


def completed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if row["status"] == STATUS_OK and row["final_acc"] is not None]


def accuracy_stats(rows: list[dict[str, Any]]) -> dict[tuple[str, int], Stat]:
    """(model, steps) -> Stat of the final accuracy over seeds, in percent."""
    groups: dict[tuple[str, int], list[float]] = defaultdict(list)
    for row in completed(rows):
        groups[(row["model"], row["steps"])].append(row["final_acc"])
    return {key: percent_stat(values) for key, values in groups.items()}


def learning_curves(rows: list[dict[str, Any]]) -> dict[str, Curve]:
    """Per model, the curve over seeds of its longest separately trained runs, at steps all seeds share."""
    curves = {}
    runs = [row for row in completed(rows) if not row["shared_budget"]]
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
    shuffled = any(row["config"].get("data", {}).get("shuffle_seq") for row in completed(rows))
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
    return f"{stat.mean:.1f} (n=1)" if stat.n == 1 else f"{stat.mean:.1f} ± {stat.std:.1f} (n={stat.n})"


def results_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: one row per model, per step budget ours beside Beebe et al.'s, then the G&K paper."""
    stats = accuracy_stats(rows)
    variant, human, beebe, paper = reference(rows)
    budgets = sorted({steps for _, steps in stats})
    parameters = {row["model"]: row["parameters"] for row in completed(rows)}
    header = ["model", "parameters"]
    for steps in budgets:
        header += [f"{steps} steps", f"Beebe et al. {steps}"]
    header.append("G&K paper (6000 steps)")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model in ordered(list(parameters)):
        cells = [model, f"{parameters[model]:,}"]
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
    ok = len(completed(rows))
    shared = [row for row in completed(rows) if row["shared_budget"]]
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
    write_text_atomic(path, text)
    return path


def write_figures(sweep_dir: Path, rows: list[dict[str, Any]]) -> list[Path]:
    stats = accuracy_stats(rows)
    if not stats:
        return []
    _, human, beebe, _ = reference(rows)
    budgets = sorted({steps for _, steps in stats})
    figures = []
    for steps in budgets:
        per_model = {model: stat for (model, s), stat in stats.items() if s == steps}
        path = sweep_dir / f"accuracy_{steps}steps.png"
        figures.append(sweep_figures.accuracy_bars(path, steps, per_model, human, beebe.get(steps, {})))
    figures.append(
        sweep_figures.learning_curves(sweep_dir / "learning_curves.png", learning_curves(rows), human)
    )
    parameters = {row["model"]: row["parameters"] for row in completed(rows)}
    points = {model: (parameters[model], stat) for (model, s), stat in stats.items() if s == budgets[-1]}
    path = sweep_dir / "accuracy_vs_parameters.png"
    figures.append(sweep_figures.accuracy_vs_parameters(path, points, budgets[-1]))
    return figures


def study_report(sweep_dir: Path, rows: list[dict[str, Any]], cfg: DictConfig) -> list[Path]:
    """results.md and the figures of a model x steps x seeds sweep; returns the paths written."""
    figures = write_figures(sweep_dir, rows)
    return [write_results_md(sweep_dir, rows, cfg, figures), *figures]
