"""The project's commands, for an installed package as for a checkout: `mnist1d-train`, `mnist1d-eval`,
`mnist1d-sweep` (console scripts), `python -m mnist1d.cli train|eval|sweep ...`, and the root scripts
train.py, eval.py, sweep.py, which call these functions.

Configs come from the package (`pkg://mnist1d.conf`), never from a path beside a script, so every command
runs from any directory (run from a checkout, they are that checkout's conf/: see config/compose.py). Each
command imports its implementation only when run, so a module one command needs cannot break the others, and
only the commands that train or evaluate load Lightning. A refused config (or a full disk) ends a command with
its message and exit status 1, as Hydra's own config errors do
(mnist1d/errors.py); other errors keep their traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import hydra
from omegaconf import DictConfig

from mnist1d.config.compose import TRAIN_CONF, config_path
from mnist1d.errors import ConfigError, DiskFullError, reported_as_message
from mnist1d.extras import MissingExtra, check_arguments
from mnist1d.records import RecordError
from mnist1d.trusted import UntrustedFileError


@hydra.main(config_path=config_path(TRAIN_CONF), config_name="train", version_base="1.3")
def _train(cfg: DictConfig) -> float | None:
    from mnist1d.training.job import run_job

    with reported_as_message(ConfigError, DiskFullError, RecordError, UntrustedFileError):
        return run_job(cfg)


@hydra.main(config_path=config_path(TRAIN_CONF), config_name="eval", version_base="1.3")
def _evaluate(cfg: DictConfig) -> float:
    from mnist1d.training.evaluate import evaluate

    with reported_as_message(ConfigError, DiskFullError, UntrustedFileError):
        return evaluate(cfg)


def register_plugins() -> None:
    """Register the project's Hydra plugins (the Optuna sweeper, the stacked launcher) with Hydra: its scan
    of the `hydra_plugins` namespace misses them in an editable install."""
    from hydra.core.plugins import Plugins

    from hydra_plugins.mnist1d_lab.optuna_sweeper import OptunaSweeper
    from hydra_plugins.mnist1d_lab.stacked_launcher import StackedLauncher

    Plugins.instance().register(OptunaSweeper)
    Plugins.instance().register(StackedLauncher)


def check_extras() -> None:
    """End with one line when a choice on the command line needs an extra that is not installed."""
    try:
        check_arguments(sys.argv[1:])
    except MissingExtra as missing:
        sys.exit(str(missing))


def train() -> None:
    """`mnist1d-train [overrides]`: train one model (a multirun with `-m`); config conf/train/train.yaml."""
    check_extras()
    register_plugins()
    _train()


def evaluate() -> None:
    """`mnist1d-eval ckpt_path=<checkpoint> [overrides]`: score a trained model (conf/train/eval.yaml)."""
    _evaluate()


def sweep() -> None:
    """`mnist1d-sweep [key=value ...]`: run or report a sweep; exits 0 when every job completed, else 1."""
    check_extras()
    from mnist1d.sweeps.launch import main

    sys.exit(main(sys.argv[1:]))


COMMANDS: dict[str, Callable[[], None]] = {"train": train, "eval": evaluate, "sweep": sweep}


def main() -> None:
    """`python -m mnist1d.cli <command> [arguments]`: the commands without console scripts on PATH.

    The command name is taken out of sys.argv, so the command sees its arguments as its script would.
    """
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python -m mnist1d.cli {{{','.join(COMMANDS)}}} [arguments]")
    COMMANDS[sys.argv.pop(1)]()


if __name__ == "__main__":
    main()
