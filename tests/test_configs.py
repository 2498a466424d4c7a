"""Every preset (conf/train/experiment/) and every option of every train config group composes into a run that
validation accepts: a new yaml is covered without editing a list."""

from __future__ import annotations

import pytest

from mnist1d.config.compose import CONF_DIR, config_options
from mnist1d.training.validation import validate
from tests.helpers import compose_run

GROUPS = ("data", "model", "optimizer", "scheduler", "trainer", "callbacks", "logger", "experiment")


@pytest.mark.parametrize(
    "override", [f"{group}={option}" for group in GROUPS for option in config_options(group)]
)
def test_config_option_composes_into_a_valid_run(override, tmp_path, cache_dir):
    validate(compose_run([override], tmp_path, cache_dir))


def test_every_logger_keeps_the_csv_log_composed_from_its_one_file(tmp_path, cache_dir):
    """A logger config names `csv` in its defaults list instead of copying the CSV block (a new logger is
    one file); the first logger stays the one it names, Lightning's `trainer.logger`."""
    for option in config_options("logger"):
        loggers = list(compose_run([f"logger={option}"], tmp_path, cache_dir).logger)
        assert loggers == ([option, "csv"] if option != "csv" else ["csv"])
    files = (CONF_DIR / "train" / "logger").glob("*.yaml")
    assert [path.name for path in files if "CSVLogger" in path.read_text()] == ["csv.yaml"]
