"""The human benchmark's figures: a person's results, and their per-digit errors beside trained models'.

The paper says the CNN's per-digit error rates "closely aligned" with the human expert's. Here a person's
test (results.json written by `python -m mnist1d.apps.human`) is compared digit by digit with any finished
runs (run or sweep directories) and with the published human numbers (derived from the reference's quiz
files, published_results.json `human_per_digit`): a grouped bar chart, a Markdown table, and the Pearson
correlation of each model's ten per-digit error rates with the person's and with the published human's.
Models are scored on the whole test split and the person on their questions; runs on another dataset
variant (shuffled or not) than the person's are left out.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from mnist1d.atomic import save_figure, write_text
from mnist1d.records import HumanRecord, RunRecord, read_run
from mnist1d.reports.common import finished, model_colour, published, save_numbers
from mnist1d.sweeps.summary import collect_rows

log = logging.getLogger(__name__)
STEM = "human_vs_models"
PERSON_STEM = "human_results"
DIGITS = np.arange(10)
STRONG_ACCURACY = 60.0  # % of models whose errors set the comparison figure's scale


def error_rates(record: RunRecord) -> list[float | None]:
    """Per-digit error rate (%) from a record's per_class_acc (None for a digit never asked)."""
    return [None if acc is None else 100 * (1 - acc) for acc in record.per_class_acc]


def is_shuffled(record: RunRecord) -> bool:
    return bool(record.config.get("data", {}).get("shuffle_seq", False))


def published_human(shuffled: bool) -> dict[str, Any]:
    """The published human accuracy (%), and per-digit errors where they exist (not for the shuffled set)."""
    table = published("original_paper_table")
    if shuffled:
        return {"accuracy": table["mnist1d_shuffled"]["human"], "error_rate": None, "cnn_error_rate": None}
    section = published("human_per_digit")
    return {
        "accuracy": published("human")["test_accuracy"],
        "error_rate": section["as_published"]["error_rate"],
        "cnn_error_rate": section["figure_measurement"]["cnn_error_rate"],
    }


def correlation(a: list[float | None] | None, b: list[float | None] | None) -> float | None:
    """Pearson correlation over the digits both have; None when either is missing or constant."""
    if a is None or b is None:
        return None
    pairs = np.array([(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None])
    if len(pairs) < 3 or np.ptp(pairs[:, 0]) == 0 or np.ptp(pairs[:, 1]) == 0:
        return None
    return float(np.corrcoef(pairs.T)[0, 1])


def run_results(path: Path) -> list[RunRecord]:
    """The finished runs' records under `path`: one run directory, or every job of a sweep directory."""
    single = read_run(path)
    if single is not None:
        return [single] if single.completed else []
    rows = finished(collect_rows(path, None))
    return [record for row in rows if (record := read_run(path / row["job_dir"])) is not None]


def model_groups(runs: list[RunRecord], shuffled: bool) -> tuple[list[dict[str, Any]], list[str]]:
    """Runs grouped by model and step budget, per-class accuracies averaged over seeds; also the labels of
    the runs left out (another dataset variant, or no accuracy for some digit)."""
    grouped: dict[tuple[str, int], list[RunRecord]] = defaultdict(list)
    skipped = []
    for record in runs:
        label = f"{record.model} ({record.max_steps} steps, seed {record.seed})"
        per_class = record.per_class_acc or [None]
        if is_shuffled(record) != shuffled or any(acc is None for acc in per_class):
            skipped.append(label)
            continue
        grouped[(record.model, record.max_steps)].append(record)
    groups = []
    for (model, steps), members in grouped.items():
        per_class = np.mean([m.per_class_acc for m in members], axis=0)
        groups.append(
            {
                "label": f"{model} ({steps} steps)",
                "model": model,
                "steps": steps,
                "seeds": sorted(m.seed for m in members),
                "accuracy": 100 * float(np.mean([m.final_test_acc for m in members])),
                "error_rate": [100 * (1 - acc) for acc in per_class],
            }
        )
    return groups, skipped


def comparison(person: HumanRecord, runs: list[RunRecord]) -> dict[str, Any]:
    """The numbers of the comparison (percent)."""
    shuffled = is_shuffled(person)
    reference = published_human(shuffled)
    errors = error_rates(person)
    groups, skipped = model_groups(runs, shuffled)
    for group in groups:
        group["r_person"] = correlation(group["error_rate"], errors)
        group["r_published_human"] = correlation(group["error_rate"], reference["error_rate"])
    ci = person.accuracy_ci
    published_r = None if shuffled else published("human_per_digit")["human_cnn_error_correlation"]
    return {
        "dataset": "mnist1d_shuffled" if shuffled else "mnist1d",
        "person": {
            "name": person.name,
            "accuracy": 100 * person.final_test_acc,
            "ci": [100 * ci["low"], 100 * ci["high"]],
            "ci_level": ci["level"],
            "n_questions": person.n_questions,
            "per_class_n": person.per_class_n,
            "error_rate": errors,
            "r_published_human": correlation(errors, reference["error_rate"]),
        },
        "published_human": reference,
        "published_human_cnn_correlation": published_r,
        "models": groups,
        "skipped_runs": skipped,
    }


def fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def table(numbers: dict[str, Any]) -> str:
    """Markdown: per-digit error rates (%) of the person, the published human and each model, then the
    accuracies and the correlations."""
    person, reference, models = numbers["person"], numbers["published_human"], numbers["models"]
    header = ["digit", f"{person['name']} (n)", "published human", *(m["label"] for m in models)]
    lines = [row(header), "|" + "---|" * len(header)]
    for digit in DIGITS:
        published_error = reference["error_rate"][digit] if reference["error_rate"] else None
        cells = [f"{fmt(person['error_rate'][digit])} ({person['per_class_n'][digit]})", fmt(published_error)]
        lines.append(row([str(digit), *cells, *(fmt(m["error_rate"][digit]) for m in models)]))
    low, high = person["ci"]
    accuracy = [f"{person['accuracy']:.1f} [{low:.1f}, {high:.1f}]", fmt(reference["accuracy"])]
    lines.append(row(["accuracy", *accuracy, *(fmt(m["accuracy"]) for m in models)]))
    r_pair = fmt(person["r_published_human"], 2)
    lines.append(row(["r with person", "—", r_pair, *(fmt(m["r_person"], 2) for m in models)]))
    lines.append(
        row(["r with published human", r_pair, "—", *(fmt(m["r_published_human"], 2) for m in models)])
    )
    return "\n".join(lines) + "\n"


def plot(numbers: dict[str, Any]) -> Figure:
    """Grouped bars of per-digit error rates: the person, the published human, each model. The axis ends
    above the errors of the models that beat chance by far, so a weak baseline does not flatten the rest;
    its taller bars are cut and labelled with their value."""
    person, reference = numbers["person"], numbers["published_human"]
    label = f"{person['name']}: {person['accuracy']:.1f} % (n={person['n_questions']})"
    series = [(label, person["error_rate"], "black")]
    if reference["error_rate"]:
        series.append((f"published human: {reference['accuracy']:.1f} %", reference["error_rate"], "0.6"))
    for model in numbers["models"]:
        label = f"{model['label']}: {model['accuracy']:.1f} %, r = {fmt(model['r_person'], 2)}"
        series.append((label, model["error_rate"], model_colour(model["model"])))
    strong = [e for _, errors, _ in series[:2] for e in errors if e is not None]
    strong += [e for m in numbers["models"] if m["accuracy"] >= STRONG_ACCURACY for e in m["error_rate"]]
    top = min(100.0, 1.15 * max([*strong, *(reference["cnn_error_rate"] or []), 5.0]))
    fig = Figure(figsize=(10, 4.2))
    ax = fig.subplots()
    width = 0.8 / len(series)
    for i, (label, errors, colour) in enumerate(series):
        x = DIGITS + (i - (len(series) - 1) / 2) * width
        heights = np.array([np.nan if e is None else e for e in errors])
        ax.bar(x, np.minimum(heights, top), width, color=colour, label=label)
        for xi, height in zip(x, heights, strict=True):
            if height > top:
                ax.text(
                    xi, top, f"{height:.0f}", rotation=90, ha="center", va="top", fontsize=7, color="white"
                )
    if reference["cnn_error_rate"]:
        cnn = reference["cnn_error_rate"]
        ax.scatter(
            DIGITS,
            cnn,
            marker="_",
            s=250,
            linewidths=2,
            color="crimson",
            zorder=3,
            label="reference CNN (read off its figure)",
        )
    ax.set_xticks(DIGITS)
    ax.set(xlabel="true digit", ylabel="test error (%)", ylim=(0, top))
    ax.set_title(f"Per-digit errors ({numbers['dataset']}); r: Pearson correlation with {person['name']}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return fig


def write_comparison(out_dir: Path, person: HumanRecord, runs: list[RunRecord]) -> list[Path]:
    """comparison JSON, Markdown table and figure (PNG + PDF) in `out_dir`."""
    numbers = comparison(person, runs)
    if numbers["skipped_runs"]:
        log.warning(
            "left out (another dataset variant or no accuracy for some digit): %s", numbers["skipped_runs"]
        )
    markdown = out_dir / f"{STEM}.md"
    write_text(markdown, table(numbers))
    return [save_numbers(out_dir, STEM, numbers), markdown, *save_figure(plot(numbers), out_dir, STEM)]


def person_figure(person: HumanRecord) -> Figure:
    """A person's confusion matrix and per-digit errors beside the published human's."""
    matrix = np.asarray(person.confusion_matrix)
    reference = published_human(is_shuffled(person))
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax_matrix, ax_errors = fig.subplots(1, 2)
    ax_matrix.imshow(matrix, cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        if count:
            colour = "white" if count > matrix.max() / 2 else "black"
            ax_matrix.text(col, row, str(count), ha="center", va="center", color=colour, fontsize=8)
    ax_matrix.set(
        xticks=DIGITS, yticks=DIGITS, xlabel="answer", ylabel="true digit", title="Confusion matrix"
    )
    errors = [np.nan if e is None else e for e in error_rates(person)]
    width = 0.4 if reference["error_rate"] else 0.8
    offset = width / 2 if reference["error_rate"] else 0
    ax_errors.bar(DIGITS - offset, errors, width, color="black", label=person.name)
    if reference["error_rate"]:
        ax_errors.bar(
            DIGITS + width / 2, reference["error_rate"], width, color="0.6", label="published human"
        )
    ax_errors.set(xticks=DIGITS, xlabel="true digit", ylabel="error (%)", title="Errors per digit")
    ax_errors.legend(loc="best", frameon=False)
    ci = person.accuracy_ci
    fig.suptitle(
        f"{person.name}: {100 * person.final_test_acc:.1f} % of {person.n_questions} test "
        "samples "
        f"({100 * ci['level']:.0f} % CI {100 * ci['low']:.1f}-{100 * ci['high']:.1f} %; "
        f"published human {reference['accuracy']:.1f} %)"
    )
    return fig


def write_person_figure(out_dir: Path, person: HumanRecord) -> list[Path]:
    return save_figure(person_figure(person), out_dir, PERSON_STEM)
