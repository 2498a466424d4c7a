"""The project's Optuna sweeper (mnist1d/sweeps/optuna_sweeper.py) under the name Hydra accepts for a plugin.

Hydra instantiates sweepers only from the `hydra_plugins` namespace package. It finds this module by scanning
that namespace in an installed wheel; an editable install hides it from the scan, so the commands register it
themselves too (mnist1d/cli.py)."""

from mnist1d.sweeps import optuna_sweeper


class OptunaSweeper(optuna_sweeper.OptunaSweeper):
    pass
