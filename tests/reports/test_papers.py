"""The papers' tables pooled over sweeps: what a run gives, the values file, and the tables written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnist1d.records import TrainRecord, write_run
from mnist1d.reports import papers
from mnist1d.reports.common import prediction_interval, published, seed_stats

CONFIG = {"protocol": {"name": "beebe"}, "data": {"shuffle_seq": False}, "scheduler": None}


def make_run(
    sweep: Path, name: str, model: str, seed: int, accuracies: dict[int, float], config: dict = CONFIG
) -> Path:
    """A finished run's directory as train.py leaves it: results.json with the evaluation history."""
    run_dir = sweep / name
    run_dir.mkdir(parents=True)
    history = [{"step": step, "test/acc": acc} for step, acc in sorted(accuracies.items())]
    last = history[-1]
    record = TrainRecord(
        model=model, status="ok", seed=seed, max_steps=last["step"], steps=last["step"], eval_split="test",
        final_acc=last["test/acc"], best_acc=max(accuracies.values()), history=history, config=config,
    )  # fmt: skip
    write_run(run_dir, record)
    return run_dir


def cell(
    entries: list[dict], model: str, steps: int, reading: str = "final", protocol: str = "beebe"
) -> dict:
    return papers.cells(entries)[protocol, "mnist1d", model, steps, reading]


def test_a_run_gives_both_readings_at_every_budget_it_evaluated(tmp_path):
    make_run(tmp_path / "a", "0_cnn", "cnn", 3, {250: 0.5, 1000: 0.9, 1500: 0.95, 2000: 0.93})
    (entry,) = papers.collect([tmp_path / "a"])
    assert entry["run"] == "a/0_cnn" and entry["steps"] == 2000 and entry["prefix"]
    assert entry["accuracy"] == {"250": 50.0, "1000": 90.0, "1500": 95.0, "2000": 93.0}
    assert (entry["protocol"], entry["data"], entry["model"], entry["seed"]) == ("beebe", "mnist1d", "cnn", 3)
    table = papers.cells([entry])
    assert {key[3:] for key in table} == {(1000, "final"), (1000, "best"), (2000, "final"), (2000, "best")}
    assert cell([entry], "cnn", 1000) == {3: 90.0} and cell([entry], "cnn", 2000) == {3: 93.0}
    assert cell([entry], "cnn", 2000, "best") == {3: 95.0}


def test_what_a_run_is_read_as_follows_its_config(tmp_path):
    shuffled = CONFIG | {"protocol": {"name": "greydanus_kobak"}, "data": {"shuffle_seq": True}}
    make_run(tmp_path / "s", "0_mlp", "mlp", 0, {1000: 0.6, 6000: 0.65}, shuffled)
    scheduled = CONFIG | {"scheduler": {"_target_": "torch.optim.lr_scheduler.StepLR"}}
    make_run(tmp_path / "s", "1_mlp", "mlp", 1, {1000: 0.6, 2000: 0.62}, scheduled)
    plain = {key: value for key, value in CONFIG.items() if key != "protocol"}  # before `protocol` existed
    make_run(tmp_path / "s", "2_mlp", "mlp", 2, {2000: 0.61}, plain)
    table = papers.cells(papers.collect([tmp_path / "s"]))
    assert table["greydanus_kobak", "mnist1d_shuffled", "mlp", 6000, "best"] == {0: 65.0}
    # a scheduled run is no prefix of a shorter one: read at its own length only
    assert table["beebe", "mnist1d", "mlp", 2000, "final"] == {1: 62.0}
    assert 1 not in table.get(("beebe", "mnist1d", "mlp", 1000, "final"), {})
    assert table["ours", "mnist1d", "mlp", 2000, "final"] == {2: 61.0}


def test_an_evaluation_missing_from_results_json_is_read_from_the_csv_log(tmp_path):
    run_dir = make_run(tmp_path / "c", "0_cnn", "cnn", 0, {2000: 0.93})
    (run_dir / "csv").mkdir()
    (run_dir / "csv" / "metrics.csv").write_text("step,test/acc,train/loss\n999,,0.5\n1000,0.875,\n")
    entries = papers.collect([tmp_path / "c"])
    assert cell(entries, "cnn", 1000) == {0: 87.5} and cell(entries, "cnn", 2000, "best") == {0: 93.0}


def test_a_seed_counts_once_with_one_value(tmp_path):
    make_run(tmp_path / "short", "0_cnn", "cnn", 0, {1000: 0.9})
    make_run(tmp_path / "long", "0_cnn", "cnn", 0, {1000: 0.9, 2000: 0.92})
    kept = papers.merge([], papers.collect([tmp_path / "short"]))
    merged = papers.merge(kept, papers.collect([tmp_path / "long"]))  # a shorter run and its longer twin
    assert (
        len(merged) == 2 and cell(merged, "cnn", 1000) == {0: 90.0} and cell(merged, "cnn", 2000) == {0: 92.0}
    )
    assert papers.merge(merged, papers.collect([tmp_path / "long"])) == merged  # read again: nothing new
    partial = kept[0] | {"accuracy": {"1000": 90.0}, "steps": 2000}
    assert papers.merge([partial], kept)[0]["steps"] == 2000  # a run read again keeps what it reached
    make_run(tmp_path / "other", "0_cnn", "cnn", 0, {1000: 0.8})
    with pytest.raises(
        ValueError, match=r"model=cnn, seed=0, step 1000: other/0_cnn has 80.0, but long/0_cnn has 90.0"
    ):
        papers.merge(merged, papers.collect([tmp_path / "other"]))


def test_the_learning_curves_are_those_of_the_runs_of_beebe_et_al_s_length(tmp_path):
    make_run(tmp_path / "l", "0_tcn", "tcn", 0, {5000: 0.97, 10000: 0.99})
    make_run(tmp_path / "l", "1_tcn", "tcn", 1, {2500: 0.95, 5000: 0.98, 10000: 0.995})
    make_run(tmp_path / "l", "2_tcn", "tcn", 2, {5000: 0.9})  # shorter: not drawn
    (curve,) = papers.beebe_curves(papers.collect([tmp_path / "l"])).values()
    assert curve.steps == [5000, 10000] and curve.n == 2
    assert (
        curve.mean == pytest.approx([97.5, 99.25])
        and curve.low == [97.0, 99.0]
        and curve.high == [98.0, 99.5]
    )


def beebe_row(text: str, model: str, steps: int) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"| {model} | {steps} |"))


def test_a_cell_is_judged_by_the_prediction_interval_for_one_run(tmp_path):
    values = [98.1, 98.3, 98.6, 97.9, 98.2]
    for seed, value in enumerate(values):
        make_run(tmp_path / "r", f"{seed}_resnet", "resnet", seed, {1000: value / 100})
    make_run(tmp_path / "r", "9_resnet", "resnet", 9, {2000: 0.90})
    table = papers.cells(papers.collect([tmp_path / "r"]))
    text, judged = papers.beebe_table(table)
    low, high = prediction_interval(seed_stats(values))
    assert low <= published("beebe_et_al_runs")["steps_1000"]["resnet"] <= high
    assert beebe_row(text, "resnet", 1000) == (
        f"| resnet | 1000 | 5 | 0-4 | 98.2 ± 0.3 | [{low:.1f}, {high:.1f}] | 98.4 | inside |"
    )
    assert beebe_row(text, "resnet", 2000).endswith("| 90.0 (n=1) | — | 98.4 | — |")
    assert beebe_row(text, "tcn", 1000) == "| tcn | 1000 | 0 | — | not run | — | 96.6 | — |"
    assert "**Inside: 1 of 1 of Beebe et al.'s numbers with an interval.**" in text
    make_run(tmp_path / "r", "10_resnet", "resnet", 10, {1000: 0.90})  # far below: widens, moves the mean
    text, _ = papers.beebe_table(papers.cells(papers.collect([tmp_path / "r"])))
    assert "| 0-4,10 |" in beebe_row(text, "resnet", 1000)
    assert judged[0]["cell"] == ("beebe", "mnist1d", "resnet", 1000, "final")


OTHERS = "".join(f"<!-- papers:{name} -->\n<!-- /papers -->\n" for name in papers.TABLES if name != "beebe")
BEEBE = "<!-- papers:beebe -->\nold table\n<!-- /papers -->\n"
RESULTS = f"# Results\n\nprose before\n\n{BEEBE}\nprose after\n{OTHERS}"


def command(tmp_path: Path, *sweeps: Path) -> int:
    files = {"--values": "values.json", "--results": "r.md", "--figure": "curves.png"}
    return papers.main([*map(str, sweeps), *(x for k, v in files.items() for x in (k, str(tmp_path / v)))])


def test_the_command_keeps_the_values_and_rewrites_only_the_marked_tables(tmp_path):
    (tmp_path / "r.md").write_text(RESULTS)
    make_run(tmp_path / "s1", "0_dcnn", "dcnn", 0, {1000: 0.95})
    assert command(tmp_path, tmp_path / "s1") == 0
    make_run(tmp_path / "s2", "0_dcnn", "dcnn", 1, {1000: 0.96})
    assert command(tmp_path, tmp_path / "s2") == 0  # a later sweep adds to what the file keeps
    stored = json.loads((tmp_path / "values.json").read_text())
    assert cell(stored["entries"], "dcnn", 1000) == {0: 95.0, 1: 96.0}
    text = (tmp_path / "r.md").read_text()
    assert text.startswith("# Results\n\nprose before\n\n<!-- papers:beebe -->\n| model |")
    assert "<!-- /papers -->\n\nprose after\n<!-- papers:" in text and "old table" not in text
    assert "| dcnn | 1000 | 2 | 0,1 | 95.5 ± 0.7 |" in text
    assert command(tmp_path) == 0  # from the file alone, without the run directories
    assert (tmp_path / "r.md").read_text() == text


def test_a_conflict_or_a_broken_file_writes_nothing(tmp_path, capsys):
    (tmp_path / "r.md").write_text(RESULTS)
    make_run(tmp_path / "s1", "0_cnn", "cnn", 0, {1000: 0.9})
    assert command(tmp_path, tmp_path / "s1") == 0
    values, results = (tmp_path / "values.json").read_bytes(), (tmp_path / "r.md").read_bytes()
    make_run(tmp_path / "s2", "0_cnn", "cnn", 0, {1000: 0.8})
    assert command(tmp_path, tmp_path / "s2") == 1
    assert "keep one of the two runs); nothing was written" in capsys.readouterr().err
    (tmp_path / "r.md").write_text("no markers here\n")
    assert command(tmp_path) == 1
    assert "has no `<!-- papers:beebe -->`" in capsys.readouterr().err
    (tmp_path / "r.md").write_bytes(results)
    (tmp_path / "values.json").write_bytes(values[: len(values) // 2])  # cut short
    assert command(tmp_path) == 1
    assert "is not a whole JSON file" in capsys.readouterr().err
    assert (tmp_path / "values.json").read_bytes() == values[: len(values) // 2]
    assert (tmp_path / "r.md").read_bytes() == results


def test_the_committed_tables_are_what_the_committed_values_give(tmp_path):
    """docs/results.md's tables come from docs/papers_runs.json alone: writing them again changes nothing."""
    root = Path(__file__).resolve().parents[2]
    results = root / papers.RESULTS_FILE
    (tmp_path / "r.md").write_text(results.read_text())
    (tmp_path / "values.json").write_bytes((root / papers.VALUES_FILE).read_bytes())
    assert command(tmp_path) == 0
    assert (tmp_path / "r.md").read_text() == results.read_text()


def test_before_after_the_protocol_costs_and_the_ranking_read_the_same_cells(tmp_path):
    for seed, (resnet, tcn) in enumerate([(0.981, 0.99), (0.985, 0.991), (0.979, 0.989)]):
        make_run(tmp_path / "b", f"{seed}_resnet", "resnet", seed, {1000: resnet})
        make_run(tmp_path / "b", f"{seed}_tcn", "tcn", seed, {1000: tcn})
        ours = CONFIG | {"protocol": {"name": "ours"}}
        make_run(tmp_path / "o", f"{seed}_resnet", "resnet", seed, {1000: resnet - 0.01}, ours)
    table = papers.cells(papers.collect([tmp_path / "b", tmp_path / "o"]))
    before = [{"label": "Beebe resnet 1000", "published": 98.4, "mean": 97.5, "std": 0.2, "n": 3}]
    before[0] |= {
        "protocol": "beebe",
        "data": "mnist1d",
        "model": "resnet",
        "steps": 1000,
        "reading": "final",
    }
    text = papers.before_after(before, table)
    assert "| Beebe resnet 1000: 98.4 | 97.5 ± 0.2 | 3 | [96.5, 98.5] | inside | 98.2 ± 0.3 | 3 |" in text
    assert "**Inside: before 1 of 1, after 1 of 1**\n" in text and "After: 3 seeds per cell" in text
    unrun = before[0] | {"model": "gru", "label": "Beebe gru 1000"}
    assert "**Inside: before 1 of 1, after 1 of 1** (1 published numbers have no interval after yet" in (
        papers.before_after([*before, unrun], table)
    )
    costs = papers.protocol_costs(table)
    assert (
        "| Beebe et al. | resnet | 1000 | final | 97.2 ± 0.3 (3) | 98.2 ± 0.3 (3) | **-1.0** [-1.7, -0.3] |"
        in costs
    )
    assert "| tcn |" not in costs
    assert papers.ranking(table) == "Ours, under their protocol: 1000 steps: tcn 99.0 > resnet 98.2."
    assert papers.our_tcns(table) == "(not run yet)"
    for seed in (0, 1):
        make_run(tmp_path / "v", f"{seed}_tcn_trained", "tcn_trained", seed, {1000: 0.97 + seed / 100})
    variants = papers.our_tcns(papers.cells(papers.collect([tmp_path / "b", tmp_path / "v"])))
    assert variants.splitlines()[2:] == [
        "| tcn_trained | 1000 | 2 | 0,1 | 97.5 ± 0.7 | 99.0 ± 0.1 (3) | 96.6 |"
    ]


def test_each_sweep_is_kept_with_the_command_that_runs_it_again(tmp_path):
    from mnist1d.sweeps.spec import SweepSpec

    sweep = tmp_path / "beebe_gru"
    axes = {"trainer.max_steps": ["10000", "2000"], "model": ["gru"], "seed": ["4", "5"]}
    report = "mnist1d.reports.study.study_report"
    config = {"fixed": {"experiment": "beebe"}, "report_fn": report}
    spec = SweepSpec("study", axes, ["experiment=beebe", "logger=csv"], "basic", True, report, config)
    sweep.mkdir()
    spec.save(sweep)
    again = "python sweep.py sweep=study trainer.max_steps=10000,2000 model=gru seed=4,5 logger=csv"
    assert papers.sweep_command(sweep) == f"{again} launcher=basic share_budgets=true"
    make_run(sweep, "0_gru", "gru", 4, {1000: 0.88})
    (tmp_path / "r.md").write_text(RESULTS)
    assert command(tmp_path, sweep) == 0
    stored = json.loads((tmp_path / "values.json").read_text())
    assert stored["sweeps"] == {"beebe_gru": papers.sweep_command(sweep)}
    block = (
        (tmp_path / "r.md").read_text().split("<!-- papers:commands -->\n")[1].split("<!-- /papers -->")[0]
    )
    assert block == f"    {papers.sweep_command(sweep)}   # beebe_gru: 1 runs\n"


@pytest.mark.parametrize("shift", [0.0, 0.5, 1.0, 2.0])
def test_the_difference_interval_is_welch_s(shift):
    import numpy as np
    import scipy.stats

    rng = np.random.default_rng(7)
    ours, theirs = list(rng.normal(90 + shift, 1.0, 10)), list(rng.normal(90, 0.5, 6))
    low, high = papers.difference_interval(seed_stats(ours), seed_stats(theirs))
    assert low < np.mean(ours) - np.mean(theirs) < high
    welch = scipy.stats.ttest_ind(ours, theirs, equal_var=False)
    assert (low > 0 or high < 0) == (welch.pvalue < 0.05)
    assert welch.confidence_interval(0.95) == pytest.approx((low, high))


@pytest.mark.parametrize(
    "crafted",
    [{"before": [{"label": "x", "published": "98"}]}, {"entries": [{"seed": "0"}]}, {"sweeps": {"a": 1}}],
)
def test_a_crafted_values_file_is_refused_as_data(crafted, tmp_path, capsys):
    (tmp_path / "r.md").write_text(RESULTS)
    make_run(tmp_path / "s", "0_cnn", "cnn", 0, {1000: 0.9})
    assert command(tmp_path, tmp_path / "s") == 0
    stored = json.loads((tmp_path / "values.json").read_text())
    if "entries" in crafted:
        crafted = {"entries": [stored["entries"][0] | crafted["entries"][0]]}
    (tmp_path / "values.json").write_text(json.dumps(stored | crafted))
    before = (tmp_path / "values.json").read_bytes(), (tmp_path / "r.md").read_bytes()
    assert command(tmp_path) == 1
    assert capsys.readouterr().err.startswith("error: ")
    assert ((tmp_path / "values.json").read_bytes(), (tmp_path / "r.md").read_bytes()) == before
