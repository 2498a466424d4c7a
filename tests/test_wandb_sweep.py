"""docs/wandb_sweep.yaml: every value W&B can sample, with the fixed arguments, is a valid train.py run."""

from __future__ import annotations

import pytest
import yaml

from mnist1d.training.validation import validate
from tests.helpers import ROOT, compose_run

SWEEP = yaml.safe_load((ROOT / "docs" / "wandb_sweep.yaml").read_text())


def sampled_values(spec: dict) -> list:
    """The extremes W&B may draw for a parameter (its listed values, or its min and max)."""
    return spec["values"] if "values" in spec else [spec["min"], spec["max"]]


def fixed_arguments() -> list[str]:
    """The command's own train.py arguments (W&B fills in the `${...}` macros)."""
    return [argument for argument in SWEEP["command"] if not argument.startswith("${")]


def test_the_sweep_runs_train_py_and_maximises_a_logged_validation_metric():
    assert (ROOT / SWEEP["program"]).is_file() and "${args_no_hyphens}" in SWEEP["command"]
    assert SWEEP["metric"]["name"] == "val/acc" and "data.val_fraction=0.1" in fixed_arguments()


@pytest.mark.parametrize(
    "override",
    [f"{key}={value}" for key, spec in SWEEP["parameters"].items() for value in sampled_values(spec)],
)
def test_every_sampled_value_composes_into_a_valid_run(override, tmp_path, cache_dir):
    validate(compose_run([*fixed_arguments(), override], tmp_path, cache_dir))
