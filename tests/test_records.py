"""The records later stages read back (results.json, sweep.json): one writer and one reader each, typed and
versioned; older files are read, files this version cannot read are refused with a message saying why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnist1d import records
from mnist1d.records import (
    RESULTS_FILE,
    SCHEMA_VERSION,
    EvalRecord,
    HumanRecord,
    RecordError,
    TrainRecord,
    clear_run,
    read_run,
    write_run,
)
from mnist1d.sweeps.spec import SPEC_FILE, SweepSpec

CONFIG = {"model": {"_target_": "mnist1d.models.cnn.CNN"}, "seed": 0}
RECORDS = [
    TrainRecord(model="cnn", status="ok", seed=1, final_acc=0.9, history=[{"step": 5, "test/acc": 0.9}]),
    EvalRecord(model="cnn", status="ok", checkpoint="/runs/a/best.ckpt", final_test_loss=0.3, config=CONFIG),
    HumanRecord(model="human", status="ok", name="ada", n_questions=100, answers=[{"answer": 3}]),
]
REPORT = "mnist1d.reports.study.study_report"
SPEC = SweepSpec(
    "study", {"seed": ["0", "1"]}, ["model=cnn"], "basic", False, REPORT, {"report_fn": REPORT, "fixed": {}}
)


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: record.kind)
def test_every_kind_of_results_json_reads_back_as_written(record, tmp_path):
    write_run(tmp_path, record)
    written = json.loads((tmp_path / "results.json").read_text())
    assert (written["schema_version"], written["kind"]) == (SCHEMA_VERSION, record.kind)
    assert read_run(tmp_path) == record


def test_files_from_before_the_schema_version_are_read_with_their_kind(tmp_path):
    old = {
        "train": {"model": "cnn", "status": "failed", "error": "ValueError: x", "steps": 0, "history": []},
        "eval": {"model": "cnn", "status": "ok", "checkpoint": "/runs/a/best.ckpt", "trained_on": {}},
        "human": {"model": "human", "status": "ok", "name": "ada", "accuracy_ci": {"level": 0.95}},
    }
    for kind, fields in old.items():
        (tmp_path / kind).mkdir()
        (tmp_path / kind / "results.json").write_text(json.dumps(fields))
        record = read_run(tmp_path / kind)
        assert record.kind == kind and record.model == fields["model"] and record.status == fields["status"]
    assert read_run(tmp_path / "missing") is None
    (tmp_path / "torn").mkdir()
    (tmp_path / "torn" / "results.json").write_text('{"model": "cn')
    assert read_run(tmp_path / "torn") is None  # what a killed writer would leave (atomic writes leave none)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"schema_version": SCHEMA_VERSION + 1, "model": "cnn"}, "schema_version=2 is not one this"),
        ({"schema_version": 1, "kind": "lottery", "model": "cnn"}, "kind='lottery' is not one of"),
        ({"model": "cnn", "status": "ok", "sparsity": 0.5}, r"fields \['sparsity'\] are not in schema 1"),
        ({"status": "ok"}, r"a TrainRecord needs the fields \['model'\]"),
        ({"model": "cnn", "status": "ok", "config": ["x"]}, "its config is a list, not a mapping"),
        (["not", "a", "record"], "holds a JSON list, not a record"),
    ],
)
def test_a_file_this_version_cannot_read_is_refused_naming_it(fields, message, tmp_path):
    (tmp_path / "results.json").write_text(json.dumps(fields))
    with pytest.raises(RecordError, match=f"^{tmp_path / 'results.json'}: {message}"):
        read_run(tmp_path)


def test_sweep_json_is_versioned_and_read_back_like_results_json(tmp_path):
    SPEC.save(tmp_path)
    assert json.loads((tmp_path / SPEC_FILE).read_text())["schema_version"] == SCHEMA_VERSION
    assert SweepSpec.load(tmp_path) == SPEC
    old = json.loads((tmp_path / SPEC_FILE).read_text())
    del old["schema_version"]
    (tmp_path / SPEC_FILE).write_text(json.dumps(old))
    assert SweepSpec.load(tmp_path) == SPEC
    (tmp_path / SPEC_FILE).write_text(json.dumps(old | {"schema_version": 7}))
    with pytest.raises(RecordError, match="schema_version=7"):
        SweepSpec.load(tmp_path)
    assert SweepSpec.load(tmp_path / "nothing") is None


def test_every_config_read_back_from_a_file_passes_the_one_check(tmp_path, monkeypatch):
    checked: list[tuple[dict, Path]] = []

    def check(config: dict, path: Path) -> dict:
        checked.append((config, path))
        return config

    monkeypatch.setattr(records, "read_back_config", check)
    write_run(tmp_path, RECORDS[1])
    SPEC.save(tmp_path)
    read_run(tmp_path)
    SweepSpec.load(tmp_path)
    assert checked == [(CONFIG, tmp_path / "results.json"), (SPEC.config, tmp_path / SPEC_FILE)]


def test_a_rerun_keeps_a_completed_record_aside_and_drops_a_failed_one(tmp_path):
    completed, failed = tmp_path / "completed", tmp_path / "failed"
    for run_dir, status in ((completed, "ok"), (failed, "failed")):
        run_dir.mkdir()
        (run_dir / RESULTS_FILE).write_text(json.dumps({"status": status, "final_acc": 0.9}))
    for _ in range(2):
        clear_run(completed)
        (completed / RESULTS_FILE).write_text(json.dumps({"status": "ok", "final_acc": 0.9}))
    clear_run(failed)
    assert sorted(p.name for p in completed.iterdir()) == [
        RESULTS_FILE,
        f"{RESULTS_FILE}.replaced",
        f"{RESULTS_FILE}.replaced.1",
    ]
    assert not list(failed.iterdir())
