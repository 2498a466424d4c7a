"""Optional features and the extra (`pip install 'mnist1d-lab[<extra>]'`) that installs each.

The core install is what `python train.py` needs; hyperparameter search, SLURM, TensorBoard, the dataset
figures' classifiers and the browser test come with extras (pyproject.toml). A feature whose extra is missing
ends its command with one line naming the extra, not an ImportError from deep inside a library.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from hydra.errors import CompactHydraException

# module -> the extra that installs it
EXTRAS = {
    "optuna": "optuna",
    "hydra_plugins.hydra_submitit_launcher": "slurm",
    "tensorboard": "tensorboard",
    "sklearn": "science",
    "selenium": "browser",
}
# A command-line choice (`key=value`, the value's start) -> the module it needs.
CHOICES = {
    ("hparams_search", "optuna"): "optuna",
    ("logger", "tensorboard"): "tensorboard",
    ("hydra/launcher", "submitit"): "hydra_plugins.hydra_submitit_launcher",  # train.py -m
    ("launcher", "submitit"): "hydra_plugins.hydra_submitit_launcher",  # sweep.py
}


class MissingExtra(CompactHydraException):
    """A feature's optional dependency is not installed. Hydra prints such an error as its message alone."""

    def __init__(self, feature: str, module: str) -> None:
        name, extra = module.rsplit(".", 1)[-1], EXTRAS[module]
        super().__init__(f"{feature} needs {name}, not installed: pip install 'mnist1d-lab[{extra}]'")


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module set to None in sys.modules
        return False


def require(module: str, feature: str) -> None:
    """Raise `MissingExtra` for `feature` unless `module` (a key of EXTRAS) can be imported."""
    if not installed(module):
        raise MissingExtra(feature, module)


def check_arguments(arguments: Sequence[str]) -> None:
    """Refuse command-line choices (`hparams_search=optuna`, `logger=csv,tensorboard`, ...) whose extra is
    missing, before the command composes a config or starts any work."""
    for argument in arguments:
        key, _, values = argument.lstrip("+~").partition("=")
        for value in values.split(","):
            for (choice_key, choice), module in CHOICES.items():
                if key == choice_key and value.startswith(choice):
                    require(module, f"{key}={value}")
