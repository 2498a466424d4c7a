"""The papers' published numbers judged against our runs under each paper's own protocol, pooled over sweeps.

A cell of these tables (a model at a step budget under a protocol) pools runs of several sweeps: its seeds
were run when and where a machine allowed, and a 1000- or 2000-step value is read from the evaluation
history of a longer run (exact: with a constant learning rate a shorter run is a prefix of a longer one).
The runs' evaluations are kept in docs/papers_runs.json, one entry per run naming the directory it was read
from; the tables of docs/results.md and the learning curves are written from that file alone, so they can be
checked and rewritten without the run directories:

    python -m mnist1d.reports.papers                              # rewrite the tables from the file
    python -m mnist1d.reports.papers outputs/sweeps/<dir> ...     # add those sweeps' runs first

Two runs of one seed under one protocol must agree wherever both evaluated (a seed counts once, with one
value), or nothing is written. Each table sits in docs/results.md between `<!-- papers:NAME -->` and
`<!-- /papers -->`.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import scipy.stats

from mnist1d.atomic import write_json, write_text
from mnist1d.records import SCHEMA_VERSION, RecordError, RunRecord, read_fields, read_run
from mnist1d.reports.common import count_inside, interval_cell, judge, published, seed_stats, verdict_cell
from mnist1d.reports.study_figures import Curve, learning_curves
from mnist1d.sweeps.spec import SweepSpec

VALUES_FILE = Path("docs/papers_runs.json")
RESULTS_FILE = Path("docs/results.md")
FIGURE_FILE = Path("docs/figures/beebe_protocol_learning_curves_10000steps.png")
BUDGETS = (1000, 2000, 6000, 10000)  # every step budget either paper reads a run at
BEEBE_STEPS = (1000, 2000, 10000)
GK_STEPS = 6000
BEEBE_MODELS = ("resnet", "tcn", "dcnn", "cnn", "gru", "mlp", "logistic")
OUR_TCNS = ("tcn_trained", "tcn_dilated")
GK_MODELS = ("logistic", "mlp", "cnn", "gru")
VARIANTS = ("mnist1d", "mnist1d_shuffled")
TARGET_SEEDS = 10
# the tables of docs/results.md, each between `<!-- papers:NAME -->` and `<!-- /papers -->`
TABLES = ("beebe", "gk_mnist1d", "gk_mnist1d_shuffled", "notebooks", "before_after", "protocol_costs")
TABLES += ("our_tcns", "ranking", "not_run", "commands")
RUN_KEY = ("protocol", "data", "model", "seed", "run")
FIELDS = (*RUN_KEY, "steps", "prefix", "accuracy")
BEFORE_FIELDS = ("label", "published", "mean", "std", "n", "protocol", "data", "model", "steps", "reading")
Cell = tuple[str, str, str, int, str]  # protocol, data, model, steps, reading
Table = dict[Cell, dict[int, float]]  # cell -> {seed: accuracy %}


def job_dirs(sweep_dirs: Iterable[Path]) -> Iterator[Path]:
    for sweep_dir in sweep_dirs:
        yield from sorted(d for d in sweep_dir.iterdir() if (d / "results.json").exists())


def csv_accuracies(run_dir: Path, split: str) -> dict[int, float]:
    """step -> accuracy from the run's CSV log, which holds every evaluation even where results.json's
    history does not (a run resumed from a checkpoint of an older version keeps only its later ones)."""
    path = run_dir / "csv" / "metrics.csv"
    if not path.exists():
        return {}
    key = f"{split}/acc"
    with path.open() as file:
        return {int(float(row["step"])): float(row[key]) for row in csv.DictReader(file) if row.get(key)}


def run_entry(run_dir: Path, record: RunRecord, source: str) -> dict[str, Any] | None:
    """The run's evaluations (step -> accuracy %), what it ran under, and whether a shorter budget may be
    read from it (`prefix`: a constant learning rate, no scheduler, makes a shorter run a prefix of it)."""
    config = record.config
    key = f"{record.eval_split or 'test'}/acc"
    accuracies = csv_accuracies(run_dir, record.eval_split or "test")
    accuracies |= {entry["step"]: entry[key] for entry in record.history if key in entry}
    accuracies = {step: acc for step, acc in accuracies.items() if step <= (record.max_steps or 0)}
    if not accuracies:
        return None
    return {
        "protocol": (config.get("protocol") or {}).get("name", "ours"),
        "data": "mnist1d_shuffled" if (config.get("data") or {}).get("shuffle_seq") else "mnist1d",
        "model": record.model,
        "seed": record.seed,
        "run": source,
        "steps": record.max_steps,
        "prefix": config.get("scheduler") is None,
        "accuracy": {str(step): round(100 * acc, 4) for step, acc in sorted(accuracies.items())},
    }


def collect(sweep_dirs: Iterable[Path]) -> list[dict[str, Any]]:
    """The entries of every training run under the sweep directories (results.json read as data)."""
    entries = []
    for run_dir in job_dirs(sweep_dirs):
        record = read_run(run_dir)
        if record is None or record.kind != "train" or record.seed is None:
            continue
        if (entry := run_entry(run_dir, record, f"{run_dir.parent.name}/{run_dir.name}")) is not None:
            entries.append(entry)
    return entries


def sweep_command(sweep_dir: Path) -> str | None:
    """The sweep.py command that runs the sweep of `sweep_dir` again (its sweep.json, read as data)."""
    spec = SweepSpec.load(sweep_dir)
    if spec is None:
        return None
    own = {f"{key}={value}".lower() for key, value in spec.config.get("fixed", {}).items()}
    extra = [entry for entry in spec.fixed if entry.lower() not in own]
    arguments = [f"sweep={spec.name}", *(f"{k}={','.join(v)}" for k, v in spec.axes.items()), *extra]
    arguments += [f"launcher={spec.launcher}"] + (["share_budgets=true"] if spec.share_budgets else [])
    return "python sweep.py " + " ".join(arguments)


def merge(kept: list[dict[str, Any]], found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`kept` with the entries of `found`: a run read again adds the evaluations it has gained. Two runs of
    the same seed under the same protocol (a shorter and a longer one, a run and its resume) must agree at
    every step both evaluated, or nothing is merged: a seed counts once, with one value."""
    seen: dict[tuple[Any, ...], tuple[float, str]] = {}
    for entry in [*kept, *found]:
        for step, value in entry["accuracy"].items():
            where = (*(entry[k] for k in RUN_KEY[:-1]), step)
            first, run = seen.setdefault(where, (value, entry["run"]))
            if abs(first - value) > 1e-6:
                cell = ", ".join(f"{k}={v}" for k, v in zip(RUN_KEY[:-1], where, strict=False))
                raise ValueError(
                    f"{cell}, step {step}: {entry['run']} has {value}, but {run} has {first} (a seed counts"
                    " once, with one value: keep one of the two runs); nothing was written"
                )
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for entry in [*kept, *found]:
        same_run = merged.setdefault(tuple(entry[k] for k in RUN_KEY), entry | {"accuracy": {}})
        union = same_run["accuracy"] | entry["accuracy"]
        same_run["accuracy"] = {step: union[step] for step in sorted(union, key=int)}
        same_run["steps"] = max(same_run["steps"], entry["steps"])
    return sorted(merged.values(), key=lambda e: (e["protocol"], e["data"], e["model"], e["seed"], e["run"]))


def readings(entry: dict[str, Any]) -> Iterator[tuple[int, str, float]]:
    """(budget, reading, accuracy %) of an entry at every budget of BUDGETS it can be read at: `final` at
    that step, `best` the best evaluation up to it."""
    accuracy = {int(step): value for step, value in entry["accuracy"].items()}
    for budget in BUDGETS:
        readable = budget == entry["steps"] or (entry["prefix"] and budget < entry["steps"])
        if budget not in accuracy or not readable:
            continue
        yield budget, "final", accuracy[budget]
        yield budget, "best", max(value for step, value in accuracy.items() if step <= budget)


def cells(entries: Iterable[dict[str, Any]]) -> Table:
    """(protocol, data, model, steps, reading) -> {seed: accuracy %}."""
    table: Table = defaultdict(dict)
    for e in entries:
        for budget, reading, value in readings(e):
            table[e["protocol"], e["data"], e["model"], budget, reading][e["seed"]] = value
    return table


def stats(seeds: dict[int, float]) -> dict[str, Any]:
    return seed_stats([seeds[s] for s in sorted(seeds)])


def mean_sd(stat: dict[str, Any]) -> str:
    return f"{stat['mean']:.1f} (n=1)" if stat["n"] == 1 else f"{stat['mean']:.1f} ± {stat['std']:.1f}"


def seed_list(seeds: dict[int, float]) -> str:
    """The seeds, three or more consecutive ones as a range: `0-4,10`."""
    groups: list[list[int]] = []
    for seed in sorted(seeds):
        if groups and seed == groups[-1][-1] + 1:
            groups[-1].append(seed)
        else:
            groups.append([seed])
    return ",".join(f"{g[0]}-{g[-1]}" if len(g) > 2 else ",".join(map(str, g)) for g in groups)


def row(cells_: Iterable[str]) -> str:
    return "| " + " | ".join(cells_) + " |"


def judged_rows(table: Table, wanted: Iterable[tuple[Cell, float, str]]) -> tuple[list[str], list[dict]]:
    """A row per wanted cell (its label cells first) and the judgements of those with seeds."""
    rows, judgements = [], []
    for cell, paper, label in wanted:
        seeds = table.get(cell, {})
        if not seeds:
            rows.append(row([label, "0", "—", "not run", "—", f"{paper:g}", "—"]))
            continue
        stat = stats(seeds)
        judgements.append(judge(stat, paper) | {"cell": cell})
        judged = judgements[-1]
        shown = [str(stat["n"]), seed_list(seeds), mean_sd(stat), interval_cell(judged), f"{paper:g}"]
        rows.append(row([label, *shown, verdict_cell(judged)]))
    return rows, judgements


def beebe_table(table: Table) -> tuple[str, list[dict[str, Any]]]:
    reference = published("beebe_et_al_runs")
    wanted = [
        (("beebe", "mnist1d", m, steps, "final"), reference[f"steps_{steps}"][m], f"{m} | {steps}")
        for m in BEEBE_MODELS
        for steps in BEEBE_STEPS
    ]
    rows, judgements = judged_rows(table, wanted)
    head = "| model | steps | n | seeds | ours (final) | 95 % PI, one run | Beebe et al. | verdict |"
    count = f"**Inside: {count_inside(judgements)} of Beebe et al.'s numbers with an interval.**"
    return "\n".join([head, "|---|---|---|---|---|---|---|---|", *rows, "", count]), judgements


def gk_table(table: Table, data: str) -> tuple[str, list[dict[str, Any]]]:
    reference = published("original_paper_table")[data]
    wanted = [(("greydanus_kobak", data, m, GK_STEPS, "best"), reference[m], m) for m in GK_MODELS]
    rows, judgements = judged_rows(table, wanted)
    head = "| model | n | seeds | ours (best of the evaluations) | 95 % PI, one run | G&K table | verdict |"
    count = f"**{count_inside(judgements)} inside.**"
    return "\n".join([head, "|---|---|---|---|---|---|---|", *rows, "", count]), judgements


def notebook_table(table: Table) -> str:
    """The reference notebooks' executed runs (6000 steps; which reading they print is not stated), against
    both readings of the same runs of ours."""
    lines = [
        "| notebook | data | model | published | best: 95 % PI (n) | verdict | final: 95 % PI (n)"
        " | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    judgements: dict[str, list[dict[str, Any]]] = {"best": [], "final": []}
    for run in published("original_notebooks_6000_steps")["runs"]:
        for data, numbers in zip(VARIANTS, (run, run.get("shuffled", {})), strict=True):
            for model in (m for m in GK_MODELS if m in numbers):
                shown = [run["notebook"], data, model, f"{numbers[model]:g}"]
                for reading, judged in judgements.items():
                    seeds = table.get(("greydanus_kobak", data, model, GK_STEPS, reading), {})
                    if len(seeds) < 2:
                        shown += ["not run" if not seeds else "n=1", "—"]
                        continue
                    judged.append(judge(stats(seeds), numbers[model]))
                    shown += [f"{interval_cell(judged[-1])} ({len(seeds)})", verdict_cell(judged[-1])]
                lines.append(row(shown))
    counts = f"inside, best: {count_inside(judgements['best'])}; final: {count_inside(judgements['final'])}"
    return "\n".join([*lines, "", counts])


def before_after(before: list[dict[str, Any]], table: Table) -> str:
    """Each published number judged by the same rule before (the recorded mean, sd and n of our runs under
    our protocol, `before`) and after (the papers' protocols, pooled), where after has an interval."""
    lines = [
        "| published number | before: ours | n | 95 % PI | verdict | after: papers' protocol | n | 95 % PI"
        " | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    judged: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for old in before:
        seeds = table.get((old["protocol"], old["data"], old["model"], old["steps"], old["reading"]), {})
        if len(seeds) < 2:
            continue
        shown = [f"{old['label']}: {old['published']:g}"]
        for when, stat in (("before", {k: old[k] for k in ("mean", "std", "n")}), ("after", stats(seeds))):
            judged[when].append(judge(stat, old["published"]))
            shown += [
                mean_sd(stat),
                str(stat["n"]),
                interval_cell(judged[when][-1]),
                verdict_cell(judged[when][-1]),
            ]
        lines.append(row(shown))
    total = f"**Inside: before {count_inside(judged['before'])}, after {count_inside(judged['after'])}**"
    if missing := len(before) - len(judged["after"]):
        total += f" ({missing} published numbers have no interval after yet: Not run here)"
    if not judged["after"]:
        return "\n".join([*lines, "", total])

    def width(judgement: dict[str, Any]) -> float:
        return judgement["interval"][1] - judgement["interval"][0]

    pairs = zip(judged["before"], judged["after"], strict=True)
    ratios = [width(b) / width(a) for b, a in pairs if width(a) > 0]
    ns = sorted({a["n"] for a in judged["after"]})
    seeds = f"{ns[0]}-{ns[-1]}" if len(ns) > 1 else str(ns[0])
    spread = (
        f"After: {seeds} seeds per cell; the before interval is {statistics.median(ratios):.1f} times as wide"
        f" as the after one (median; range {min(ratios):.1f}-{max(ratios):.1f})."
    )
    return "\n".join([*lines, "", total, spread])


def ranking(table: Table) -> str:
    """Beebe et al.'s three models ranked by our mean final accuracy under their protocol, per budget."""
    parts = []
    for steps in BEEBE_STEPS:
        means = {
            m: stats(s)["mean"]
            for m in ("resnet", "tcn", "dcnn")
            if (s := table.get(("beebe", "mnist1d", m, steps, "final")))
        }
        ordered = sorted(means.items(), key=lambda item: -item[1])
        if ordered:
            parts.append(f"{steps} steps: " + " > ".join(f"{m} {mean:.1f}" for m, mean in ordered))
    return "Ours, under their protocol: " + "; ".join(parts) + "."


def difference_interval(
    a: dict[str, Any], b: dict[str, Any], level: float = 0.95
) -> tuple[float, float] | None:
    """Welch's interval for the difference of two protocols' means (a - b); None with fewer than two runs
    on either side or no spread at all."""
    if a["n"] < 2 or b["n"] < 2:
        return None
    va, vb = a["std"] ** 2 / a["n"], b["std"] ** 2 / b["n"]
    if va + vb == 0:
        return None
    dof = (va + vb) ** 2 / (va**2 / (a["n"] - 1) + vb**2 / (b["n"] - 1))
    half = float(scipy.stats.t.ppf((1 + level) / 2, dof)) * math.sqrt(va + vb)
    diff = a["mean"] - b["mean"]
    return diff - half, diff + half


def protocol_costs(table: Table) -> str:
    """Our protocol beside each paper's, model by model and budget by budget, read as that paper reads,
    with the 95 % interval of the difference (Welch): a difference is one only where it excludes 0."""
    lines = [
        "| paper | model | steps | reading | ours: mean ± sd (n) | paper's protocol: mean ± sd (n)"
        " | ours - theirs (95 % CI) |",
        "|---|---|---|---|---|---|---|",
    ]
    compared = [
        ("beebe", "Beebe et al.", m, n, "final") for m in (*BEEBE_MODELS, *OUR_TCNS) for n in BEEBE_STEPS
    ]
    compared += [("greydanus_kobak", "G&K", m, GK_STEPS, "best") for m in GK_MODELS]
    for protocol, paper, model, steps, reading in compared:
        ours = table.get(("ours", "mnist1d", model, steps, reading), {})
        theirs = table.get((protocol, "mnist1d", model, steps, reading), {})
        if ours and theirs:
            a, b = stats(ours), stats(theirs)
            found = difference_interval(a, b)
            diff = f"{a['mean'] - b['mean']:+.1f}"
            if found is not None:
                bold = "**" if found[0] > 0 or found[1] < 0 else ""
                diff = f"{bold}{diff}{bold} [{found[0]:+.1f}, {found[1]:+.1f}]"
            shown = [
                paper,
                model,
                str(steps),
                reading,
                f"{mean_sd(a)} ({a['n']})",
                f"{mean_sd(b)} ({b['n']})",
            ]
            lines.append(row([*shown, diff]))
    return "\n".join(lines)


def our_tcns(table: Table) -> str:
    """Our two TCN variants under Beebe et al.'s protocol beside their TCN (ours and published): no
    published numbers of their own, so nothing is judged."""
    reference = published("beebe_et_al_runs")
    lines = ["| model | steps | n | seeds | ours (final) | their TCN, ours (n) | their TCN, published |"]
    lines.append("|---|---|---|---|---|---|---|")
    theirs = {steps: table.get(("beebe", "mnist1d", "tcn", steps, "final"), {}) for steps in BEEBE_STEPS}
    for model in OUR_TCNS:
        for steps in BEEBE_STEPS:
            seeds = table.get(("beebe", "mnist1d", model, steps, "final"), {})
            if seeds:
                shown = [model, str(steps), str(len(seeds)), seed_list(seeds), mean_sd(stats(seeds))]
                tcn = f"{mean_sd(stats(theirs[steps]))} ({len(theirs[steps])})" if theirs[steps] else "—"
                lines.append(row([*shown, tcn, f"{reference[f'steps_{steps}']['tcn']:g}"]))
    return "\n".join(lines) if len(lines) > 2 else "(not run yet)"


def not_run(table: Table) -> str:
    """The judged cells with fewer than TARGET_SEEDS seeds, and the sweeps that complete them."""
    short = [
        f"{model} at {steps} steps (n = {n})"
        for model in BEEBE_MODELS
        for steps in BEEBE_STEPS
        if (n := len(table.get(("beebe", "mnist1d", model, steps, "final"), {}))) < TARGET_SEEDS
    ]
    lines = []
    if short:
        lines.append(
            f"- Beebe et al.'s protocol: {', '.join(short)}: `python sweep.py share_budgets=true"
            " model=<model> seed=<the missing seeds>` (10000-step runs; the 1000- and 2000-step values are"
            " read from them)."
        )
    for data in VARIANTS:
        for model in GK_MODELS:
            n = len(table.get(("greydanus_kobak", data, model, GK_STEPS, "best"), {}))
            if n < TARGET_SEEDS:
                lines.append(
                    f"- Greydanus & Kobak's table, {data}, {model} (n = {n}): `python sweep.py sweep=shuffle"
                    f" data={data} model={model}`."
                )
    return "\n".join(lines) or "- Every judged cell has ten seeds or more."


def commands(document: dict[str, Any]) -> str:
    """Each sweep the kept runs come from, the command that runs it, and how many of the runs it gave."""
    counts: dict[str, int] = defaultdict(int)
    for entry in document["entries"]:
        counts[entry["run"].split("/")[0]] += 1
    sweeps = document["sweeps"].items()
    lines = [f"    {command}   # {name}: {counts[name]} runs" for name, command in sweeps if counts[name]]
    return "\n".join(lines) or "    (no sweep recorded)"


def tables(document: dict[str, Any]) -> dict[str, str]:
    """Every table of docs/results.md this module writes, by its marker name (TABLES)."""
    table = cells(document["entries"])
    written = {
        "beebe": beebe_table(table)[0],
        "gk_mnist1d": gk_table(table, "mnist1d")[0],
        "gk_mnist1d_shuffled": gk_table(table, "mnist1d_shuffled")[0],
        "notebooks": notebook_table(table),
        "before_after": before_after(document["before"], table),
        "protocol_costs": protocol_costs(table),
        "our_tcns": our_tcns(table),
        "ranking": ranking(table),
        "not_run": not_run(table),
        "commands": commands(document),
    }
    assert tuple(written) == TABLES
    return written


def beebe_curves(entries: Iterable[dict[str, Any]], steps: int = BEEBE_STEPS[-1]) -> dict[str, Curve]:
    """Each of Beebe et al.'s models' learning curve under their protocol, over the seeds evaluated up to
    `steps`."""
    runs: dict[str, dict[int, dict[int, float]]] = defaultdict(dict)
    for e in entries:
        if (e["protocol"], e["data"]) == ("beebe", "mnist1d") and str(steps) in e["accuracy"]:
            runs[e["model"]][e["seed"]] = {int(step): value for step, value in e["accuracy"].items()}
    curves = {}
    for model in (m for m in BEEBE_MODELS if m in runs):
        seeds = list(runs[model].values())
        shared = sorted(set.intersection(*(set(curve) for curve in seeds)))
        values = [[curve[step] for curve in seeds] for step in shared]
        means = [sum(v) / len(v) for v in values]
        curves[model] = Curve(shared, means, [min(v) for v in values], [max(v) for v in values], len(seeds))
    return curves


def write_figure(document: dict[str, Any], path: Path) -> Path | None:
    """The learning curves of Beebe et al.'s protocol with their log's points (Figs. 7-9); None without a
    run of their length."""
    log = published("beebe_et_al_runs")["log"]
    curves = beebe_curves(document["entries"])
    if not curves:
        return None
    printed = {m: Curve(log["steps"], log[m], log[m], log[m]) for m in curves if m in log}
    return learning_curves(path, curves, None, BEEBE_STEPS[-1], printed)


def replace_blocks(text: str, blocks: dict[str, str], where: Path) -> str:
    """`text` with the content between each `<!-- papers:NAME -->` and the next `<!-- /papers -->` replaced
    by blocks[NAME]; a marker missing from the text is an error."""
    for name, content in blocks.items():
        start = f"<!-- papers:{name} -->"
        first = text.find(start)
        end = text.find("<!-- /papers -->", first)
        if first < 0 or end < 0:
            raise ValueError(f"{where} has no `{start}` ... `<!-- /papers -->` block for the {name} table")
        text = text[: first + len(start)] + "\n" + content + "\n" + text[end:]
    return text


def read_document(path: Path) -> dict[str, Any]:
    """The values file, checked as data: entries of plain values with every field, and the `before` list."""
    fields = read_fields(path)
    if fields is None and path.exists():
        raise RecordError(path, "is not a whole JSON file: restore it (git checkout) before adding runs")
    if fields is None:
        return {"sweeps": {}, "entries": [], "before": []}
    for entry in fields.get("entries", []):
        if not isinstance(entry, dict) or set(FIELDS) - set(entry):
            raise RecordError(path, f"an entry must have {list(FIELDS)}: {entry!r}"[:300])
        numbers = entry["accuracy"]
        if not isinstance(numbers, dict) or not all(isinstance(v, int | float) for v in numbers.values()):
            raise RecordError(path, f"an entry's accuracy must map steps to numbers: {entry['run']}")
        if not all(step.isdigit() for step in numbers) or not all(
            isinstance(entry[k], int) for k in ("steps", "seed")
        ):
            raise RecordError(path, f"an entry's steps and seed must be whole numbers: {entry['run']}")
    for old in fields.get("before", []):
        numbers = (
            [old.get(k) for k in ("published", "mean", "std", "n", "steps")]
            if isinstance(old, dict)
            else [None]
        )
        if not all(isinstance(v, int | float) for v in numbers) or set(BEFORE_FIELDS) - set(old):
            raise RecordError(
                path, f"a `before` cell must have {list(BEFORE_FIELDS)}, numbers where numbers: {old!r}"[:300]
            )
    sweeps = fields.get("sweeps", {})
    if not isinstance(sweeps, dict) or not all(isinstance(v, str) for v in sweeps.values()):
        raise RecordError(path, "`sweeps` must map sweep directory names to commands")
    return {"sweeps": sweeps, "entries": fields.get("entries", []), "before": fields.get("before", [])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mnist1d.reports.papers", description=__doc__.split("\n")[0]
    )
    parser.add_argument("sweep_dirs", nargs="*", type=Path, help="sweep directories whose runs to add first")
    parser.add_argument("--values", type=Path, default=VALUES_FILE, help=f"values file ({VALUES_FILE})")
    parser.add_argument("--results", type=Path, default=RESULTS_FILE, help=f"tables' file ({RESULTS_FILE})")
    parser.add_argument("--figure", type=Path, default=FIGURE_FILE, help=f"curves' figure ({FIGURE_FILE})")
    args = parser.parse_args(argv)
    for path in args.sweep_dirs:
        if not path.is_dir():
            parser.error(f"sweep directory {path} does not exist")
    if not args.results.exists():
        parser.error(
            f"--results {args.results} does not exist (run from the repository root, or give --results)"
        )
    try:
        document = read_document(args.values)
        document["entries"] = merge(document["entries"], collect(args.sweep_dirs))
        commands = {d.name: command for d in args.sweep_dirs if (command := sweep_command(d))}
        document["sweeps"] = dict(sorted((document["sweeps"] | commands).items()))
        text = replace_blocks(args.results.read_text(), tables(document), args.results)
    except (ValueError, RecordError) as error:  # UntrustedFileError is a ValueError
        print(f"error: {error}", file=sys.stderr)
        return 1
    write_json(args.values, {"schema_version": SCHEMA_VERSION, "about": ABOUT, **document})
    write_text(args.results, text)
    write_figure(document, args.figure)
    counts = f"{len(document['entries'])} runs in {len(cells(document['entries']))} cells"
    print(f"{counts}: {args.values}; tables written to {args.results}, curves to {args.figure}")
    return 0


ABOUT = (
    "Our runs under each paper's protocol, pooled over sweeps: per run, what it ran under (protocol, data,"
    " model, seed), where it was read from (`run`), its length (`steps`), whether a shorter budget may be"
    " read from it (`prefix`: a constant learning rate), and its evaluations (`accuracy`: step -> test"
    " accuracy %). `before`: our runs from before the papers' presets (our protocol, the study section of"
    " docs/results.md) as mean, sd and n. `sweeps`: the command of each sweep directory the runs come from."
    " Written by `python -m mnist1d.reports.papers`."
)


if __name__ == "__main__":
    sys.exit(main())
