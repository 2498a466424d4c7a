"""The config `python train.py <overrides>` runs, composed outside a Hydra app (tests, benchmark, sweeps)."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from hydra import compose, initialize_config_module
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

# The configs are the package `mnist1d.conf`: the repository's top-level conf/ (mapped by pyproject.toml),
# found through the import system, so an editable checkout and an installed wheel are located the same way.
CONF_MODULE = "mnist1d.conf"
# The same, as a Hydra search path (`@hydra.main(config_path=CONFIG_PATH)`).
CONFIG_PATH = f"pkg://{CONF_MODULE}"
# Its folder on disk (conf/ of a checkout, site-packages/mnist1d/conf of a wheel), for code that reads files.
CONF_DIR = Path(str(resources.files(CONF_MODULE)))


def compose_train(overrides: Sequence[str]) -> DictConfig:
    """Compose conf/train.yaml with every default, as train.py would.

    Hydra's runtime values (`${hydra:runtime.choices.model}` in run names) are made resolvable by
    registering the composed Hydra config, then the `hydra` node itself is dropped, as in a job's config.
    """
    with initialize_config_module(config_module=CONF_MODULE, version_base="1.3"):
        cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg.hydra
    return cfg


def config_options(group: str) -> list[str]:
    """The options of a config group, e.g. every model (conf/model/*.yaml): the one list of them."""
    folder = resources.files(CONF_MODULE).joinpath(group)
    return sorted(item.name.removesuffix(".yaml") for item in folder.iterdir() if item.name.endswith(".yaml"))
