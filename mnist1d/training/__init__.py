"""One training run: config -> DataModule + Classifier -> Lightning Trainer -> results.json.

Importing the package registers what conf/ takes from Python (see `registry`), before any config is composed.
"""

from mnist1d.training import registry  # noqa: F401
