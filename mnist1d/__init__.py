"""MNIST-1D: a reference-compatible, vectorised generator plus the lab's experiment code.

Importing the package stays light (numpy only); scipy and torch load on first use.
"""

from mnist1d.config import DatasetConfig
from mnist1d.data import get_dataset, get_dataset_args, get_templates, load_dataset, make_dataset

__all__ = [
    "DatasetConfig",
    "get_dataset",
    "get_dataset_args",
    "get_templates",
    "load_dataset",
    "make_dataset",
]
