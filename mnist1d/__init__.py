"""MNIST-1D: a reference-compatible, vectorised generator plus the lab's experiment code.

Exports every public name of the reference package `mnist1d==0.0.2.post1` (as there, `mnist1d.transform`
is the per-sample `transform` function; `from mnist1d.transform import pad` still reaches the module)
plus our own. Importing the package stays light (numpy only); scipy, matplotlib and torch load on first use.
The reference's distribution (`pip install mnist1d`) must not be installed beside this one: see
`_warn_if_reference_installed`.
"""

import os
import sys
import warnings

from mnist1d.data import get_dataset, get_dataset_args, get_templates, load_dataset, make_dataset
from mnist1d.dataset_config import DatasetConfig
from mnist1d.transform import transform
from mnist1d.utils import ObjectView, from_pickle, plot_signals, set_seed, to_pickle

__all__ = [
    "DatasetConfig",
    "ObjectView",
    "from_pickle",
    "get_dataset",
    "get_dataset_args",
    "get_templates",
    "load_dataset",
    "make_dataset",
    "plot_signals",
    "set_seed",
    "to_pickle",
    "transform",
]


def _warn_if_reference_installed() -> None:
    """Warn (once, at import) when the reference distribution `mnist1d` is installed too.

    Both distributions install the import package `mnist1d/`, so pip lets their files overwrite each other
    and uninstalling one deletes files of the other; packaging metadata cannot declare the conflict. One
    directory listing per sys.path entry finds its `mnist1d-<version>.dist-info` (ours is `mnist1d_lab-...`)
    without importing importlib.metadata, which would add about a quarter to this import's time.
    """
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:  # a zip file or a missing folder on sys.path
            continue
        found = [n for n in names if n.startswith("mnist1d-") and n.endswith((".dist-info", ".egg-info"))]
        if found:
            warnings.warn(
                f"The reference package mnist1d ({os.path.join(entry, found[0])}) is installed beside "
                "mnist1d-lab, which provides its API under the same import name: their files overwrite each "
                "other. Fix: `pip uninstall mnist1d`, then reinstall mnist1d-lab "
                "(`pip install --force-reinstall --no-deps <its wheel or checkout>`) to restore the files "
                "both share.",
                stacklevel=2,
            )
            return


_warn_if_reference_installed()
