"""The rows of a sweep: shared budgets read from a longer run's history, jobs that left no results."""

from __future__ import annotations

from pathlib import Path

from mnist1d.sweeps.summary import budget_row, collect_rows
from tests.helpers import result_row


def test_budget_row_reads_the_history_at_that_step():
    longest = result_row("cnn", 1000, 0, [0.5, 0.8, 0.7, 0.9])
    shared = budget_row(longest, 750)
    assert shared["steps"] == 750 and shared["final_acc"] == 0.7 and shared["best_acc"] == 0.8
    assert shared["shared_budget"] and shared["source_run"] == longest["job_dir"] and shared["status"] == "ok"
    assert [r["step"] for r in shared["history"]] == [250, 500, 750]
    missing = budget_row(longest, 600)
    assert missing["final_acc"] is None and "no evaluation at step 600" in missing["error"]


def test_a_job_directory_without_results_is_reported_missing(tmp_path: Path):
    job_dir = tmp_path / "3_cnn-1000steps-seed2"
    (job_dir / ".hydra").mkdir(parents=True)
    (job_dir / ".hydra" / "overrides.yaml").write_text("- model=cnn\n- seed=2\n")
    (only,) = collect_rows(tmp_path, None)
    assert (only["job"], only["model"], only["steps"], only["seed"]) == (3, "cnn", 1000, 2)
    assert only["status"] == "missing" and only["overrides"] == {"model": "cnn", "seed": "2"}
