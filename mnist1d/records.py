"""The records later stages read back: a run's results.json, typed, versioned, with one writer and one reader.

results.json is what every stage after a run reads: the sweep summary and reports, resume and
`skip_completed`, the hyperparameter search's best trial, the human benchmark's comparison, the benchmark.
It is one of three kinds of `RunRecord`, named by its `kind` field: `TrainRecord` (train.py), `EvalRecord`
(eval.py), `HumanRecord` (a person's test, `python -m mnist1d.apps.human`). `write_run` is how every
results.json is written, `read_run` how every one is read. sweep.json is typed the same way (`SweepSpec`,
mnist1d/sweeps/spec.py), through `write_record` and `read_record`.

Every file carries `schema_version`. A file without one was written before versions (schema 0, the same
fields as schema 1 without `kind`, which is then inferred) and is read; a file of a newer schema, of an
unknown kind, with fields this schema does not know or without its required fields is refused with a
`RecordError` that says which and why. A file is data: the config in it passes `read_back_config`, the one
place where what a file's config may name is checked, before any stage sees it.
"""

from __future__ import annotations

import dataclasses
import json
import platform
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from mnist1d.atomic import set_aside, write_json
from mnist1d.trusted import check_read_back

SCHEMA_VERSION = 1
RESULTS_FILE = "results.json"
STATUS_OK, STATUS_FAILED, STATUS_INTERRUPTED = "ok", "failed", "interrupted"
LIBRARIES = ("torch", "pytorch-lightning", "torchmetrics", "hydra-core", "numpy", "wandb", "mnist1d-lab")
Record = TypeVar("Record")


class RecordError(ValueError):
    """A record file that this version cannot read: its message names the file and what is wrong."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")


def read_back_config(config: Any, path: Path) -> dict[str, Any]:
    """Every config read back from a file (a run's results.json, a sweep's sweep.json) passes here before
    any stage uses it: the one place to check what a file's config may name (`_target_`s, a sweep's
    `report_fn`), since nothing in a file may be imported or called unless our code allows it."""
    if not isinstance(config, dict):
        raise RecordError(path, f"its config is a {type(config).__name__}, not a mapping")
    check_read_back(config, path)
    return config


def write_record(path: Path, record: Any, **header: str) -> None:
    """Write a record dataclass as JSON (atomically), after its schema version and `header` fields."""
    write_json(path, {"schema_version": SCHEMA_VERSION, **header, **dataclasses.asdict(record)})


def read_fields(path: Path) -> dict[str, Any] | None:
    """The fields of a record file at this schema, without `schema_version`; None when there is no file or
    it holds no JSON object (a write that never finished is never renamed into place: see mnist1d.atomic)."""
    try:
        fields = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if not isinstance(fields, dict):
        raise RecordError(path, f"holds a JSON {type(fields).__name__}, not a record")
    schema = fields.pop("schema_version", 0)
    if schema not in range(SCHEMA_VERSION + 1):
        raise RecordError(
            path,
            f"schema_version={schema!r} is not one this mnist1d-lab reads (0 to {SCHEMA_VERSION}): it was "
            "written by a newer version; read it with that version or upgrade",
        )
    return fields


def typed(cls: type[Record], fields: Mapping[str, Any], path: Path) -> Record:
    """`cls` built from a file's fields, refusing unknown fields and missing required ones."""
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise RecordError(path, f"fields {unknown} are not in schema {SCHEMA_VERSION} of a {cls.__name__}")
    required = [
        name
        for name, f in known.items()
        if f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
        and name not in fields
    ]
    if required:
        raise RecordError(path, f"a {cls.__name__} needs the fields {required}")
    return cls(**fields)


def read_record(path: Path, record_type: Callable[[dict[str, Any], Path], type[Record]]) -> Record | None:
    """The record in `path`, of the type `record_type` picks from its fields (and may take header fields
    out of), its config checked by `read_back_config`; None when there is no record."""
    fields = read_fields(path)
    if fields is None:
        return None
    record = typed(record_type(fields, path), fields, path)
    record.config = read_back_config(record.config, path)
    return record


def library_versions() -> dict[str, str]:
    """Installed versions; torch's with its build tag (`+cu121`, `+cpu`), which its metadata may omit."""
    import torch

    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    versions["torch"] = torch.__version__
    return versions


@dataclass(kw_only=True)
class RunRecord:
    """What every kind of results.json holds: what the sweep summary and the reports read.

    Accuracies are fractions in [0, 1]: `final_acc`, `best_acc` and `history` (one dict per evaluation:
    `step` and the logged metrics) are of the evaluation split (`eval_split`), `final_test_acc`,
    `per_class_acc` and `confusion_matrix` (true class by row) of the test split.
    """

    kind: ClassVar[str]
    model: str
    status: str  # STATUS_OK, STATUS_FAILED or STATUS_INTERRUPTED
    error: str | None = None
    seed: int | None = None
    max_steps: int | None = None
    steps: int = 0
    eval_split: str | None = None  # `test` or `val`
    parameters: int | None = None
    accelerator: str | None = None
    final_acc: float | None = None
    best_acc: float | None = None
    final_test_acc: float | None = None
    per_class_acc: list[float | None] | None = None
    confusion_matrix: list[list[int]] | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    wall_time_s: float | None = None
    steps_per_s: float | None = None
    versions: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def completed(self) -> bool:
        """Whether the run finished with an accuracy to report."""
        return self.status == STATUS_OK and self.final_acc is not None


@dataclass(kw_only=True)
class TrainRecord(RunRecord):
    """A training run (train.py), also one that failed or was interrupted."""

    kind: ClassVar[str] = "train"
    fast_dev_run: bool = False
    epochs: float | None = None  # passes over the training split
    fit_time_s: float | None = None
    fit_started_at: float | None = None  # wall-clock time of the first step (time.time())
    cuda_graphs: bool = False  # whether the training step was replayed as a CUDA graph
    # the run directories of the other runs it trained with as one stack (hydra/launcher=stacked), if any
    stacked_with: list[str] | None = None


@dataclass(kw_only=True)
class EvalRecord(RunRecord):
    """A checkpoint scored on the test split of some data (eval.py)."""

    kind: ClassVar[str] = "eval"
    checkpoint: str | None = None
    final_test_loss: float | None = None
    eval_norm: str | None = None  # the BatchNorm statistics it was scored with (model.eval_norm)
    same_data_as_training: bool | None = None  # None: the checkpoint does not record its data
    trained_on: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class HumanRecord(RunRecord):
    """A person's finished test, in a model's fields so that the summary and the reports read it alike."""

    kind: ClassVar[str] = "human"
    name: str | None = None
    accuracy_ci: dict[str, Any] | None = None
    n_questions: int | None = None
    n_correct: int | None = None
    per_class_n: list[int] | None = None
    answers: list[dict[str, Any]] = field(default_factory=list)
    response_time_s: dict[str, float | None] | None = None
    started_at: str | None = None
    finished_at: str | None = None


KINDS: dict[str, type[RunRecord]] = {cls.kind: cls for cls in (TrainRecord, EvalRecord, HumanRecord)}


def run_kind(fields: dict[str, Any], path: Path) -> type[RunRecord]:
    """The type of a results.json, taking its `kind` out of `fields`; a file written before `kind` was
    (schema 0) is a person's, a scored checkpoint's or a training run's by its fields."""
    kind = fields.pop("kind", None)
    if kind is None:
        kind = "human" if fields.get("model") == "human" else "eval" if "checkpoint" in fields else "train"
    if kind not in KINDS:
        raise RecordError(path, f"kind={kind!r} is not one of {list(KINDS)}")
    return KINDS[kind]


def write_run(run_dir: Path, record: RunRecord) -> Path:
    """Write `record` as the results.json of `run_dir` (atomically: whole or not at all)."""
    path = run_dir / RESULTS_FILE
    write_record(path, record, kind=record.kind)
    return path


def read_run(run_dir: Path) -> RunRecord | None:
    """The results.json of `run_dir`, or None when the run has written none (yet)."""
    return read_record(run_dir / RESULTS_FILE, run_kind)


def clear_run(run_dir: Path) -> None:
    """Remove the results.json of `run_dir` before the run trains again, so that no stale status stays. A
    completed run's record, or one this version cannot read, is never lost (a rerun over it may be a
    mistake, e.g. a resume with a changed config): it is renamed to `results.json.replaced` (numbered)."""
    path = run_dir / RESULTS_FILE
    try:
        status = json.loads(path.read_text()).get("status")
    except FileNotFoundError:
        return
    except (OSError, ValueError, AttributeError):  # not a record this version reads: keep it
        status = STATUS_OK
    if status != STATUS_OK:
        path.unlink(missing_ok=True)
        return
    set_aside(path, "replaced")
