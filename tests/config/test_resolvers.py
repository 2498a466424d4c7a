"""What conf/ takes from Python: the generator's defaults (one source, DatasetConfig) and the resolvers."""

from __future__ import annotations

import dataclasses

import pytest
from hydra.utils import instantiate

from mnist1d.config.compose import config_options
from mnist1d.dataset_config import DatasetConfig
from tests.helpers import compose_run


@pytest.mark.parametrize("data", config_options("data"))
def test_every_data_config_carries_every_generator_argument(data, tmp_path, cache_dir):
    cfg = compose_run([f"data={data}"], tmp_path, cache_dir)
    generator_fields = {f.name for f in dataclasses.fields(DatasetConfig) if f.compare}
    assert generator_fields <= set(cfg.data)
    datamodule = instantiate(cfg.data)
    assert datamodule.config == DatasetConfig(**{name: cfg.data[name] for name in generator_fields})


def test_defaults_come_from_dataset_config_and_overrides_reach_it(tmp_path, cache_dir):
    plain = compose_run([], tmp_path, cache_dir)
    assert instantiate(plain.data).config == DatasetConfig()
    cfg = compose_run(
        ["data.num_samples=1000", "data.padding=[10,20]", "data=mnist1d_shuffled"], tmp_path, cache_dir
    )
    config = instantiate(cfg.data).config
    assert (config.num_samples, config.padding, config.shuffle_seq) == (1000, (10, 20), True)


@pytest.mark.parametrize(("fraction", "split"), [(0.0, "test"), (0.1, "val")])
def test_eval_split_resolver_and_datamodule_agree(fraction, split, tmp_path, cache_dir):
    cfg = compose_run([f"data.val_fraction={fraction}"], tmp_path, cache_dir)
    assert cfg.eval_split == instantiate(cfg.data).eval_split == split
