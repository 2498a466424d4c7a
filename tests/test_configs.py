"""Every preset (conf/train/experiment/) and every option of every train config group composes into a run that
validation accepts: a new yaml is covered without editing a list."""

from __future__ import annotations

import pytest

from mnist1d.config.compose import CONF_DIR, compose_train, config_options
from mnist1d.errors import ConfigError
from mnist1d.reports.common import published
from mnist1d.sweeps.spec import build_spec, compose_sweep
from mnist1d.training.validation import accelerator_available, validate
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


# Every protocol choice of each paper's preset, per model: (data.order, model.eval_norm, protocol.accuracy,
# trainer.max_steps, eval_every). Beebe et al.'s TCN loop scores in eval mode, their other loop never does.
PROTOCOLS = {
    "beebe": {
        **dict.fromkeys(("tcn", "tcn_trained", "tcn_dilated"), ("cyclic", "running", "final", 10000, 250)),
        **dict.fromkeys(("resnet", "dcnn", "cnn", "gru"), ("cyclic", "batch", "final", 10000, 250)),
    },
    "greydanus_kobak": dict.fromkeys(
        ("logistic", "mlp", "cnn", "gru", "resnet"), ("cyclic", "batch", "best", 6000, 250)
    ),
    "pooling": {"pool_cnn": ("cyclic", "batch", "final", 6000, 100)},
}
OURS = ("shuffled", "running", "final", 6000, 250)


def choices(cfg) -> tuple:
    return (cfg.data.order, cfg.model.eval_norm, cfg.protocol.accuracy, cfg.trainer.max_steps, cfg.eval_every)


@pytest.mark.parametrize(("preset", "model"), [(p, m) for p, models in PROTOCOLS.items() for m in models])
def test_paper_presets_select_every_protocol_choice(preset, model, tmp_path, cache_dir):
    cfg = compose_run([f"experiment={preset}", f"model={model}"], tmp_path, cache_dir)
    assert choices(cfg) == PROTOCOLS[preset][model]
    assert cfg.protocol.name == ("greydanus_kobak" if preset == "pooling" else preset)
    ours = compose_run([f"model={model}"], tmp_path, cache_dir)  # our defaults stay what train.py does
    assert choices(ours) == OURS and ours.protocol.name == "ours"


def test_beebe_tcn_is_their_network_and_pooling_their_l2(tmp_path, cache_dir):
    tcn = compose_run(["experiment=beebe", "model=tcn"], tmp_path, cache_dir).model
    assert (tcn.dilation_base, tcn.projection, tcn.kernel_size, tcn.dropout) == (
        1,
        "random_per_call",
        3,
        0.01,
    )
    assert compose_run(["experiment=pooling"], tmp_path, cache_dir).data.train_size == 1000


def test_presets_read_accuracy_as_the_published_numbers_do():
    """One truth: the presets' `protocol.accuracy` is the reading published_results.json records."""
    sections = {"beebe": "beebe_et_al_runs", "greydanus_kobak": "original_paper_table", "pooling": "pooling"}
    for preset, section in sections.items():
        cfg = compose_train([f"experiment={preset}"])
        assert cfg.protocol.accuracy == published(section)["accuracy"], preset


@pytest.mark.parametrize(
    ("sweep", "preset"), [("study", "beebe"), ("shuffle", "greydanus_kobak"), ("pooling", "pooling")]
)
def test_paper_sweeps_run_under_the_papers_protocols_with_ten_seeds(sweep, preset):
    spec = build_spec(compose_sweep([f"sweep={sweep}"]), [])
    assert f"experiment={preset}" in spec.fixed
    assert spec.axes["seed"] == [str(seed) for seed in range(10)]


def test_every_logger_keeps_the_csv_log_composed_from_its_one_file(tmp_path, cache_dir):
    """A logger config names `csv` in its defaults list instead of copying the CSV block (a new logger is
    one file); the first logger stays the one it names, Lightning's `trainer.logger`."""
    for option in config_options("logger"):
        loggers = list(compose_run([f"logger={option}"], tmp_path, cache_dir).logger)
        assert loggers == ([option, "csv"] if option != "csv" else ["csv"])
    files = (CONF_DIR / "train" / "logger").glob("*.yaml")
    assert [path.name for path in files if "CSVLogger" in path.read_text()] == ["csv.yaml"]
