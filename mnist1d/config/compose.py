"""Where the configs are, and the configs the commands run, composed outside a Hydra app (tests, benchmark,
sweeps)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from hydra import compose, initialize_config_module
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

import mnist1d
from mnist1d.config import resolvers  # noqa: F401 - registers what the configs take from Python

# The configs are the package `mnist1d.conf`: the repository's top-level conf/ (mapped by pyproject.toml),
# found through the import system, so an editable checkout and an installed wheel are located the same way.
# One tree per entry point, so that each command's --help lists only what it can use.
CONF_MODULE = "mnist1d.conf"


def _use_the_checkouts_conf() -> None:
    """Run from a checkout (`python train.py`, `python -m mnist1d.cli` there), the code is the checkout's, so
    the configs are too: `mnist1d.conf` is imported from the conf/ beside the package. Otherwise, with two
    checkouts sharing one venv, the editable install's mapping would give the other checkout's configs. An
    installed package (no pyproject.toml beside it) keeps its packaged copy."""
    root = Path(mnist1d.__file__).resolve().parent.parent
    conf = root / "conf"
    in_checkout = (conf / "__init__.py").is_file() and (root / "pyproject.toml").is_file()
    if CONF_MODULE in sys.modules or not in_checkout:
        return
    spec = importlib.util.spec_from_file_location(
        CONF_MODULE, conf / "__init__.py", submodule_search_locations=[str(conf)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[CONF_MODULE] = mnist1d.conf = module
    spec.loader.exec_module(module)


_use_the_checkouts_conf()
TRAIN_CONF = f"{CONF_MODULE}.train"  # train.py and eval.py: train.yaml, eval.yaml and their groups
SWEEP_CONF = f"{CONF_MODULE}.sweeps"  # sweep.py: sweep.yaml and the sweep kinds
APPS_CONF = f"{CONF_MODULE}.apps"  # the apps' root configs; their groups come from TRAIN_CONF
# conf/ on disk (of a checkout, or site-packages/mnist1d/conf of a wheel), for code that reads files.
CONF_DIR = Path(str(resources.files(CONF_MODULE)))


def config_path(module: str) -> str:
    """A config package as a Hydra search path: `@hydra.main(config_path=config_path(TRAIN_CONF))`."""
    return f"pkg://{module}"


def compose_config(module: str, name: str, overrides: Sequence[str]) -> DictConfig:
    """Compose config `name` of the tree `module` with every default, as its command would.

    Hydra's runtime values (`${hydra:runtime.choices.model}` in run names) are made resolvable by
    registering the composed Hydra config, then the `hydra` node itself is dropped, as in a job's config.
    """
    with initialize_config_module(config_module=module, version_base="1.3"):
        cfg = compose(name, overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg.hydra
    return cfg


def compose_train(overrides: Sequence[str]) -> DictConfig:
    """The config `python train.py <overrides>` runs (conf/train/train.yaml)."""
    return compose_config(TRAIN_CONF, "train", overrides)


def config_options(group: str, module: str = TRAIN_CONF) -> list[str]:
    """The options of a config group, e.g. every model (conf/train/model/*.yaml): the one list of them."""
    folder = resources.files(module).joinpath(group)
    return sorted(item.name.removesuffix(".yaml") for item in folder.iterdir() if item.name.endswith(".yaml"))


def root_keys(module: str, name: str) -> set[str]:
    """The top-level keys of root config `name` of the tree `module`: its own, one per config group of its
    defaults list (the package each fills), and those that options of its `_global_` groups add (e.g.
    `resume` of hparams_search=optuna). A composed config's other top-level keys came from the command line
    (`+key=value`), and no component reads them."""
    root = OmegaConf.load(resources.files(module).joinpath(f"{name}.yaml"))
    entries = [
        str(entry) if isinstance(entry, str) else next(iter(entry)) for entry in root.get("defaults", [])
    ]
    entries = [entry.removeprefix("override ").strip("/") for entry in entries]
    packages = {entry.split("@")[-1].split("/")[0] for entry in entries}
    keys = set(root) | packages | global_keys(module, [entry.split("@")[0] for entry in entries])
    for entry in entries:  # a whole root config merged in place (an app's `/train@_here_`): its keys too
        group, _, package = entry.partition("@")
        if package == "_here_":
            home = module if resources.files(module).joinpath(f"{group}.yaml").is_file() else TRAIN_CONF
            keys |= root_keys(home, group)
    return keys - {"defaults", "hydra", "_self_", "_here_"}


def global_keys(module: str, groups: Sequence[str]) -> set[str]:
    """The top-level keys that the options of `groups` set when they are `# @package _global_` configs."""
    keys: set[str] = set()
    for group in groups:
        folder = resources.files(module).joinpath(group)
        if not folder.is_dir():
            continue
        for option in folder.iterdir():
            if option.name.endswith(".yaml") and option.read_text().startswith("# @package _global_"):
                keys |= set(OmegaConf.load(option))
    return keys
