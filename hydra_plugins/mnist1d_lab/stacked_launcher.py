"""The stacked launcher (mnist1d/training/stacked/launcher.py) under the name Hydra accepts for a plugin.

Hydra instantiates launchers only from the `hydra_plugins` namespace package. It finds this module by
scanning that namespace in an installed wheel; an editable install hides it from the scan, so the commands
register it themselves too (mnist1d/cli.py)."""

from mnist1d.training.stacked import launcher


class StackedLauncher(launcher.StackedLauncher):
    pass
