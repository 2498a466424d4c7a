"""MNIST-1D: a reference-compatible, vectorised generator plus the lab's experiment code.

Exports every public name of the reference package `mnist1d==0.0.2.post1` (as there, `mnist1d.transform`
is the per-sample `transform` function; `from mnist1d.transform import pad` still reaches the module)
plus our own. Importing the package stays light (numpy only); scipy, matplotlib and torch load on first use.
"""

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
