"""Bad input is refused before any work, with a message naming the field, the value and what is allowed."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException

from mnist1d.errors import ConfigError
from mnist1d.training.fit import fit
from tests.helpers import compose_run

BAD_VALUES = [
    (["trainer.max_steps=0"], "trainer.max_steps=0 is invalid: must be an integer >= 1"),
    (["trainer.max_steps=-5"], "trainer.max_steps=-5 is invalid: must be an integer >= 1"),
    (["trainer.max_steps=2.5"], "trainer.max_steps=2.5 is invalid: must be an integer >= 1"),
    (["eval_every=0"], "eval_every=0 is invalid: must be an integer >= 1"),
    (["chunk_steps=0"], "chunk_steps=0 is invalid: must be an integer >= 1"),
    (["trainer.log_every_n_steps=-1"], "trainer.log_every_n_steps=-1 is invalid: must be an integer >= 0"),
    (["compile=yes"], "compile='yes' is invalid: must be true or false"),
    (["trainer.precision=16-mixed"], "trainer.precision='16-mixed' is invalid: must be one of ['32-true',"),
    (["optimizer.lr=0"], "optimizer.lr=0 is invalid: must be a number > 0"),
    (["optimizer=sgd", "optimizer.lr=-0.1"], "optimizer.lr=-0.1 is invalid: must be a number > 0"),
    (["seed=-1"], "seed=-1 is invalid: must be an integer in [0, 2**32)"),
    (["data.batch_size=0"], "data.batch_size=0 is invalid: must be in [1, 4000]"),
    (["data.batch_size=4001"], "data.batch_size=4001 is invalid: must be in [1, 4000]"),
    (
        ["data.val_fraction=0.5", "data.batch_size=2001"],
        "data.batch_size=2001 is invalid: must be in [1, 2000]",
    ),
    (["data.eval_train_split=maybe"], "data.eval_train_split='maybe' is invalid: must be true or false"),
    (["data.train_split=1.5"], "train_split=1.5 is invalid: must be a number in the open interval (0, 1)"),
    (
        ["data.padding=[60,36]"],
        "padding=(60, 36) is invalid: must be a pair [low, high] with 0 <= low <= high",
    ),
    (["data.template_len=1"], "template_len=1 is invalid: must be an integer >= 2"),
    (["data.final_seq_length=1"], "final_seq_length=1 is invalid: must be an integer >= 2"),
    (
        ["model=cnn", "data.final_seq_length=2"],
        "data.final_seq_length=2 is invalid for model=cnn: must be >= 3",
    ),
    (["optimizer=sgd", "optimizer.momentum=-1"], "Invalid momentum value: -1"),
    (
        ["ckpt_path=/no/such/last.ckpt"],
        "ckpt_path='/no/such/last.ckpt' is invalid: must be null or a readable",
    ),
    (
        ["logger=wandb", "logger.wandb.mode=loud"],
        "logger.wandb.mode='loud' is invalid: must be one of ['auto',",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "message"), BAD_VALUES, ids=lambda v: " ".join(v) if isinstance(v, list) else ""
)
def test_bad_value_is_refused_before_any_work(overrides, message, make_cfg, tmp_path, cache_dir):
    cached_before = sorted(cache_dir.iterdir())
    with pytest.raises(ConfigError) as refused:
        fit(make_cfg("model=logistic", *overrides))
    assert message in str(refused.value)
    assert not (tmp_path / "run").exists()  # no results.json, checkpoint or log written
    assert sorted(cache_dir.iterdir()) == cached_before  # no dataset generated


def test_every_bad_field_is_reported_at_once(make_cfg):
    with pytest.raises(ConfigError) as refused:
        fit(make_cfg("trainer.max_steps=0", "eval_every=-1", "optimizer.lr=0"))
    assert sorted(p.split("=")[0] for p in refused.value.problems) == [
        "eval_every",
        "optimizer.lr",
        "trainer.max_steps",
    ]


@pytest.mark.slow
def test_each_architecture_runs_at_its_shortest_length(make_cfg):
    """The lengths the validation accepts do train: only cnn needs more than the generator's minimum of 2."""
    for model in ["logistic", "mlp", "gru", "resnet", "tcn", "dcnn"]:
        fit(make_cfg(f"model={model}", "data.final_seq_length=2", "trainer.max_steps=1", run=model))
    fit(make_cfg("model=cnn", "data.final_seq_length=3", "trainer.max_steps=1", run="cnn"))


def test_unreadable_checkpoint_is_refused(make_cfg, tmp_path):
    not_a_checkpoint = tmp_path / "notes.ckpt"
    not_a_checkpoint.write_text("not a checkpoint")
    with pytest.raises(ConfigError) as refused:
        fit(make_cfg(f"ckpt_path={not_a_checkpoint}"))
    assert f"ckpt_path='{not_a_checkpoint}' is invalid: must be null or a readable" in str(refused.value)


@pytest.mark.parametrize(
    ("override", "group", "choices"),
    [
        ("model=transformer", "model", ["cnn", "gru", "logistic", "mlp", "resnet", "tcn", "dcnn"]),
        ("data=mnist2d", "data", ["mnist1d", "mnist1d_shuffled"]),
        ("logger=mlflow", "logger", ["csv", "tensorboard", "wandb"]),
        ("optimizer=adamw", "optimizer", ["adam", "sgd"]),
    ],
)
def test_unknown_component_name_lists_the_choices(override, group, choices, tmp_path, cache_dir):
    with pytest.raises(ConfigCompositionException) as refused:
        compose_run([override], tmp_path / "run", cache_dir)
    message = str(refused.value)
    assert f"Could not find '{group}/{override.split('=')[1]}'" in message
    assert f"Available options in '{group}'" in message
    assert all(f"\t{choice}\n" in message + "\n" for choice in choices)
