"""What a sweep runs: every sweep kind composes into valid jobs, and launcher options compose with their
launcher."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.utils import get_method

from mnist1d.config.compose import SWEEP_CONF, compose_train, config_options
from mnist1d.sweeps.spec import build_spec, compose_sweep


@pytest.mark.parametrize("name", config_options("sweep", SWEEP_CONF))
def test_sweep_kinds_compose_into_valid_jobs(name: str) -> None:
    spec = build_spec(compose_sweep([f"sweep={name}"]), [])
    assert spec.report_fn.startswith("mnist1d.reports.") and callable(get_method(spec.report_fn))
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
