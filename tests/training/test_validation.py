"""Bad input is refused before any work, with a message naming the field, the value and what is allowed."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException

from mnist1d.errors import ConfigError
from mnist1d.training.fit import fit
from tests.helpers import compose_run

BAD_VALUES = [
    (["trainer.max_steps=0"], "trainer.max_steps=0 is invalid: must be an integer in [1, 1000000000], or -1"),
    (["trainer.max_steps=-5"], "trainer.max_steps=-5 is invalid: must be an integer in [1, 1000000000]"),
    (["trainer.max_steps=2.5"], "trainer.max_steps=2.5 is invalid: must be an integer in [1, 1000000000]"),
    (["eval_every=0"], "eval_every=0 is invalid: must be an integer >= 1"),
    (["chunk_steps=0"], "chunk_steps=0 is invalid: must be an integer >= 1"),
    (["trainer.log_every_n_steps=-1"], "trainer.log_every_n_steps=-1 is invalid: must be an integer >= 0"),
    (["compile=yes"], "compile='yes' is invalid: must be true or false"),
    (["trainer.precision=16-mixed"], "trainer.precision='16-mixed' is invalid: must be one of ['32-true',"),
    (["optimizer.lr=0"], "optimizer.lr=0 is invalid: must be a finite number > 0"),
    (["optimizer=sgd", "optimizer.lr=-0.1"], "optimizer.lr=-0.1 is invalid: must be a finite number > 0"),
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
    # numbers that overflow or are not finite (1e400 reads as inf), wherever they are
    (["optimizer.lr=inf"], "optimizer.lr=inf is invalid: must be a finite number > 0"),
    (["optimizer.lr=nan"], "optimizer.lr=nan is invalid: must be a finite number > 0"),
    (["optimizer.lr=1e400"], "optimizer.lr=inf is invalid: must be a finite number > 0"),
    (["optimizer.weight_decay=inf"], "optimizer.weight_decay=inf is invalid: must be a finite number"),
    (["optimizer=sgd", "optimizer.momentum=-inf"], "optimizer.momentum=-inf is invalid: must be a finite"),
    (["data.iid_noise_scale=inf"], "data.iid_noise_scale=inf is invalid: must be a finite number"),
    (["+trainer.gradient_clip_val=inf"], "trainer.gradient_clip_val=inf is invalid: must be a finite number"),
    (
        ["eval_every=100000000000000000000"],
        "eval_every=100000000000000000000 is invalid: must be an integer of",
    ),
    (
        ["trainer.log_every_n_steps=-100000000000000000000"],
        "trainer.log_every_n_steps=-100000000000000000000",
    ),
    (
        ["data.seed=100000000000000000000"],
        "data.seed=100000000000000000000 is invalid: must be an integer of",
    ),
    (
        ["data.num_samples=1000000000000"],
        "num_samples=1000000000000 with final_seq_length=40 need more memory",
    ),
    (["data.final_seq_length=1000000000"], "final_seq_length=1000000000 need more memory to generate than"),
    # the bound on a run's length: max_steps, max_epochs and fast_dev_run
    (["trainer.max_steps=1000000001"], "trainer.max_steps=1000000001 is invalid: must be an integer in [1,"),
    (
        ["trainer.max_steps=-1", "trainer.max_epochs=1000000001"],
        "trainer.max_epochs=1000000001 is invalid: must be an integer in [1, 1000000000], or -1",
    ),
    (
        ["trainer.max_steps=-1", "trainer.max_epochs=100000000"],
        "trainer.max_epochs=100000000 is invalid: 100000000 passes over the training split are 4000000000 "
        "optimizer steps, more than the 1000000000 a run may take",
    ),
    (["+trainer.fast_dev_run=1000000001"], "trainer.fast_dev_run=1000000001 is invalid: must be true, false"),
    # types and ranges of the top-level fields
    (
        ["num_threads=0"],
        "num_threads=0 is invalid: must be null (torch's default) or an integer in [1, 1024]",
    ),
    (["num_threads=-4"], "num_threads=-4 is invalid: must be null (torch's default) or an integer in [1,"),
    (["num_threads=2.5"], "num_threads=2.5 is invalid: must be null (torch's default) or an integer in [1,"),
    (["num_threads=true"], "num_threads=True is invalid: must be null (torch's default) or an integer in"),
    (["num_threads=100000"], "num_threads=100000 is invalid: must be null (torch's default) or an integer"),
    (["seed=[]"], "seed=[] is invalid: must be an integer in [0, 2**32)"),
    (["skip_completed=maybe"], "skip_completed='maybe' is invalid: must be true or false"),
    (
        ["trainer.accelerator=tpu"],
        "trainer.accelerator='tpu' is invalid: must be auto, gpu or one of ['cpu',",
    ),
    (["trainer.accelerator=quantum"], "trainer.accelerator='quantum' is invalid: must be auto, gpu or one"),
    # keys no component reads, arguments a component does not take
    (["+foo=bar"], "foo is not a key of this config (added with +foo=...?): its keys are ['callbacks',"),
    (["++foo=bar"], "foo is not a key of this config (added with +foo=...?)"),
    (["+paths.scratch=/tmp"], "paths.scratch is not a key of this config (added with +paths.scratch=...?)"),
    (["+trainer.max_step=5"], "trainer.max_step is not an argument of pytorch_lightning.Trainer"),
    (["+model.width=5"], "model.width is not an argument of mnist1d.models.logistic.Logistic"),
    (["+optimizer.lrate=0.1"], "optimizer.lrate is not an argument of torch.optim.Adam"),
    (
        ["logger=csv", "+logger.csv.flush=1"],
        "logger.csv.flush is not an argument of pytorch_lightning.loggers",
    ),
    (["+callbacks.last_checkpoint.every=5"], "callbacks.last_checkpoint.every is not an argument of"),
    # paths: the run's name is one directory name, the cache a directory that can be created
    (["run_name=../../x"], "run_name='../../x' is invalid: must be 1-200 characters without '/'"),
    (["run_name="], "run_name='' is invalid: must be 1-200 characters without '/'"),
    (["run_name=" + "x" * 201], "run_name='xxxxxxxx"),
    (["model_name=../../y"], "model_name='../../y' is invalid: must be 1-200 characters without '/'"),
    (["model_name=[x]"], "model_name=['x'] is invalid: must be 1-200 characters without '/'"),
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


def test_a_cache_directory_under_a_file_is_refused(make_cfg, tmp_path):
    (tmp_path / "notes.txt").write_text("a file")
    with pytest.raises(ConfigError) as refused:
        fit(make_cfg(f"data.cache_dir={tmp_path / 'notes.txt' / 'cache'}"))
    allowed = "is invalid: must be a directory, or a path where one can be created"
    assert f"data.cache_dir='{tmp_path / 'notes.txt' / 'cache'}' {allowed}" in str(refused.value)
    assert sorted(tmp_path.iterdir()) == [tmp_path / "notes.txt"]


def test_one_message_per_field(make_cfg):
    """A value that breaks a field's rule and the rule for every number is named once."""
    with pytest.raises(ConfigError) as refused:
        fit(make_cfg("optimizer.lr=inf"))
    assert refused.value.problems == ["optimizer.lr=inf is invalid: must be a finite number > 0"]


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
