"""The papers' published numbers judged against our runs under each paper's own protocol, pooled over sweeps.

A cell of these tables (a model at a step budget under a protocol) pools runs of several sweeps: its seeds
were run when and where a machine allowed, and a 1000- or 2000-step value is read from the evaluation
history of a longer run (exact: with a constant learning rate a shorter run is a prefix of a longer one).
The accuracies are kept in docs/papers_runs.json, one entry per protocol, data, model, step budget, reading
and seed, each naming the run it was read from; the tables of docs/results.md are written from that file
alone, so they can be checked and rewritten without the run directories:

    python -m mnist1d.reports.papers                              # rewrite the tables from the file
    python -m mnist1d.reports.papers outputs/sweeps/<dir> ...     # add those sweeps' runs first

A value read again must equal the one kept (the same seed under the same protocol is the same run), or
nothing is written. Each table sits in docs/results.md between `<!-- papers:NAME -->` and `<!-- /papers -->`.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from mnist1d.atomic import write_json, write_text
from mnist1d.records import SCHEMA_VERSION, RecordError, RunRecord, read_fields, read_run
from mnist1d.reports.common import count_inside, judge, prediction_interval, published, seed_stats

VALUES_FILE = Path("docs/papers_runs.json")
RESULTS_FILE = Path("docs/results.md")
BUDGETS = (1000, 2000, 6000, 10000)  # every step budget either paper reads a run at
BEEBE_STEPS = (1000, 2000, 10000)
GK_STEPS = 6000
BEEBE_MODELS = ("resnet", "tcn", "dcnn", "cnn", "gru", "mlp", "logistic")
OUR_TCNS = ("tcn_trained", "tcn_dilated")
GK_MODELS = ("logistic", "mlp", "cnn", "gru")
VARIANTS = ("mnist1d", "mnist1d_shuffled")
TARGET_SEEDS = 10
# the tables of docs/results.md, each between `<!-- papers:NAME -->` and `<!-- /papers -->`
TABLES = (
    "beebe",
    "gk_mnist1d",
    "gk_mnist1d_shuffled",
    "notebooks",
    "before_after",
    "protocol_costs",
    "not_run",
)
KEY = ("protocol", "data", "model", "steps", "reading", "seed")
Cell = tuple[str, str, str, int, str]  # protocol, data, model, steps, reading


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


def run_entries(run_dir: Path, record: RunRecord, source: str) -> list[dict[str, Any]]:
    """The run's accuracy at every budget of BUDGETS it evaluated at: `final` (at that step) and `best`
    (the best evaluation up to it), as percentages. Budgets below the run's length only with a constant
    learning rate (no scheduler), where the shorter run is a prefix of this one."""
    config = record.config
    split = record.eval_split or "test"
    accuracies = csv_accuracies(run_dir, split)
    accuracies |= {
        entry["step"]: entry[f"{split}/acc"] for entry in record.history if f"{split}/acc" in entry
    }
    budgets = [b for b in BUDGETS if b in accuracies and b <= (record.max_steps or 0)]
    if config.get("scheduler") is not None:
        budgets = [b for b in budgets if b == record.max_steps]
    common = {
        "protocol": (config.get("protocol") or {}).get("name", "ours"),
        "data": "mnist1d_shuffled" if (config.get("data") or {}).get("shuffle_seq") else "mnist1d",
        "model": record.model,
        "seed": record.seed,
        "run": source,
    }
    entries = []
    for steps in budgets:
        best = max(acc for step, acc in accuracies.items() if step <= steps)
        for reading, value in (("final", accuracies[steps]), ("best", best)):
            entries.append(common | {"steps": steps, "reading": reading, "accuracy": round(100 * value, 4)})
    return entries


def collect(sweep_dirs: Iterable[Path]) -> list[dict[str, Any]]:
    """The entries of every training run under the sweep directories (results.json read as data)."""
    entries = []
    for run_dir in job_dirs(sweep_dirs):
        record = read_run(run_dir)
        if record is None or record.kind != "train" or record.seed is None:
            continue
        entries += run_entries(run_dir, record, f"{run_dir.parent.name}/{run_dir.name}")
    return entries


def key(entry: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(entry[k] for k in KEY)


def merge(kept: list[dict[str, Any]], found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`kept` with the entries of `found` it lacks; a value found again must equal the kept one."""
    merged = {key(entry): entry for entry in kept}
    for entry in found:
        old = merged.setdefault(key(entry), entry)
        if abs(old["accuracy"] - entry["accuracy"]) > 1e-6:
            cell = ", ".join(f"{k}={entry[k]}" for k in KEY)
            raise ValueError(
                f"{cell}: {entry['run']} has {entry['accuracy']}, but {old['run']} had {old['accuracy']}"
                " (the same seed under the same protocol must give the same run); nothing was written"
            )
    return sorted(merged.values(), key=lambda e: tuple(str(v) for v in key(e)))


def cells(entries: Iterable[dict[str, Any]]) -> dict[Cell, dict[int, float]]:
    """(protocol, data, model, steps, reading) -> {seed: accuracy %}."""
    table: dict[Cell, dict[int, float]] = defaultdict(dict)
    for e in entries:
        table[e["protocol"], e["data"], e["model"], e["steps"], e["reading"]][e["seed"]] = e["accuracy"]
    return table


def stats(seeds: dict[int, float]) -> dict[str, Any]:
    return seed_stats([seeds[s] for s in sorted(seeds)])


def mean_sd(stat: dict[str, Any]) -> str:
    return f"{stat['mean']:.1f} (n=1)" if stat["n"] == 1 else f"{stat['mean']:.1f} ± {stat['std']:.1f}"


def interval(stat: dict[str, Any]) -> str:
    found = prediction_interval(stat)
    return "—" if found is None else f"[{found[0]:.1f}, {found[1]:.1f}]"


def verdict(judged: dict[str, Any]) -> str:
    return {True: "inside", False: "**outside**", None: "— (n=1)"}[judged["inside"]]


def seed_list(seeds: dict[int, float]) -> str:
    """The seeds, three or more consecutive ones as a range: `0-4,10`."""
    groups: list[list[int]] = []
    for seed in sorted(seeds):
        if groups and seed == groups[-1][-1] + 1:
            groups[-1].append(seed)
        else:
            groups.append([seed])
    return ",".join(f"{g[0]}-{g[-1]}" if len(g) > 2 else ",".join(map(str, g)) for g in groups)


def judged_rows(
    table: dict[Cell, dict[int, float]], wanted: Iterable[tuple[Cell, float, str]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """A row per wanted cell (its label cells first) and the judgements of those with seeds."""
    rows, judgements = [], []
    for cell, paper, label in wanted:
        seeds = table.get(cell, {})
        if not seeds:
            rows.append(f"| {label} | 0 | — | not run | — | {paper:g} | — |")
            continue
        stat = stats(seeds)
        judged = judge(stat, paper) | {"cell": cell}
        judgements.append(judged)
        row = [label, str(stat["n"]), seed_list(seeds), mean_sd(stat), interval(stat), f"{paper:g}"]
        rows.append("| " + " | ".join([*row, verdict(judged)]) + " |")
    return rows, judgements


def beebe_table(table: dict[Cell, dict[int, float]]) -> tuple[str, list[dict[str, Any]]]:
    reference = published("beebe_et_al_runs")
    wanted = [
        (
            ("beebe", "mnist1d", model, steps, "final"),
            reference[f"steps_{steps}"][model],
            f"{model} | {steps}",
        )
        for model in BEEBE_MODELS
        for steps in BEEBE_STEPS
    ]
    rows, judgements = judged_rows(table, wanted)
    head = "| model | steps | n | seeds | ours (final) | 95 % PI, one run | Beebe et al. | verdict |"
    text = "\n".join([head, "|---|---|---|---|---|---|---|---|", *rows])
    return (
        f"{text}\n\n**Inside: {count_inside(judgements)} of Beebe et al.'s numbers measured here.**",
        judgements,
    )


def gk_table(table: dict[Cell, dict[int, float]], data: str) -> tuple[str, list[dict[str, Any]]]:
    reference = published("original_paper_table")[data]
    wanted = [(("greydanus_kobak", data, m, GK_STEPS, "best"), reference[m], m) for m in GK_MODELS]
    rows, judgements = judged_rows(table, wanted)
    head = "| model | n | seeds | ours (best of the evaluations) | 95 % PI, one run | G&K table | verdict |"
    text = "\n".join([head, "|---|---|---|---|---|---|---|", *rows])
    return f"{text}\n\n**{count_inside(judgements)} inside.**", judgements


def notebook_table(table: dict[Cell, dict[int, float]]) -> str:
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
                row = [run["notebook"], data, model, f"{numbers[model]:g}"]
                for reading in judgements:
                    seeds = table.get(("greydanus_kobak", data, model, GK_STEPS, reading), {})
                    if len(seeds) < 2:
                        row += ["not run" if not seeds else "n=1", "—"]
                        continue
                    stat = stats(seeds)
                    judged = judge(stat, numbers[model])
                    judgements[reading].append(judged)
                    row += [f"{interval(stat)} ({stat['n']})", verdict(judged)]
                lines.append("| " + " | ".join(row) + " |")
    counts = f"inside, best: {count_inside(judgements['best'])}; final: {count_inside(judgements['final'])}"
    return "\n".join([*lines, "", counts])


def before_after(
    before: list[dict[str, Any]], table: dict[Cell, dict[int, float]]
) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """Each published number judged by the same rule before (the recorded mean, sd and n of our runs under
    our protocol, `before`) and after (the papers' protocols, pooled)."""
    lines = [
        "| published number | before: ours | n | 95 % PI | verdict | after: papers' protocol | n | 95 % PI"
        " | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    judged_before, judged_after = [], []
    for old in before:
        cell = (old["protocol"], old["data"], old["model"], old["steps"], old["reading"])
        seeds = table.get(cell, {})
        if len(seeds) < 2:
            continue
        was = {"mean": old["mean"], "std": old["std"], "n": old["n"]}
        now = stats(seeds)
        judged_before.append(judge(was, old["published"]))
        judged_after.append(judge(now, old["published"]))
        row = [f"{old['label']}: {old['published']:g}", mean_sd(was), str(was["n"]), interval(was)]
        row += [
            verdict(judged_before[-1]),
            mean_sd(now),
            str(now["n"]),
            interval(now),
            verdict(judged_after[-1]),
        ]
        lines.append("| " + " | ".join(row) + " |")
    total = (
        f"**Inside: before {count_inside(judged_before)}, after {count_inside(judged_after)}** (the published"
        " numbers with an interval after; the others are listed under Not run here)."
    )
    return "\n".join([*lines, "", total]), judged_before, judged_after


def protocol_costs(table: dict[Cell, dict[int, float]]) -> str:
    """Our protocol beside Beebe et al.'s, model by model: what the protocol changes."""
    lines = [
        "| model | steps | ours: mean ± sd (n) | Beebe et al.'s protocol: mean ± sd (n) | difference |",
        "|---|---|---|---|---|",
    ]
    for model in (*BEEBE_MODELS, *OUR_TCNS):
        for steps in BEEBE_STEPS:
            ours = table.get(("ours", "mnist1d", model, steps, "final"), {})
            theirs = table.get(("beebe", "mnist1d", model, steps, "final"), {})
            if not ours or not theirs:
                continue
            a, b = stats(ours), stats(theirs)
            row = [model, str(steps), f"{mean_sd(a)} ({a['n']})", f"{mean_sd(b)} ({b['n']})"]
            lines.append("| " + " | ".join([*row, f"{a['mean'] - b['mean']:+.1f}"]) + " |")
    return "\n".join(lines)


def not_run(table: dict[Cell, dict[int, float]]) -> str:
    """The judged cells with fewer than TARGET_SEEDS seeds, and the sweeps that complete them."""
    short = []
    for model in BEEBE_MODELS:
        for steps in BEEBE_STEPS:
            n = len(table.get(("beebe", "mnist1d", model, steps, "final"), {}))
            if n < TARGET_SEEDS:
                short.append(f"{model} at {steps} steps (n = {n})")
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


def tables(document: dict[str, Any]) -> dict[str, str]:
    """Every table of docs/results.md this module writes, by its marker name (TABLES)."""
    table = cells(document["entries"])
    written = {
        "beebe": beebe_table(table)[0],
        "gk_mnist1d": gk_table(table, "mnist1d")[0],
        "gk_mnist1d_shuffled": gk_table(table, "mnist1d_shuffled")[0],
        "notebooks": notebook_table(table),
        "before_after": before_after(document["before"], table)[0],
        "protocol_costs": protocol_costs(table),
        "not_run": not_run(table),
    }
    assert tuple(written) == TABLES
    return written


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
    """The values file, checked as data: entries of plain values with every key, and the `before` list."""
    fields = read_fields(path)
    if fields is None and path.exists():
        raise RecordError(path, "is not a whole JSON file: restore it (git checkout) before adding runs")
    if fields is None:
        return {"entries": [], "before": []}
    for entry in fields.get("entries", []):
        if not isinstance(entry, dict) or (set(KEY) | {"accuracy", "run"}) - set(entry):
            raise RecordError(path, f"an entry must have {[*KEY, 'accuracy', 'run']}: {entry!r}")
        if not isinstance(entry["accuracy"], int | float) or not isinstance(entry["steps"], int):
            raise RecordError(path, f"an entry's accuracy and steps must be numbers: {entry!r}")
    return {"entries": fields.get("entries", []), "before": fields.get("before", [])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mnist1d.reports.papers", description=__doc__.split("\n")[0]
    )
    parser.add_argument("sweep_dirs", nargs="*", type=Path, help="sweep directories whose runs to add first")
    parser.add_argument("--values", type=Path, default=VALUES_FILE, help=f"the values file ({VALUES_FILE})")
    parser.add_argument(
        "--results", type=Path, default=RESULTS_FILE, help=f"the tables' file ({RESULTS_FILE})"
    )
    args = parser.parse_args(argv)
    for path in args.sweep_dirs:
        if not path.is_dir():
            parser.error(f"sweep directory {path} does not exist")
    if not args.results.exists():
        parser.error(f"--results {args.results} does not exist")
    try:
        document = read_document(args.values)
        document["entries"] = merge(document["entries"], collect(args.sweep_dirs))
        text = replace_blocks(args.results.read_text(), tables(document), args.results)
    except (ValueError, RecordError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    write_json(args.values, {"schema_version": SCHEMA_VERSION, "about": ABOUT, **document})
    write_text(args.results, text)
    counts = f"{len(document['entries'])} values in {len(cells(document['entries']))} cells"
    print(f"{counts}: {args.values}; tables written to {args.results}")
    return 0


ABOUT = (
    "Accuracies (%) of our runs under each paper's protocol, pooled over sweeps: one per protocol, data,"
    " model, step budget, reading (final: at that step; best: the best evaluation up to it) and seed, each"
    " with the run it was read from. `before`: our runs from before the papers' presets (our protocol, the"
    " study section of docs/results.md), as mean, sd and n. Written by `python -m mnist1d.reports.papers`."
)


if __name__ == "__main__":
    sys.exit(main())
