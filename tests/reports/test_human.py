"""The human benchmark's comparison: a person's per-digit errors beside trained runs', the published human
numbers, the correlations, and what is left out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mnist1d.apps.human import app
from mnist1d.records import HumanRecord, read_run, write_run
from mnist1d.reports.common import published
from mnist1d.reports.human import comparison, correlation, error_rates, run_results, write_comparison
from mnist1d.training.fit import fit
from tests.helpers import compose_app, report_files

PERSON_ACC = [1.0, 0.9, 0.8, 1.0, 0.9, 1.0, 1.0, 0.7, 1.0, 0.9]


def person_results(per_class_acc: list[float], shuffled: bool = False) -> HumanRecord:
    """A finished test of 10 questions per digit, as the app scores it."""
    n = 10 * len(per_class_acc)
    correct = round(10 * sum(per_class_acc))
    return HumanRecord(
        model="human", name="ada", status="ok", seed=0, max_steps=None,
        final_acc=correct / n, final_test_acc=correct / n, best_acc=correct / n,
        accuracy_ci={"level": 0.95, "method": "wilson", "low": 0.85, "high": 0.96},
        n_questions=n, per_class_n=[10] * 10, per_class_acc=per_class_acc,
        config={"data": {"shuffle_seq": shuffled}},
    )  # fmt: skip


def model_results(
    model: str, seed: int, per_class_acc: list[float], shuffled: bool = False
) -> dict[str, Any]:
    accuracy = float(np.mean([acc for acc in per_class_acc if acc is not None]))
    return {
        "model": model, "seed": seed, "max_steps": 2000, "status": "ok", "final_acc": accuracy,
        "final_test_acc": accuracy, "per_class_acc": per_class_acc,
        "config": {"data": {"shuffle_seq": shuffled}},
    }  # fmt: skip


def write_runs(sweep: Path, runs: dict[str, dict[str, Any]]) -> None:
    """results.json files as written before they had a schema version (schema 0), which are still read."""
    for job, results in runs.items():
        (sweep / job).mkdir(parents=True)
        (sweep / job / "results.json").write_text(json.dumps(results))


CNN = {
    0: [1.0, 0.9, 0.85, 1.0, 0.9, 0.95, 1.0, 0.8, 1.0, 0.9],
    1: [1.0, 0.95, 0.75, 1.0, 0.9, 1.0, 1.0, 0.7, 1.0, 0.8],
}
FLAT = [0.3] * 10


def test_comparison_from_run_and_sweep_directories(tmp_path):
    sweep = tmp_path / "sweep"
    write_runs(
        sweep,
        {
            "0_cnn-2000steps-seed0": model_results("cnn", 0, CNN[0]),
            "1_cnn-2000steps-seed1": model_results("cnn", 1, CNN[1]),
            "2_logistic-2000steps-seed0": model_results("logistic", 0, FLAT),
            "3_cnn-2000steps-seed2": model_results("cnn", 2, FLAT, shuffled=True),  # another variant
            "4_gru-2000steps-seed0": model_results("gru", 0, FLAT) | {"status": "failed"},
            "5_person": model_results("human", 0, [None, *FLAT[1:]]),  # a digit never asked
        },
    )
    person_dir = tmp_path / "person"
    person_dir.mkdir()
    write_run(person_dir, person_results(PERSON_ACC))
    cfg = compose_app("human", [f"compare={person_dir}", f"runs=[{sweep}]"], tmp_path / "out", tmp_path / "c")
    numbers = report_files([p for p in app.run(cfg) if p.suffix != ".md"], "human_vs_models")

    person_errors = [100 * (1 - a) for a in PERSON_ACC]
    assert numbers["person"]["error_rate"] == pytest.approx(person_errors)
    assert numbers["person"]["accuracy"] == pytest.approx(92.0)
    cnn_errors = [100 * (1 - (a + b) / 2) for a, b in zip(CNN[0], CNN[1], strict=True)]
    models = {m["label"]: m for m in numbers["models"]}
    assert set(models) == {"cnn (2000 steps)", "logistic (2000 steps)"}  # failed and shuffled runs left out
    assert models["cnn (2000 steps)"]["seeds"] == [0, 1]
    assert models["cnn (2000 steps)"]["error_rate"] == pytest.approx(cnn_errors)
    assert models["cnn (2000 steps)"]["r_person"] == pytest.approx(
        np.corrcoef(cnn_errors, person_errors)[0, 1]
    )
    reference = published("human_per_digit")["as_published"]["error_rate"]
    assert models["cnn (2000 steps)"]["r_published_human"] == pytest.approx(
        np.corrcoef(cnn_errors, reference)[0, 1]
    )
    assert models["logistic (2000 steps)"]["r_person"] is None  # constant errors: no correlation
    assert sorted(numbers["skipped_runs"]) == ["cnn (2000 steps, seed 2)", "human (2000 steps, seed 0)"]
    assert numbers["published_human"]["accuracy"] == 95.8
    assert (
        numbers["published_human_cnn_correlation"]
        == published("human_per_digit")["human_cnn_error_correlation"]
    )

    table = (tmp_path / "out" / "human_vs_models.md").read_text().splitlines()
    assert table[0] == "| digit | ada (n) | published human | cnn (2000 steps) | logistic (2000 steps) |"
    assert table[2 + 7] == f"| 7 | 30.0 (10) | {reference[7]:.1f} | {cnn_errors[7]:.1f} | 70.0 |"
    assert table[-3].startswith("| accuracy | 92.0 [85.0, 96.0] | 95.8 |")
    assert len(table) == 2 + 10 + 3


def test_a_real_run_is_read_and_the_shuffled_person_gets_the_shuffled_reference(make_cfg, tmp_path):
    quick = ["trainer.max_steps=20", "eval_every=10", "callbacks=none"]
    fit(make_cfg("model=logistic", "data=mnist1d_shuffled", *quick, run="runs/0_logistic-20steps-seed0"))
    person = person_results(PERSON_ACC, shuffled=True)
    paths = write_comparison(tmp_path / "out", person, run_results(tmp_path / "runs"))
    numbers = report_files([p for p in paths if p.suffix != ".md"], "human_vs_models")
    assert numbers["dataset"] == "mnist1d_shuffled"
    assert numbers["published_human"] == {"accuracy": 30, "error_rate": None, "cnn_error_rate": None}
    (model,) = numbers["models"]
    run = read_run(tmp_path / "runs" / "0_logistic-20steps-seed0")
    assert model["label"] == "logistic (20 steps)"
    assert model["error_rate"] == pytest.approx(error_rates(run))


def test_correlation_skips_digits_never_asked_and_constant_errors():
    assert correlation([0, 10, None, 30], [1, 2, 50, 3]) == pytest.approx(
        np.corrcoef([0, 10, 30], [1, 2, 3])[0, 1]
    )
    assert correlation([5, 5, 5, 5], [1, 2, 3, 4]) is None
    assert correlation([1, 2, 3], None) is None


def test_comparison_without_runs_has_the_person_and_the_published_human():
    numbers = comparison(person_results(PERSON_ACC), [])
    reference = published("human_per_digit")["as_published"]["error_rate"]
    person_errors = [100 * (1 - a) for a in PERSON_ACC]
    assert numbers["models"] == []
    assert numbers["person"]["r_published_human"] == pytest.approx(
        np.corrcoef(person_errors, reference)[0, 1]
    )


def test_compare_refuses_a_directory_without_a_finished_test(tmp_path):
    cfg = compose_app("human", [f"compare={tmp_path}"], tmp_path / "out", tmp_path / "c")
    with pytest.raises(ValueError, match=r"is invalid: its results\.json does not exist"):
        app.run(cfg)


def test_the_shipped_human_numbers_agree_with_themselves_and_the_published_accuracy():
    section = published("human_per_digit")
    for key, n in (("as_published", 500), ("distinct", 400)):
        numbers = section[key]
        matrix = np.asarray(numbers["confusion_matrix"])
        assert matrix.sum() == numbers["n"] == n and numbers["per_class_n"] == matrix.sum(1).tolist()
        assert numbers["per_class_acc"] == pytest.approx(100 * np.diag(matrix) / matrix.sum(1), abs=0.005)
        assert numbers["accuracy"] == pytest.approx(100 * np.trace(matrix) / n, abs=0.005)
    assert [q["correct"] for q in section["quizzes"]] == [96, 96, 96, 97, 94]
    assert section["as_published"]["accuracy"] == published("human")["test_accuracy"]
