"""The study report of a sweep: results.md (model x steps, mean ± std over seeds, at the final step and best
during training, beside the published numbers, each judged against our 95 % prediction interval for one run;
the papers' rankings; per-digit errors) and the figures. `study_report` is the `report_fn` of
conf/sweeps/sweep/study.yaml; sweep.py imports this module only when it writes a report (it brings in
matplotlib)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from mnist1d.atomic import write_text
from mnist1d.records import STATUS_OK, read_run
from mnist1d.reports import study_figures
from mnist1d.reports.common import (
    READINGS,
    cell,
    count_inside,
    finished,
    interval_cell,
    judge,
    protocol_of,
    published,
    published_results,
    seed_stats,
    setting,
    verdict_cell,
)
from mnist1d.reports.study_figures import Curve, Stat

RESULTS_MD = "results.md"
BEEBE, GK = "Beebe et al.", "Greydanus & Kobak"
SHORT = {BEEBE: "Beebe", GK: "G&K"}
# What each protocol sets, for the report's header (conf/train/experiment/<name>.yaml and train.yaml).
PROTOCOL_KEYS = ("data.order", "model.eval_norm", "eval_every")


def accuracy_stats(rows: list[dict[str, Any]], key: str = "final_acc") -> dict[tuple[str, int], Stat]:
    """(model, steps) -> statistics over seeds, in percent, of `final_acc` or `best_acc`."""
    groups: dict[tuple[str, int], list[float]] = defaultdict(list)
    for row in finished(rows):
        groups[(row["model"], row["steps"])].append(100 * row[key])
    return {key: seed_stats(values) for key, values in groups.items()}


def models_by_size(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Model -> parameter count of the finished runs, smallest model first (the order of every table and
    figure)."""
    parameters = {row["model"]: row["parameters"] for row in finished(rows)}
    return dict(sorted(parameters.items(), key=lambda item: (item[1], item[0])))


def learning_curves(rows: list[dict[str, Any]], steps: int | None = None) -> dict[str, Curve]:
    """Per model, the curve over seeds up to `steps` (a budget of the sweep, shared or trained on its own;
    default: each model's longest separately trained runs), at the steps all seeds share."""
    curves = {}
    done = finished(rows)
    for model in {row["model"] for row in done}:
        runs = [row for row in done if row["model"] == model]
        if steps is None:
            runs = [row for row in runs if not row["shared_budget"]]
            budget = max((row["steps"] for row in runs), default=None)
        else:
            budget = steps
        per_seed = []
        for row in runs:
            if row["steps"] == budget:
                key = f"{row['config'].get('eval_split', 'test')}/acc"
                per_seed.append({r["step"]: 100 * r[key] for r in row["history"] if r["step"] <= budget})
        if not per_seed:
            continue
        shared = sorted(set.intersection(*(set(seed) for seed in per_seed)))
        values = [[seed[step] for seed in per_seed] for step in shared]
        curves[model] = Curve(shared, [statistics.fmean(v) for v in values], [min(v) for v in values],
                              [max(v) for v in values], len(per_seed))  # fmt: skip
    return curves


def reference(rows: list[dict[str, Any]]) -> tuple[str, float, dict[int, dict[str, float]], dict[str, float]]:
    """Published numbers matching the runs' data: (variant, human, Beebe et al. per steps, G&K table)."""
    published_numbers = published_results()
    shuffled = any(row["config"].get("data", {}).get("shuffle_seq") for row in finished(rows))
    variant = "mnist1d_shuffled" if shuffled else "mnist1d"
    table = dict(published_numbers["original_paper_table"][variant])
    human = table.pop("human") if shuffled else published_numbers["human"]["test_accuracy"]
    beebe = {} if shuffled else {
        int(key.removeprefix("steps_")): value
        for key, value in published_numbers["beebe_et_al_runs"].items() if key.startswith("steps_")
    }  # fmt: skip
    return variant, human, beebe, table


def readings() -> dict[str, str]:
    """Paper -> the row key of the accuracy it publishes (`final_acc` or `best_acc`)."""
    return {
        BEEBE: READINGS[published("beebe_et_al_runs")["accuracy"]],
        GK: READINGS[published("original_paper_table")["accuracy"]],
    }


def gk_steps() -> int:
    return published("original_paper_table")["steps"]


def table(rows: list[dict[str, Any]], key: str) -> str:
    """Markdown: one row per model; per step budget ours (`final_acc` or `best_acc`), and where a paper
    publishes that reading at that budget, our 95 % prediction interval and the published number."""
    stats = accuracy_stats(rows, key)
    _, human, beebe, paper = reference(rows)
    budgets = sorted({steps for _, steps in stats})
    name, compare = (BEEBE, beebe) if key == readings()[BEEBE] else (GK, {gk_steps(): paper})
    header = ["model", "parameters"]
    for steps in budgets:
        header.append(f"{steps} steps")
        if compare.get(steps):
            header += ["95 % PI", f"{SHORT[name]} {steps}"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model, count in models_by_size(rows).items():
        cells = [model, f"{count:,}"]
        for steps in budgets:
            stat = stats.get((model, steps))
            cells.append(cell(stat))
            if compare.get(steps):
                value = compare[steps].get(model)
                if value is None or stat is None:
                    cells += ["—", "—" if value is None else f"{value:g}"]
                else:
                    judged = judge(stat, value)
                    marked = f"{value:g}" if judged["inside"] is not False else f"**{value:g}**"
                    cells += [interval_cell(judged), marked]
        lines.append("| " + " | ".join(cells) + " |")
    human_cells = []
    for steps in budgets:
        human_cells += ["—", "—", f"{human:g}"] if compare.get(steps) else ["—"]
    lines.append("| human | — | " + " | ".join(human_cells) + " |")
    return "\n".join(lines) + "\n"


def comparisons(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every published number beside ours read the same way, judged against our 95 % prediction interval."""
    _, _, beebe, paper = reference(rows)
    keys = readings()
    stats = {key: accuracy_stats(rows, key) for key in set(keys.values())}
    judged = []
    for steps, numbers in sorted(beebe.items()):
        for model, value in numbers.items():
            if (model, steps) in stats[keys[BEEBE]]:
                entry = {"model": model, "steps": steps, "paper": BEEBE, "reading": keys[BEEBE]}
                judged.append(entry | judge(stats[keys[BEEBE]][model, steps], value))
    for model, value in paper.items():
        if (model, gk_steps()) in stats[keys[GK]]:
            entry = {"model": model, "steps": gk_steps(), "paper": GK, "reading": keys[GK]}
            judged.append(entry | judge(stats[keys[GK]][model, gk_steps()], value))
    return judged


def comparison_table(judged: list[dict[str, Any]]) -> str:
    lines = ["| model | steps | paper (reading) | published | ours | 95 % PI | published is |"]
    lines.append("|---|---|---|---|---|---|---|")
    for j in judged:
        reading = j["reading"].removesuffix("_acc")
        ours = f"{j['ours']:.1f} ± {j['std']:.1f} (n={j['n']})"
        lines.append(
            f"| {j['model']} | {j['steps']} | {j['paper']} ({reading}) | {j['published']:g} | {ours} | "
            f"{interval_cell(j)} | {verdict_cell(j)} |"
        )
    note = f"{count_inside(judged)} published numbers lie inside our 95 % prediction interval for one run"
    return "\n".join(lines) + f"\n\n{note}.\n"


def rankings(rows: list[dict[str, Any]]) -> str:
    """Per budget, the models by mean final accuracy (ours) beside the order of Beebe et al.'s log."""
    stats = accuracy_stats(rows, readings()[BEEBE])
    _, _, beebe, _ = reference(rows)
    lines = ["| steps | ours (mean, final) | Beebe et al.'s log |", "|---|---|---|"]
    for steps in sorted({steps for _, steps in stats}):
        ours = sorted(((s["mean"], m) for (m, b), s in stats.items() if b == steps), reverse=True)
        theirs = sorted(((v, m) for m, v in beebe.get(steps, {}).items()), reverse=True)
        lines.append(
            f"| {steps} | {' > '.join(f'{m} {v:.1f}' for v, m in ours)} | "
            f"{' > '.join(f'{m} {v:g}' for v, m in theirs) or '—'} |"
        )
    return "\n".join(lines) + "\n"


def per_digit(sweep_dir: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-digit test error (%) of every model at the end of its longest runs (results.json's per_class_acc,
    mean over seeds), with the published human's and CNN's and each model's correlation with the human."""
    human = published("human_per_digit")
    models: dict[str, dict[str, Any]] = {}
    runs = [row for row in finished(rows) if not row["shared_budget"] and row.get("job_dir")]
    for model in models_by_size(runs):
        longest = max(row["steps"] for row in runs if row["model"] == model)
        per_class = []
        for row in runs:
            if row["model"] == model and row["steps"] == longest:
                record = read_run(sweep_dir / row["job_dir"])
                if record is not None and record.per_class_acc:
                    per_class.append(record.per_class_acc)
        if per_class:
            errors = [100 * (1 - acc) for acc in np.mean(per_class, axis=0)]
            r = float(np.corrcoef(errors, human["as_published"]["error_rate"])[0, 1])
            models[model] = {"steps": longest, "seeds": len(per_class), "error_rate": errors, "r_human": r}
    return {
        "human": human["as_published"]["error_rate"],
        "published_cnn": human["figure_measurement"]["cnn_error_rate"],
        "published_r_human_cnn": human["human_cnn_error_correlation"],
        "models": models,
    }


def per_digit_table(numbers: dict[str, Any]) -> str:
    models = numbers["models"]
    header = ["digit", "human (published)", "CNN (reference, read off its figure)", *models]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for digit in range(10):
        cells = [str(digit), f"{numbers['human'][digit]:.1f}", f"{numbers['published_cnn'][digit]:.1f}"]
        cells += [f"{m['error_rate'][digit]:.1f}" for m in models.values()]
        lines.append("| " + " | ".join(cells) + " |")
    r = [f"{numbers['published_r_human_cnn']:.2f}", *(f"{m['r_human']:.2f}" for m in models.values())]
    lines.append("| r with human | — | " + " | ".join(r) + " |")
    return "\n".join(lines) + "\n"


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


def protocol_line(rows: list[dict[str, Any]]) -> str:
    """Whose protocol the runs followed and what it set."""
    done = finished(rows)
    name = protocol_of(done)
    settings = []
    for key in PROTOCOL_KEYS:
        values = sorted({str(setting(row, key, "—")) for row in done})
        settings.append(f"`{key}` {'/'.join(values)}")
    return f"Protocol: **{name}** ({', '.join(settings)})."


def write_results_md(
    sweep_dir: Path, rows: list[dict[str, Any]], cfg: DictConfig, figures: list[Path], digits: dict[str, Any]
) -> Path:
    ok = len(finished(rows))
    variant, _, _, _ = reference(rows)
    shared = [row for row in finished(rows) if row["shared_budget"]]
    final_key, best_key = readings()[BEEBE], readings()[GK]
    text = f"# Sweep `{cfg.get('name', 'multirun')}`: {sweep_dir.name}\n\n"
    text += f"{ok} of {len(rows)} runs completed. Data: `{variant}`. {protocol_line(rows)} Test accuracy (%),"
    text += " mean ± std over seeds (n = seeds); 95 % PI: the prediction interval for one new run,"
    text += " mean ± t(n-1, 0.975) · sd · sqrt(1 + 1/n); a published number outside it is in **bold**.\n\n"
    text += "## Accuracy at the final step\n\n"
    text += "Beside Beebe et al.'s numbers, which they read at the step (one run of 10000 steps each).\n\n"
    text += table(rows, final_key)
    text += "\n## Best accuracy during training\n\n"
    text += "The best of the run's evaluations (every `eval_every` steps) up to the budget: early stopping on"
    text += " the test split, Greydanus & Kobak's reading; their table (6000 steps) beside it.\n\n"
    text += table(rows, best_key)
    judged = comparisons(rows)
    if judged:
        text += "\n## Published numbers against our prediction intervals\n\n" + comparison_table(judged)
    text += (
        "\n## Rankings\n\nBeebe et al. write that the TCN and the dilated CNN are the best models at every"
    )
    text += " step budget.\n\n" + rankings(rows)
    if digits["models"]:
        text += (
            "\n## Per-digit test error (%)\n\nEach model at the end of its longest runs (mean over seeds);"
        )
        text += " human: the published expert's quizzes; the reference CNN's errors were read off the"
        text += " reference's figure (no numbers were published); r: Pearson correlation with the human's"
        text += " ten error rates.\n\n" + per_digit_table(digits)
    if shared:
        text += (
            f"\n{len(shared)} rows are shared budgets: read from the evaluation history of the longest run"
            " of the same model and seed (`shared_budget`, `source_run` in summary.csv).\n"
        )
    text += "\n## Failed or missing runs\n\n" + failures_table(rows)
    text += "\n## Figures\n\n" + "".join(f"![{path.stem}]({path.name})\n" for path in figures)
    path = sweep_dir / RESULTS_MD
    write_text(path, text)
    return path


def published_log(rows: list[dict[str, Any]]) -> dict[str, Curve]:
    """Beebe et al.'s printed test accuracies (every 1000 steps of their 10000-step runs) of the models in
    the runs, as one-run curves (none for the shuffled variant, which they did not run)."""
    _, _, beebe, _ = reference(rows)
    if not beebe:
        return {}
    log = published("beebe_et_al_runs")["log"]
    models = {row["model"] for row in finished(rows)}
    return {
        model: Curve(log["steps"], log[model], log[model], log[model]) for model in models if model in log
    }


def write_figures(sweep_dir: Path, rows: list[dict[str, Any]], digits: dict[str, Any]) -> list[Path]:
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
    log = published_log(rows)
    for steps in budgets[:-1]:  # the largest budget's curves are learning_curves.png below
        curves = learning_curves(rows, steps)
        curves = {model: curves[model] for model in parameters if model in curves}
        path = sweep_dir / f"learning_curves_{steps}steps.png"
        figures.append(study_figures.learning_curves(path, curves, human, steps, log))
    curves = learning_curves(rows)
    curves = {model: curves[model] for model in parameters if model in curves}
    figures.append(study_figures.learning_curves(sweep_dir / "learning_curves.png", curves, human, None, log))
    last = budgets[-1]
    points = {
        model: (count, stats[model, last]) for model, count in parameters.items() if (model, last) in stats
    }
    theirs = published("beebe_et_al_runs")["parameters"]
    published_points = {
        m: (theirs[m], beebe[last][m]) for m in points if m in theirs and m in beebe.get(last, {})
    }
    path = sweep_dir / "accuracy_vs_parameters.png"
    figures.append(study_figures.accuracy_vs_parameters(path, points, last, published_points))
    if digits["models"]:
        figures.append(study_figures.per_digit_errors(sweep_dir / "per_digit_errors.png", digits))
    return figures


def study_report(sweep_dir: Path, rows: list[dict[str, Any]], cfg: DictConfig) -> list[Path]:
    """results.md and the figures of a model x steps x seeds sweep; returns the paths written."""
    digits = per_digit(sweep_dir, rows)
    figures = write_figures(sweep_dir, rows, digits)
    return [write_results_md(sweep_dir, rows, cfg, figures, digits), *figures]
