"""Every preset (conf/train/experiment/) and every option of every train config group composes into a run that
validation accepts: a new yaml is covered without editing a list."""

from __future__ import annotations

import pytest

from mnist1d.training.compose import config_options
from mnist1d.training.validation import ConfigError, accelerator_available, validate
from tests.helpers import compose_run

GROUPS = ("data", "model", "optimizer", "scheduler", "trainer", "callbacks", "logger", "experiment")


@pytest.mark.parametrize(
    "override", [f"{group}={option}" for group in GROUPS for option in config_options(group)]
)
def test_config_option_composes_into_a_valid_run(override, tmp_path, cache_dir):
    cfg = compose_run([override], tmp_path, cache_dir)
    if not accelerator_available(cfg.trainer.accelerator):  # trainer=gpu on a machine without one
        with pytest.raises(ConfigError, match=f"trainer.accelerator='{cfg.trainer.accelerator}' is invalid"):
            validate(cfg)
        return
    validate(cfg)
