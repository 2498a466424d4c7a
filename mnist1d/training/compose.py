"""The config `python train.py <overrides>` runs, composed outside a Hydra app (tests, benchmark, sweeps)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def compose_train(overrides: Sequence[str]) -> DictConfig:
    """Compose conf/train.yaml with every default, as train.py would.

    Hydra's runtime values (`${hydra:runtime.choices.model}` in run names) are made resolvable by
    registering the composed Hydra config, then the `hydra` node itself is dropped, as in a job's config.
    """
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg.hydra
    return cfg


def config_options(group: str) -> list[str]:
    """The options of a config group, e.g. every model (conf/model/*.yaml): the one list of them."""
    return sorted(path.stem for path in (CONF_DIR / group).glob("*.yaml"))
